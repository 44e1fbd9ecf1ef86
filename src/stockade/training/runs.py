"""Run records: the ``training_runs`` rows and their folders ``runs/<run id>/``."""

from __future__ import annotations

import json
import os
import secrets
import shutil
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from stockade.audit.log import utc_now
from stockade.core.errors import StockadeError
from stockade.storage.tables import TrainingRun

REMOVABLE = ("checkpoints", "adapter", "model")  # weights; spec, lineage and metrics stay
PROCESS_FILE = "process.json"  # which process on which host runs it (workspace.recovery reads it)


class RunNotFound(StockadeError):
    exit_code = 2


def new_run_id() -> str:
    """``run-YYYYMMDD-HHMMSS-xxxx`` (UTC): sortable, readable, unique."""
    return f"run-{datetime.now(timezone.utc):%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


@dataclass(frozen=True)
class RunView:
    id: str
    status: str
    created_at: str
    finished_at: str | None
    created_by: str
    reason: str | None
    base_model: str
    base_manifest_sha256: str
    datasets: list[dict[str, Any]]
    spec: dict[str, Any]
    environment: dict[str, Any]
    summary: dict[str, Any]
    path: str

    @classmethod
    def of(cls, row: TrainingRun) -> RunView:
        return cls(
            id=row.id,
            status=row.status,
            created_at=row.created_at,
            finished_at=row.finished_at,
            created_by=row.created_by,
            reason=row.reason,
            base_model=row.base_model,
            base_manifest_sha256=row.base_manifest_sha256,
            datasets=json.loads(row.datasets),
            spec=json.loads(row.spec),
            environment=json.loads(row.environment),
            summary=json.loads(row.summary),
            path=row.path,
        )

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def record_process(run_dir: Path) -> None:
    """Write ``runs/ID/process.json``: this process owns the run while it is ``running``; if it dies, the
    next workspace open marks the run failed (``interrupted``)."""
    from stockade.storage.staging import host_tag

    (run_dir / PROCESS_FILE).write_text(
        json.dumps({"host": host_tag(), "pid": os.getpid()}), encoding="utf-8"
    )


def get_run(session: Session, run_id: str) -> TrainingRun:
    row = session.get(TrainingRun, run_id)
    if row is None:
        known = session.scalars(select(TrainingRun.id).order_by(TrainingRun.id.desc()).limit(5)).all()
        raise RunNotFound(
            f"no run {run_id!r}", fix=f"see `stockade runs list` (latest: {', '.join(known) or 'none'})"
        )
    return row


def list_runs(engine: Any) -> list[RunView]:
    with Session(engine) as session:
        return [RunView.of(row) for row in session.scalars(select(TrainingRun).order_by(TrainingRun.id))]


def show_run(engine: Any, run_id: str) -> RunView:
    with Session(engine) as session:
        return RunView.of(get_run(session, run_id))


def remove_run(context: Any, run_id: str, workspace_root: Path, *, reason: str | None = None) -> RunView:
    """Delete a finished run's weights and checkpoints; keep its spec, lineage, metrics and audit records."""
    with Session(context.engine) as session, session.begin():
        row = get_run(session, run_id)
        if row.status == "running":
            raise StockadeError(f"{run_id} is running", fix="wait for it to end (or stop it) first")
        if row.status == "removed":
            raise StockadeError(f"{run_id} was already removed")
        folder = workspace_root / row.path
        removed = [name for name in REMOVABLE if (folder / name).exists()]
        row.status, row.finished_at = "removed", row.finished_at or utc_now()
        context.record("train.remove", run_id, session=session, reason=reason, removed=removed)
        for name in removed:
            shutil.rmtree(folder / name, ignore_errors=True)
        return RunView.of(row)
