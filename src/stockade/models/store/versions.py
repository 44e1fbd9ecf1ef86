"""Model version rows and folders: the view services return, staging folders, and registration.

A version's files are written into ``models/NAME/.staging-*`` first and renamed to ``models/NAME/vN`` in
the transaction that inserts its row and audit event, so a crash leaves no half-registered version.
"""

from __future__ import annotations

import json
import os
import shutil
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from stockade.audit.log import utc_now
from stockade.core.errors import StockadeError
from stockade.core.hashing import canonical_json
from stockade.core.ids import new_id
from stockade.models.store.manifest import Manifest
from stockade.models.store.resolve import next_version_number
from stockade.storage.model_tables import ModelVersion
from stockade.storage.staging import commit_marker, crash_window, make_staging_folder

STAGING_PREFIX = ".staging-"


@dataclass(frozen=True)
class ModelView:
    """A model version as services and commands show it."""

    id: str
    name: str
    version: int
    kind: str
    status: str
    stage: str
    created_at: str
    created_by: str
    path: str
    architecture: str
    template: str | None
    manifest_sha256: str
    manifest: dict[str, Any]
    lineage: dict[str, Any]
    tags: list[str]

    @property
    def ref(self) -> str:
        return f"{self.name}@v{self.version}"

    @classmethod
    def of(cls, row: ModelVersion) -> ModelView:
        return cls(
            id=row.id,
            name=row.name,
            version=row.version,
            kind=row.kind,
            status=row.status,
            stage=row.stage,
            created_at=row.created_at,
            created_by=row.created_by,
            path=row.path,
            architecture=row.architecture,
            template=row.template,
            manifest_sha256=row.manifest_sha256,
            manifest=json.loads(row.manifest),
            lineage=json.loads(row.lineage),
            tags=json.loads(row.tags or "[]"),
        )

    def as_dict(self) -> dict[str, Any]:
        return {"ref": self.ref, **self.__dict__}


def new_staging_folder(models_root: Path, name: str) -> Path:
    """``models/NAME/.staging-HOST-PID-xxxx`` (0700): removed by the next workspace open if this process
    dies before the version is committed."""
    return make_staging_folder(models_root / name, STAGING_PREFIX)


@dataclass
class NewVersion:
    """What :func:`register_version` inserts (everything but the number, chosen in the transaction)."""

    name: str
    kind: str
    architecture: str
    template: str | None
    manifest: Manifest
    lineage: dict[str, Any]
    tags: list[str]


def commit_version(
    context: Any,
    new: NewVersion,
    *,
    staged: Path | None,
    in_place: Path | None = None,
    action: str,
    **details: Any,
) -> ModelView:
    """Insert the row and its audit event in one transaction, moving ``staged`` to ``models/NAME/vN``
    (or registering ``in_place`` where it is). On any failure the staged or moved folder is removed."""
    root = context.workspace.root
    moved: Path | None = None
    try:
        with ExitStack() as marked, Session(context.engine) as session, session.begin():
            version = next_version_number(session, new.name)
            if staged is not None:
                final = staged.parent / f"v{version}"
                if final.exists():
                    raise StockadeError(
                        f"the folder for {new.name}@v{version} already exists but is not registered",
                        where=str(final),
                        fix="`stockade doctor --repair` removes folders left by an interrupted import or "
                        "export; a folder copied there by hand: move it out of the models folder",
                    )
                # until the row is committed, a marker says this process is placing vN (orphan if it dies)
                marked.enter_context(commit_marker(staged.parent, version))
                marked.callback(crash_window, "model.commit")  # after the commit, before the marker goes
                os.rename(staged, final)  # atomic on one file system
                moved, path = final, final.relative_to(root).as_posix()
                crash_window("model.rename")
            elif in_place is not None:
                path = str(in_place.resolve())
            else:
                raise ValueError("a version needs a folder")
            row = ModelVersion(
                id=new_id("mv-"),
                name=new.name,
                version=version,
                created_at=utc_now(),
                created_by=context.actor.name,
                kind=new.kind,
                path=path,
                architecture=new.architecture,
                template=new.template,
                manifest_sha256=new.manifest.sha256,
                manifest=canonical_json(new.manifest.as_dict()),
                lineage=canonical_json(new.lineage),
                tags=canonical_json(new.tags),
                stage="draft",
                status="active",
            )
            session.add(row)
            session.flush()
            context.record(
                action,
                f"{new.name}@v{version}",
                session=session,
                kind=new.kind,
                manifest_sha256=new.manifest.sha256,
                files=len(new.manifest.files),
                bytes=new.manifest.total_bytes,
                **details,
            )
            view = ModelView.of(row)
    except BaseException:
        discard(staged)
        discard(moved)
        raise
    return view


def discard(folder: Path | None) -> None:
    if folder is not None and folder.exists():
        shutil.rmtree(folder, ignore_errors=True)
