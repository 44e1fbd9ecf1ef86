"""Find registered model versions: ``NAME@vN`` (or ``NAME`` for the latest active one) → a row."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from stockade.core.errors import StockadeError
from stockade.core.references import parse_versioned_name
from stockade.storage.model_tables import ModelVersion


class ModelNotFound(StockadeError):
    exit_code = 2


def _known(session: Session) -> str:
    rows = session.execute(
        select(ModelVersion.name, ModelVersion.version, ModelVersion.status).order_by(
            ModelVersion.name, ModelVersion.version
        )
    ).all()
    listed = [
        f"{name}@v{version}" + (" (removed)" if status != "active" else "") for name, version, status in rows
    ]
    return ", ".join(listed[-12:]) or "none yet"


def find_model_version(session: Session, reference: str) -> ModelVersion:
    """The row of ``NAME@vN`` (any status), or of ``NAME``'s latest active version."""
    name, version = parse_versioned_name(reference, what="model reference")
    query = select(ModelVersion).where(ModelVersion.name == name)
    if version is None:
        query = query.where(ModelVersion.status == "active").order_by(ModelVersion.version.desc())
    else:
        query = query.where(ModelVersion.version == version)
    row = session.scalars(query.limit(1)).first()
    if row is None:
        raise ModelNotFound(
            f"no model version {reference!r}",
            fix=f"see `stockade model list` (registered: {_known(session)}); "
            "register one with `stockade model import PATH --name NAME`",
        )
    return row


def resolve_model_version(session: Session, reference: str) -> ModelVersion:
    """An *active* model version; removed ones are refused, naming what exists."""
    row = find_model_version(session, reference)
    if row.status != "active":
        raise ModelNotFound(
            f"{row.name}@v{row.version} was removed and cannot be used",
            fix=f"use an active version (registered: {_known(session)})",
        )
    return row


def model_path(workspace_root: Path, row: ModelVersion) -> Path:
    """The version's folder (``row.path`` is relative to the workspace; absolute for in-place imports)."""
    return workspace_root / row.path


def next_version_number(session: Session, name: str) -> int:
    current = session.scalar(select(func.max(ModelVersion.version)).where(ModelVersion.name == name))
    return (current or 0) + 1


def find_by_manifest(session: Session, manifest_sha256: str, name: str | None = None) -> ModelVersion | None:
    """The newest active version (of ``name``, if given) whose files hash to ``manifest_sha256``."""
    query = select(ModelVersion).where(
        ModelVersion.manifest_sha256 == manifest_sha256, ModelVersion.status == "active"
    )
    if name is not None:
        query = query.where(ModelVersion.name == name)
    return session.scalars(query.order_by(ModelVersion.created_at.desc()).limit(1)).first()
