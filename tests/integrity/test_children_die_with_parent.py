"""Training ranks die with their launcher (issue 14, item 4): torchrun starts its workers in sessions of
their own, so without PR_SET_PDEATHSIG a launcher killed with kill -9 leaves them running (holding GPUs
and the run's files)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from stockade.storage.staging import pid_alive
from tests.conftest import REPO

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG and /proc are Linux's"
)

RANK = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    from stockade.training import distributed
    dist = distributed.from_environment()
    distributed.setup(dist, 60)  # what `stockade train` does first under a launcher
    Path(sys.argv[1], f"rank-{dist.rank}").write_text(str(os.getpid()))
    time.sleep(120)
    """
)


def _clean_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("RANK", "WORLD_SIZE", "LOCAL_RANK", "TORCHELASTIC", "MASTER_"))
    }
    env.update({"OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO / "src"), **extra})
    return env


def _wait_for(folder: Path, count: int, parent: subprocess.Popen, seconds: float = 90) -> list[int]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = sorted(folder.glob("rank-*"))
        if len(found) == count and all(p.read_text() for p in found):
            return [int(p.read_text()) for p in found]
        assert parent.poll() is None, "the launcher ended before its workers were ready"
        time.sleep(0.2)
    raise AssertionError(f"{count} workers never became ready")


def _gone_within(pids: list[int], seconds: float) -> list[int]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and any(pid_alive(pid) for pid in pids):
        time.sleep(0.1)
    return [pid for pid in pids if pid_alive(pid)]


def _kill_all(pids: list[int]) -> None:
    for pid in pids:
        if pid_alive(pid):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.slow
def test_torchrun_workers_die_when_the_launcher_is_killed(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from stockade.training.ddp_check import free_port

    script = tmp_path / "rank.py"
    script.write_text(RANK, encoding="utf-8")
    launcher = subprocess.Popen(
        [
            sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
            "--master_addr", "127.0.0.1", "--master_port", str(free_port()), str(script), str(tmp_path),
        ],
        env=_clean_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    ranks: list[int] = []
    try:
        ranks = _wait_for(tmp_path, 2, launcher)
        launcher.send_signal(signal.SIGKILL)
        launcher.wait()
        assert _gone_within(ranks, 5) == [], "training ranks outlived their killed launcher"
    finally:
        launcher.kill()
        launcher.wait()
        _kill_all(ranks)


CHILD = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    from stockade.training import distributed
    armed = distributed.bind_to_launcher()
    Path(sys.argv[1], "armed").write_text(str(armed))
    Path(sys.argv[1], "rank-0").write_text(f"{os.getpid()}")
    time.sleep(60)
    """
)
PARENT = textwrap.dedent(
    """
    import subprocess, sys, time
    subprocess.Popen([sys.executable, "-c", sys.argv[1], sys.argv[2]], start_new_session=True)
    time.sleep(60)
    """
)


@pytest.mark.parametrize("launched", [True, False], ids=["under-a-launcher", "started-by-hand"])
def test_a_process_dies_with_its_launcher_only_when_launched(tmp_path: Path, launched: bool) -> None:
    env = _clean_env(**({"LOCAL_RANK": "0"} if launched else {}))
    parent = subprocess.Popen([sys.executable, "-c", PARENT, CHILD, str(tmp_path)], env=env)
    children: list[int] = []
    try:
        children = _wait_for(tmp_path, 1, parent)
        assert (tmp_path / "armed").read_text() == str(launched)
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        if launched:
            assert _gone_within(children, 5) == [], "the worker outlived its killed launcher"
        else:  # `nohup stockade train` outlives its shell: nothing is armed outside a launcher
            time.sleep(1)
            assert _gone_within(children, 0) == children
    finally:
        parent.kill()
        parent.wait()
        _kill_all(children)
