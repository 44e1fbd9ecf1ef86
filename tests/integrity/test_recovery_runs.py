"""What a killed training run leaves, cleared on the next open (issue 14, item 3): a run folder whose row was
never written, and the checkpoint it was writing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from stockade.storage.staging import host_tag
from stockade.storage.tables import AuditRecord
from tests.conftest import add_running_run


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _owned_folder(workspace: Path, run_id: str, pid: int) -> Path:
    folder = workspace / "runs" / run_id
    folder.mkdir(parents=True)
    (folder / "process.json").write_text(json.dumps({"host": host_tag(), "pid": pid}))
    (folder / "spec.yaml").write_text("model: m\n")
    return folder


def _details(workspace: Path, action: str) -> list[tuple[str | None, dict]]:
    from stockade.workspace.service import open_workspace

    with open_workspace(workspace) as context, Session(context.engine) as session:
        rows = session.scalars(select(AuditRecord).where(AuditRecord.action == action)).all()
        return [(row.target, json.loads(row.details)) for row in rows]


def test_a_run_folder_without_its_row_is_removed_once_its_process_is_gone(workspace_dir: Path) -> None:
    from stockade.workspace.doctor import run_doctor
    from stockade.workspace.service import open_workspace

    dead = _owned_folder(workspace_dir, "run-dead", _dead_pid())
    alive = _owned_folder(workspace_dir, "run-alive", os.getpid())  # being recorded right now: kept
    unknown = workspace_dir / "runs" / "run-unknown"  # no process.json: reported, left to --repair
    unknown.mkdir()
    with open_workspace(workspace_dir):
        pass
    assert not dead.exists() and alive.exists() and unknown.exists()
    ((_, removed),) = _details(workspace_dir, "recovery.orphan_removed")
    assert removed == {"count": 1, "paths": ["runs/run-dead"]}
    (check,) = [c for c in run_doctor(workspace_dir) if c.name == "crash leftovers"]
    assert "runs/run-unknown" in check.detail and "runs/run-alive" not in check.detail


def _running(workspace: Path, run_id: str, pid: int) -> Path:
    add_running_run(workspace, run_id)
    return _owned_folder(workspace, run_id, pid)


def _checkpoint(folder: Path, step: str, marker: str) -> None:
    folder.mkdir(parents=True)
    (folder / "checkpoint.json").write_text(json.dumps({"step": step, "which": marker}))


def test_the_checkpoint_a_killed_run_was_writing_is_settled(workspace_dir: Path) -> None:
    from stockade.workspace.service import open_workspace

    run = _running(workspace_dir, "run-killed", _dead_pid())
    checkpoints = run / "checkpoints"
    _checkpoint(checkpoints / "step-2", "2", "whole")
    _checkpoint(checkpoints / ".tmp-step-3", "3", "half written")  # killed while writing: removed
    _checkpoint(checkpoints / ".old-step-4", "4", "older")  # killed between the two renames that
    _checkpoint(checkpoints / ".tmp-step-4", "4", "newer, whole")  # replace step-4: the newer one is kept
    with open_workspace(workspace_dir):
        pass
    assert sorted(p.name for p in checkpoints.iterdir()) == ["step-2", "step-4"]
    assert json.loads((checkpoints / "step-4" / "checkpoint.json").read_text())["which"] == "newer, whole"
    ((target, details),) = _details(workspace_dir, "recovery.run_interrupted")
    assert target == "run-killed"
    assert details["checkpoints"] == {"completed": ["step-4"], "removed": [".old-step-4", ".tmp-step-3"]}
