"""Model-store tables: registered model versions and their evaluation reports (migration 0004)."""

from __future__ import annotations

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from stockade.storage.database import Base


class ModelVersion(Base):
    """One immutable model version ``NAME@vN``: its files' manifest, where it came from, its stage."""

    __tablename__ = "model_versions"
    __table_args__ = (UniqueConstraint("name", "version", name="uq_model_versions_name_version"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), index=True)
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[str] = mapped_column(String(40))
    created_by: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))  # base | merged | adapter
    path: Mapped[str] = mapped_column(Text)  # relative to the workspace
    architecture: Mapped[str] = mapped_column(String(100))
    template: Mapped[str | None] = mapped_column(String(100))  # the suggested chat template
    manifest_sha256: Mapped[str] = mapped_column(String(64), index=True)
    manifest: Mapped[str] = mapped_column(Text)  # JSON: {files: [{path, sha256, bytes}], ...}
    lineage: Mapped[str] = mapped_column(Text)  # JSON: source, base version, run, dataset versions
    tags: Mapped[str] = mapped_column(Text, default="[]")  # JSON list
    stage: Mapped[str] = mapped_column(String(20), default="draft")  # only governance changes it
    status: Mapped[str] = mapped_column(String(20), index=True)  # active | removed


class EvalReport(Base):
    """One evaluation report of a model version on a dataset version, optionally against a baseline."""

    __tablename__ = "eval_reports"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    model_version_id: Mapped[str] = mapped_column(String(64), ForeignKey("model_versions.id"), index=True)
    dataset: Mapped[str] = mapped_column(String(200))  # NAME@vN
    baseline_version_id: Mapped[str | None] = mapped_column(String(64), ForeignKey("model_versions.id"))
    created_at: Mapped[str] = mapped_column(String(40))
    created_by: Mapped[str] = mapped_column(String(200))
    path: Mapped[str] = mapped_column(Text)  # the report JSON, relative to the workspace
    sha256: Mapped[str] = mapped_column(String(64))
    summary: Mapped[str] = mapped_column(Text)  # JSON: the headline metrics
