"""scripts/guide-walkthrough.sh walks the deployment guide in Stockade's words and passes: every step
runs, the saved configs/finance_cfg.yaml is reused from the workspace, the guide's curl body gets an
answer over loopback, and nothing unexpected reaches stderr (issue 15)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from stockade.training.ddp_check import free_port
from tests.conftest import REPO

SCRIPT = REPO / "scripts" / "guide-walkthrough.sh"


def _walk(tmp_path: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("STOCKADE_HOME", "STOCKADE_SESSION")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.update({"WALK_DIR": str(tmp_path / "walk"), "WALK_PORT": str(free_port()), **extra})
    return subprocess.run(
        ["bash", str(SCRIPT)], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=900, check=False
    )


@pytest.mark.slow
def test_the_deployment_guide_walks_through_cleanly(tmp_path: Path) -> None:
    result = _walk(tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert result.stderr == ""  # the script keeps the commands' stderr for its own check
    out = result.stdout
    assert "Walk-through finished" in out
    workspace = tmp_path / "walk" / "stockade-workspace"
    saved = workspace / "configs" / "finance_cfg.yaml"
    config = yaml.safe_load(saved.read_text())  # the web UI's settings, saved in the workspace and reused
    assert (config["model"], config["num_train_epochs"], config["per_device_train_batch_size"]) == (
        "Qwen-7B@v1",
        3,
        4,
    )
    assert "finance-qwen@v1: submitted → approved" in out  # bob, in his own session
    assert '{"generated_text":' in out  # the guide's curl body, answered
    assert "stockade token issue" in out  # the token-less curl says how to get a token
    stderr_log = (tmp_path / "walk" / "stderr.log").read_text()
    assert "as alice (roles: trainer)" in stderr_log and "as bob (roles: reviewer)" in stderr_log


@pytest.mark.slow
def test_unexpected_stderr_fails_the_walk(tmp_path: Path) -> None:
    """The stderr check can fail: a `stockade` that warns on stderr (a wrapper first on PATH) stops the
    walk at its end with the offending line; the first step is enough to show it."""
    wrapper = tmp_path / "bin" / "stockade"
    wrapper.parent.mkdir()
    real = Path(sys.executable).parent / "stockade"
    wrapper.write_text(f'#!/usr/bin/env bash\necho "UserWarning: something odd" >&2\nexec "{real}" "$@"\n')
    wrapper.chmod(0o755)
    env_path = (
        f"{wrapper.parent}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    )
    result = _walk(tmp_path, PATH=env_path, WALK_STOP_AFTER="environment")
    assert result.returncode == 1
    assert "unexpected output on stderr" in result.stderr and "UserWarning: something odd" in result.stderr
