"""The CLI the demo uses: users with password files, login, submit as one user, approve as another."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stockade.core.workspace import Workspace
from stockade.governance.sessions import session_file
from tests.conftest import run_cli
from tests.governance.conftest import add_version

pytestmark = pytest.mark.slow


def test_submit_as_trainer_approve_as_reviewer(workspace_dir: Path, tmp_path: Path) -> None:
    password = tmp_path / "password"
    password.write_text("a password for the demo\n")
    password.chmod(0o600)
    ws = ("--workspace", str(workspace_dir))
    for name, role in (("alice", "trainer"), ("bob", "reviewer")):
        added = run_cli(*ws, "user", "add", name, "--role", role, "--password-file", str(password))
        assert added.returncode == 0, added.stderr
    ref = add_version(workspace_dir, trained_by="alice")

    assert run_cli(*ws, "login", "alice", "--password-file", str(password)).returncode == 0
    submitted = run_cli(*ws, "registry", "submit", ref, "--reason", "ROUGE-L up 4 points")
    assert submitted.returncode == 0 and "draft → submitted" in submitted.stdout
    own = run_cli(*ws, "registry", "approve", ref, "--reason", "looks fine to me")
    assert own.returncode == 3 and "registry.approve" in own.stderr  # a trainer holds no approve right

    assert run_cli(*ws, "login", "bob", "--password-file", str(password)).returncode == 0
    assert "bob (roles: reviewer)" in run_cli(*ws, "whoami").stdout
    approved = run_cli(*ws, "registry", "approve", ref, "--reason", "eval report checked")
    assert approved.returncode == 0 and "submitted → approved" in approved.stdout
    shown = json.loads(run_cli(*ws, "registry", "show", ref).stdout)
    assert shown["stage"] == "approved" and [a["by"] for a in shown["approvals"]] == ["bob"]
    lineage = run_cli(*ws, "registry", "lineage", ref)
    assert lineage.returncode == 0 and "fin-data@v1" in lineage.stdout and "approval" in lineage.stdout

    refused = run_cli(*ws, "user", "list")
    assert refused.returncode == 3 and "user.read" in refused.stderr and "Traceback" not in refused.stderr
    wrong = tmp_path / "wrong"
    wrong.write_text("not the password\n")
    assert run_cli(*ws, "login", "bob", "--password-file", str(wrong)).returncode == 3


def test_init_prints_the_generated_password_once_and_logs_in(tmp_path: Path) -> None:
    created = run_cli("init", str(tmp_path / "ws"), "--admin-name", "chief")
    assert created.returncode == 0 and "first admin: chief (logged in)" in created.stdout
    password = created.stdout.split("store it safely):")[1].split()[0]
    assert run_cli("--workspace", str(tmp_path / "ws"), "whoami").stdout.strip() == "chief (roles: admin)"
    again = run_cli("init", str(tmp_path / "ws"))
    assert password not in again.stdout
    (tmp_path / "pw").write_text(password)
    assert (
        run_cli(
            "-w", str(tmp_path / "ws"), "login", "chief", "--password-file", str(tmp_path / "pw")
        ).returncode
        == 0
    )


@pytest.mark.parametrize(
    "command",
    [
        ("data", "list"),
        ("runs", "list"),
        ("registry", "list"),
        ("audit", "tail"),
        ("user", "list"),
    ],
)
def test_every_workspace_command_refuses_nobody(workspace_dir: Path, command: tuple[str, ...]) -> None:
    session_file(Workspace(workspace_dir)).unlink()  # as after `stockade logout`
    result = run_cli("-w", str(workspace_dir), *command)
    assert result.returncode == 3 and "not logged in" in result.stderr, result.stderr
