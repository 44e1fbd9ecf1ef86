"""No raw data left by a killed import; privacy workers die with their parent (issue 14, items 2 and 4)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from stockade.storage.staging import host_tag, pid_alive
from stockade.storage.tables import AuditRecord
from tests.conftest import REPO, run_cli

SAMPLES = json.loads((REPO / "src/stockade/data/samples/finance_qa_zh.json").read_text(encoding="utf-8"))


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _audit(root: Path, action: str) -> list[dict]:
    from stockade.workspace.service import open_workspace

    with open_workspace(root) as context, Session(context.engine) as session:
        rows = session.scalars(select(AuditRecord).where(AuditRecord.action == action)).all()
        return [json.loads(row.details) for row in rows]


class _SpyGate:
    """The real gate, noting the modes of what is staged before it runs."""

    def __init__(self, inner) -> None:
        self.inner, self.modes = inner, {}

    def inspect(self, staged, *, dataset: str):
        for path in (staged.path, staged.path.parent, staged.path.parent.parent):
            self.modes[path.name] = path.stat().st_mode & 0o777
        return self.inner.inspect(staged, dataset=dataset)


def test_raw_records_are_staged_private(workspace_dir: Path, tmp_path: Path) -> None:
    from stockade.data.imports import plan_imports, run_imports
    from stockade.privacy.policy import load_policy
    from stockade.privacy.service import import_gate
    from stockade.workspace.service import open_workspace

    data = tmp_path / "fin.json"
    data.write_text(json.dumps(SAMPLES[:4], ensure_ascii=False), encoding="utf-8")
    with open_workspace(workspace_dir) as context:
        plans = plan_imports(
            path=data, name="fin", formatting="auto", encoding="utf-8", dataset_dir=None, datasets=None
        )
        gate = _SpyGate(import_gate(context.privacy_key(), load_policy(None, mode=None)))
        run_imports(
            context, plans, gate=gate, allow_reason=None, skip_invalid=False, max_problems=5, tokenizer=None
        )
    staging_name = next(name for name in gate.modes if name.startswith("import-"))
    assert gate.modes == {"records.sealed": 0o600, staging_name: 0o700, ".staging": 0o700}
    assert staging_name.startswith(f"import-{host_tag()}-{os.getpid()}-")
    assert list((workspace_dir / "datasets" / ".staging").iterdir()) == []


def test_a_killed_import_leaves_raw_data_that_the_next_open_removes(workspace_dir: Path) -> None:
    from stockade.workspace.service import open_workspace

    staging = workspace_dir / "datasets" / ".staging"
    killed = subprocess.run(  # a process that stages raw records and dies by kill -9, as in the report
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import os, signal
                from pathlib import Path
                from stockade.storage.staging import make_staging_folder, open_private
                folder = make_staging_folder(Path({str(staging)!r}), "import-")
                with open_private(folder / "data.jsonl") as out:
                    out.write('{{"id_number": "110101199003074258"}}\\n')
                os.kill(os.getpid(), signal.SIGKILL)
                """
            ),
        ],
        check=False,
    )
    assert killed.returncode == -signal.SIGKILL
    (leftover,) = staging.iterdir()
    assert (leftover / "data.jsonl").stat().st_mode & 0o777 == 0o600
    mine = staging / f"import-{host_tag()}-{os.getpid()}-0000"  # a live process's staging stays
    mine.mkdir()
    legacy = staging / "import-01hxyz"  # an older Stockade's: reported, removed by doctor --repair
    legacy.mkdir()
    with open_workspace(workspace_dir):
        pass
    assert sorted(p.name for p in staging.iterdir()) == sorted([mine.name, legacy.name])
    (removed,) = _audit(workspace_dir, "recovery.staging_removed")
    assert removed == {"count": 1, "paths": [leftover.relative_to(workspace_dir).as_posix()]}
    assert "110101199003074258" not in json.dumps(removed)
    mine.rmdir()

    from stockade.workspace.doctor import run_doctor

    (check,) = [c for c in run_doctor(workspace_dir) if c.name == "crash leftovers"]
    assert check.status == "warn" and "import-01hxyz" in check.detail and "--repair" in check.fix
    repaired = run_cli("-w", str(workspace_dir), "doctor", "--repair")
    assert "repaired: 1 staging folder(s)" in repaired.stdout, repaired.stdout + repaired.stderr
    assert not legacy.exists()
    (check,) = [c for c in run_doctor(workspace_dir) if c.name == "crash leftovers"]
    assert check.status == "pass"


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG and /proc are Linux's")
def test_privacy_workers_die_with_their_parent(tmp_path: Path) -> None:
    source = tmp_path / "records.jsonl"
    line = json.dumps({"messages": [{"role": "user", "content": "身份证 110101199003074258 " * 20}]})
    source.write_text((line + "\n") * 20_000, encoding="utf-8")
    script = textwrap.dedent(
        f"""
        from pathlib import Path
        from stockade.privacy.engine import PrivacyEngine
        from stockade.privacy.files import process_file
        from stockade.privacy.policy import load_policy
        engine = PrivacyEngine(load_policy(None, mode=None), b"k" * 32)
        for _ in range(100):
            process_file("records", Path({str(source)!r}), engine, output=Path({str(tmp_path / "out")!r}),
                         workers=2)
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.monotonic() + 60
        workers: list[int] = []
        while time.monotonic() < deadline and len(workers) < 2:
            time.sleep(0.2)
            workers = _children(parent.pid)
            assert parent.poll() is None, "the desensitize ended before its workers were seen"
        assert len(workers) >= 2
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(pid_alive(pid) for pid in workers):
            time.sleep(0.1)
        assert not [pid for pid in workers if pid_alive(pid)], "workers outlived their killed parent"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
