"""Durability (a writer killed with SIGKILL mid-write leaves a log that verifies) and export."""

from __future__ import annotations

import csv
import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from stockade.audit import verify_chain
from stockade.audit.checkpoints import CheckpointVerifier
from stockade.core.errors import StockadeError
from stockade.workspace.service import open_workspace
from tests.conftest import run_cli

WRITER = """
import sys
from pathlib import Path
from stockade.workspace.service import open_workspace
context = open_workspace(Path(sys.argv[1]))
context.audit.checkpoint_every = 7
index = 0
while True:
    context.record("crash.test", f"target-{index}", index=index, payload="x" * 2000)
    index += 1
    print(index, flush=True)
"""


def _killed_writer(root: Path, at_least: int) -> int:
    process = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(root)],
        stdout=subprocess.PIPE,
        text=True,
        stderr=subprocess.DEVNULL,
    )
    assert process.stdout is not None
    written = 0
    deadline = time.monotonic() + 60
    while written < at_least and time.monotonic() < deadline:
        written = int(process.stdout.readline() or 0)
    os.kill(process.pid, signal.SIGKILL)  # in the middle of the next append
    process.wait()
    return written


def test_sigkill_while_writing_leaves_a_verifiable_log(workspace_dir: Path) -> None:
    written = _killed_writer(workspace_dir, 30)
    assert written >= 30
    with open_workspace(workspace_dir) as context:
        result = verify_chain(context.audit, CheckpointVerifier.for_workspace(workspace_dir))
        assert result.ok, result.problem
        assert result.checked >= 3 + written and result.checkpoints >= 4
        context.record("after.crash", "still appends")  # the chain goes on after the crash
        assert verify_chain(context.audit).ok


def _fill(root: Path) -> tuple[str, str]:
    with open_workspace(root) as context:
        context.record(
            "api.chat",
            "fin@v1",
            model_version="fin@v1",
            prompt_tokens=12,
            completion_tokens=30,
            latency_ms=85,
        )
        middle = context.audit.tail(1)[0].ts
        time.sleep(0.01)
        context.record("model.approve", "fin@v1", reason="checked")
        last = context.audit.tail(1)[0].ts
    return middle, last


def test_export_jsonl_and_csv_between_times(workspace_dir: Path, tmp_path: Path) -> None:
    middle, last = _fill(workspace_dir)
    out = tmp_path / "all.jsonl"
    done = run_cli("-w", str(workspace_dir), "audit", "export", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["seq"] for r in records] == [1, 2, 3, 4, 5] and records[3]["details"]["prompt_tokens"] == 12
    window = tmp_path / "window.csv"
    assert run_cli("-w", str(workspace_dir), "audit", "export", "--out", str(window), "--format", "csv",
                   "--since", middle, "--until", last).returncode == 0  # fmt: skip
    rows = list(csv.DictReader(window.open(encoding="utf-8")))
    assert [(r["seq"], r["action"], r["model_version"], r["latency_ms"]) for r in rows] == [
        ("4", "api.chat", "fin@v1", "85")
    ]
    tail = run_cli("-w", str(workspace_dir), "audit", "tail", "--json", "-n", "2")
    exported = [json.loads(line) for line in tail.stdout.splitlines()]
    assert [e["action"] for e in exported] == ["audit.export", "audit.export"]
    assert exported[-1]["details"]["records"] == 1


def test_export_refuses_to_overwrite_and_bad_times(workspace_dir: Path, tmp_path: Path) -> None:
    from stockade.audit.export import export_records

    out = tmp_path / "x.jsonl"
    out.write_text("keep me")
    with open_workspace(workspace_dir) as context:
        with pytest.raises(StockadeError, match="exists"):
            export_records(context.audit, context, out)
        with pytest.raises(StockadeError, match="not a date"):
            export_records(context.audit, context, tmp_path / "y.jsonl", since="last tuesday")
    assert out.read_text() == "keep me"


def test_no_command_deletes_audit_records() -> None:
    """No product path deletes or updates audit records: the only writes are inserts (and the head)."""
    source = Path(__file__).resolve().parents[2] / "src" / "stockade"
    offenders = [
        str(path.relative_to(source))
        for path in source.rglob("*.py")
        for text in [path.read_text(encoding="utf-8").lower()]
        if any(
            pattern in text
            for pattern in (
                "delete from audit_records",
                "update audit_records",
                "delete(auditrecord",
                "update(auditrecord",
            )
        )
    ]
    assert offenders == []
