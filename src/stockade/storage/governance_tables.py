"""Governance tables (migration 0005): users, login sessions, model-version transitions and
approvals, and the signed audit checkpoints."""

from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from stockade.storage.database import Base


class User(Base):
    """A person or API client. Never deleted (the audit log names them); disabled instead."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(Text)  # argon2id, never the password
    roles: Mapped[str] = mapped_column(Text)  # JSON list of role names
    status: Mapped[str] = mapped_column(String(20))  # active | disabled
    created_at: Mapped[str] = mapped_column(String(40))
    created_by: Mapped[str] = mapped_column(String(200))
    password_changed_at: Mapped[str] = mapped_column(String(40))


class UserSession(Base):
    """A CLI login: only the SHA-256 of its token is stored; the token lives in a 0600 file."""

    __tablename__ = "user_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64), ForeignKey("users.id"), index=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[str] = mapped_column(String(40))
    expires_at: Mapped[str] = mapped_column(String(40))
    ended_at: Mapped[str | None] = mapped_column(String(40))
    source: Mapped[str | None] = mapped_column(String(200))


class ModelTransition(Base):
    """One step of a model version's lifecycle (draft → submitted → approved/rejected → ...)."""

    __tablename__ = "model_transitions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    model_version_id: Mapped[str] = mapped_column(String(64), ForeignKey("model_versions.id"), index=True)
    from_stage: Mapped[str] = mapped_column(String(20))
    to_stage: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(200))
    role: Mapped[str | None] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    eval_report_id: Mapped[str | None] = mapped_column(String(64), ForeignKey("eval_reports.id"))
    request_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[str] = mapped_column(String(40))


class ModelApproval(Base):
    """One reviewer's approval of one submission; a submission needs N distinct approvers."""

    __tablename__ = "model_approvals"
    __table_args__ = (UniqueConstraint("submission_id", "approver", name="uq_model_approvals_submission"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    model_version_id: Mapped[str] = mapped_column(String(64), ForeignKey("model_versions.id"), index=True)
    submission_id: Mapped[int] = mapped_column(Integer, ForeignKey("model_transitions.id"))
    approver: Mapped[str] = mapped_column(String(200))
    role: Mapped[str | None] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[str] = mapped_column(String(40))


class AuditCheckpoint(Base):
    """A signature (Ed25519, workspace key) over the audit chain's head at record ``seq``."""

    __tablename__ = "audit_checkpoints"

    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    hash: Mapped[str] = mapped_column(String(64))
    ts: Mapped[str] = mapped_column(String(40))
    key_id: Mapped[str] = mapped_column(String(64))  # SHA-256 of the raw public key
    signature: Mapped[str] = mapped_column(Text)  # base64
