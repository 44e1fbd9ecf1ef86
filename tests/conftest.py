"""Test-wide fixtures. The offline guard is active in the test process itself, so no test can
send a packet to a non-loopback address by accident."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from stockade.core import offline

offline.activate()

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
LLAMAFACTORY_CONFIGS = SHARED / "fixtures" / "llamafactory-configs"
LLAMAFACTORY_DATA = SHARED / "fixtures" / "llamafactory-data"


def run_cli(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: int = 120
) -> subprocess.CompletedProcess[str]:
    """Run `python -m stockade ARGS` in a subprocess, the way a user runs it."""
    full_env = {k: v for k, v in os.environ.items() if k != "STOCKADE_HOME"}
    full_env.update({"COLUMNS": "200", "PYTHONIOENCODING": "utf-8"})
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "stockade", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def workspace_dir(tmp_path: Path) -> Path:
    """A fresh, initialised workspace."""
    from stockade.workspace.service import initialize_workspace

    root = tmp_path / "ws"
    initialize_workspace(root)
    return root
