"""`make demo` ends with the console's URL and a login that works (scripts/demo-console.sh checks it)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from stockade.training.ddp_check import free_port
from stockade.workspace.service import Actor, initialize_workspace, open_workspace
from tests.conftest import REPO


@pytest.mark.slow
def test_demo_console_prints_a_url_and_a_login_that_works(tmp_path: Path) -> None:
    root = tmp_path / "demo"
    initialize_workspace(root, admin_name="admin", admin_password="demo-admin-password")
    from stockade.governance.users import add_user

    with open_workspace(root, actor=Actor(name="admin", role="admin")) as context:
        add_user(context, "alice", ["trainer"], "demo-alice-password")
    env = {k: v for k, v in os.environ.items() if k != "STOCKADE_HOME"}
    env.update(
        {"DEMO_WORKSPACE": str(root), "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"}
    )
    port = str(free_port())
    result = subprocess.run(
        ["bash", str(REPO / "scripts" / "demo-console.sh")],
        env={**env, "DEMO_CONSOLE_PORT": port},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"open http://127.0.0.1:{port}/ and log in as alice / demo-alice-password" in result.stdout
    wrong = subprocess.run(
        ["bash", str(REPO / "scripts" / "demo-console.sh")],
        env={**env, "DEMO_CONSOLE_PORT": port, "DEMO_CONSOLE_PASSWORD": "wrong"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert wrong.returncode != 0 and "did not accept the login" in wrong.stderr
