"""Orphans after a crash (issue 14, item 5): a kill between the rename and the commit of a model or dataset
version, or of a training run before its first checkpoint, never blocks later work."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from stockade.storage.staging import host_tag
from stockade.storage.tables import AuditRecord
from tests.conftest import REPO, add_running_run, run_cli

SAMPLES = REPO / "src/stockade/data/samples/finance_qa_zh.json"


def _fake_model(folder: Path) -> Path:
    """Enough of a model folder for the store's checks (no torch): config, one F32 tensor, tokenizer."""
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "qwen2", "architectures": ["Qwen2"]}))
    header = json.dumps({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}).encode()
    (folder / "model.safetensors").write_bytes(struct.pack("<Q", len(header)) + header + b"\0" * 8)
    (folder / "tokenizer.json").write_text("{}")
    return folder


def _killed_during_commit(workspace: Path, body: str) -> None:
    """Run ``body`` in a process that dies by SIGKILL right after the version folder is put in place."""
    script = textwrap.dedent(
        """
        import os, signal
        from pathlib import Path
        from stockade.workspace.service import open_workspace

        def die(*_args, **_kwargs):
            os.kill(os.getpid(), signal.SIGKILL)

        context = open_workspace(Path(WORKSPACE))
        """
    ).replace("WORKSPACE", repr(str(workspace)))
    done = subprocess.run([sys.executable, "-c", script + textwrap.dedent(body)], check=False, cwd=REPO)
    assert done.returncode == -9, "the process was meant to die in the commit window"


def _actions(workspace: Path, action: str) -> list[tuple[str | None, dict]]:
    from stockade.workspace.service import open_workspace

    with open_workspace(workspace) as context, Session(context.engine) as session:
        rows = session.scalars(select(AuditRecord).where(AuditRecord.action == action)).all()
        return [(row.target, json.loads(row.details)) for row in rows]


def test_a_model_import_killed_between_rename_and_commit_does_not_block_the_next(
    workspace_dir: Path, tmp_path: Path
) -> None:
    from stockade.models.store.service import import_model
    from stockade.workspace.service import open_workspace

    source = _fake_model(tmp_path / "model")
    _killed_during_commit(
        workspace_dir,
        f"""
        import stockade.models.store.versions as versions
        from stockade.models.store.service import import_model
        real = versions.os.rename
        versions.os = type("os", (), {{"rename": staticmethod(lambda a, b: (real(a, b), die()))}})
        import_model(context, Path({str(source)!r}), "fin")
        """,
    )
    names = sorted(p.name for p in (workspace_dir / "models" / "fin").iterdir())
    assert "v1" in names and any(n.startswith(".commit-v1-") for n in names)
    with open_workspace(workspace_dir) as context:
        assert import_model(context, source, "fin").view.ref == "fin@v1"
    assert sorted(p.name for p in (workspace_dir / "models" / "fin").iterdir()) == ["v1"]
    ((_, details),) = _actions(workspace_dir, "recovery.orphan_removed")
    assert details == {"count": 1, "paths": ["models/fin/v1"]}


def test_a_dataset_import_killed_between_placing_and_commit_does_not_block_the_next(
    workspace_dir: Path,
) -> None:
    from tests.models.store_setup import import_dataset

    _killed_during_commit(
        workspace_dir,
        f"""
        import stockade.data.importer as importer
        real = importer._place_files
        importer._place_files = lambda *args: (real(*args), die())
        from tests.models.store_setup import import_dataset
        import_dataset(context, Path({str(workspace_dir.parent)!r}), "fin", rows=2)
        """,
    )
    assert (workspace_dir / "datasets" / "fin" / "v1" / "data.jsonl").is_file()
    from stockade.workspace.service import open_workspace

    with open_workspace(workspace_dir) as context:
        assert import_dataset(context, workspace_dir.parent, "fin", rows=2) == "fin@v1"
    ((_, details),) = _actions(workspace_dir, "recovery.orphan_removed")
    assert details["paths"] == ["datasets/fin/v1"]


def _running_run(workspace: Path, run_id: str, pid: int) -> None:
    add_running_run(workspace, run_id)  # the row first: an open finding the folder without one removes it
    folder = workspace / "runs" / run_id
    folder.mkdir(parents=True)
    (folder / "process.json").write_text(json.dumps({"host": host_tag(), "pid": pid}))


def test_a_run_whose_process_is_gone_is_marked_interrupted_and_can_be_removed(workspace_dir: Path) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    _running_run(workspace_dir, "run-killed", gone.pid)  # recovery runs on this open too: see below
    _running_run(workspace_dir, "run-alive", os.getpid())
    listed = run_cli("-w", str(workspace_dir), "runs", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    status = {run["id"]: (run["status"], run["reason"]) for run in json.loads(listed.stdout)}
    assert status == {"run-killed": ("failed", "interrupted"), "run-alive": ("running", None)}
    assert [t for t, _ in _actions(workspace_dir, "recovery.run_interrupted")] == ["run-killed"]
    removed = run_cli("-w", str(workspace_dir), "runs", "rm", "run-killed")
    assert removed.returncode == 0, removed.stderr


def test_training_records_its_process(tmp_path: Path) -> None:
    from stockade.training.runs import PROCESS_FILE, record_process

    record_process(tmp_path)
    assert json.loads((tmp_path / PROCESS_FILE).read_text()) == {"host": host_tag(), "pid": os.getpid()}
