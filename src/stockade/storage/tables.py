"""Tables. Every schema change comes with an Alembic migration under migrations/versions."""

from __future__ import annotations

from sqlalchemy import BigInteger, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from stockade.storage.database import Base


class AuditRecord(Base):
    """One append-only audit record; ``hash`` covers every other column and ``prev_hash``."""

    __tablename__ = "audit_records"

    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    ts: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(200))
    role: Mapped[str | None] = mapped_column(String(200))
    source: Mapped[str | None] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(100), index=True)
    target: Mapped[str | None] = mapped_column(Text)
    result: Mapped[str] = mapped_column(String(20))
    request_id: Mapped[str | None] = mapped_column(String(64), index=True)
    reason: Mapped[str | None] = mapped_column(Text)
    details: Mapped[str] = mapped_column(Text)  # canonical JSON
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """A single row: the last record's number and hash. Appends lock it, so the chain stays linear."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    hash: Mapped[str] = mapped_column(String(64))


class DatasetVersion(Base):
    """One immutable version ``name@vN`` of a dataset: hashes, counts, statistics and provenance."""

    __tablename__ = "dataset_versions"
    __table_args__ = (UniqueConstraint("name", "version", name="uq_dataset_versions_name_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), index=True)
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[str] = mapped_column(String(40))
    created_by: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20))  # active | removed
    content_sha256: Mapped[str] = mapped_column(String(64), index=True)
    rows: Mapped[int] = mapped_column(Integer)
    path: Mapped[str] = mapped_column(Text)  # relative to the workspace
    sources: Mapped[str] = mapped_column(Text)  # JSON: [{path, sha256, bytes}]
    stats: Mapped[str] = mapped_column(Text)  # JSON
    provenance: Mapped[str] = mapped_column(Text)  # JSON
    privacy: Mapped[str] = mapped_column(Text)  # JSON: the gate's verdict
    removed_at: Mapped[str | None] = mapped_column(String(40))


class TrainingRun(Base):
    """One training run: who trained what on which data, how it went, where its files are."""

    __tablename__ = "training_runs"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[str] = mapped_column(String(40))
    finished_at: Mapped[str | None] = mapped_column(String(40))
    created_by: Mapped[str] = mapped_column(String(200))
    # running | succeeded | failed | interrupted | removed
    status: Mapped[str] = mapped_column(String(20), index=True)
    reason: Mapped[str | None] = mapped_column(Text)
    base_model: Mapped[str] = mapped_column(Text)
    base_manifest_sha256: Mapped[str] = mapped_column(String(64))
    datasets: Mapped[str] = mapped_column(Text)  # JSON: [{ref, content_sha256, rows, privacy}]
    spec: Mapped[str] = mapped_column(Text)  # JSON: the resolved TrainSpec
    environment: Mapped[str] = mapped_column(Text)  # JSON: library versions, device
    summary: Mapped[str] = mapped_column(Text)  # JSON: final loss, steps, tokens, seconds
    path: Mapped[str] = mapped_column(Text)  # run folder, relative to the workspace
