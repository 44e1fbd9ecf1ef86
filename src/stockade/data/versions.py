"""The dataset version store: rows in ``dataset_versions`` and folders ``datasets/NAME/vN/``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from stockade.core.errors import StockadeError
from stockade.core.references import parse_versioned_name
from stockade.storage.tables import DatasetVersion

DATA_FILE = "data.jsonl"
MANIFEST_FILE = "manifest.json"


class DatasetNotFound(StockadeError):
    exit_code = 2


@dataclass(frozen=True)
class VersionView:
    """A dataset version as services and commands show it."""

    name: str
    version: int
    status: str
    created_at: str
    created_by: str
    rows: int
    content_sha256: str
    path: str
    sources: list[dict[str, Any]]
    stats: dict[str, Any]
    provenance: dict[str, Any]
    privacy: dict[str, Any]
    removed_at: str | None

    @property
    def ref(self) -> str:
        return f"{self.name}@v{self.version}"

    @classmethod
    def of(cls, row: DatasetVersion) -> VersionView:
        return cls(
            name=row.name,
            version=row.version,
            status=row.status,
            created_at=row.created_at,
            created_by=row.created_by,
            rows=row.rows,
            content_sha256=row.content_sha256,
            path=row.path,
            sources=json.loads(row.sources),
            stats=json.loads(row.stats),
            provenance=json.loads(row.provenance),
            privacy=json.loads(row.privacy),
            removed_at=row.removed_at,
        )

    def as_dict(self) -> dict[str, Any]:
        return {"ref": self.ref, **self.__dict__}


def latest_active(session: Session, name: str) -> DatasetVersion | None:
    query = (
        select(DatasetVersion)
        .where(DatasetVersion.name == name, DatasetVersion.status == "active")
        .order_by(DatasetVersion.version.desc())
        .limit(1)
    )
    return session.scalars(query).first()


def next_version_number(session: Session, name: str) -> int:
    current = session.scalar(select(func.max(DatasetVersion.version)).where(DatasetVersion.name == name))
    return (current or 0) + 1


def find_version(session: Session, reference: str) -> DatasetVersion:
    """``NAME@vN``, or ``NAME`` for its latest active version."""
    name, version = parse_versioned_name(reference, what="dataset reference")
    if version is None:
        row = latest_active(session, name)
    else:
        query = select(DatasetVersion).where(DatasetVersion.name == name, DatasetVersion.version == version)
        row = session.scalars(query).first()
    if row is None:
        known = sorted(set(session.scalars(select(DatasetVersion.name))))
        raise DatasetNotFound(
            f"no dataset version {reference!r}",
            fix=f"see `stockade data list` (datasets: {', '.join(known) or 'none yet'})",
        )
    return row


def all_versions(session: Session, name: str | None = None) -> list[DatasetVersion]:
    query = select(DatasetVersion).order_by(DatasetVersion.name, DatasetVersion.version)
    if name:
        query = query.where(DatasetVersion.name == name)
    return list(session.scalars(query))


def version_folder(datasets_root: Path, name: str, version: int) -> Path:
    return datasets_root / name / f"v{version}"
