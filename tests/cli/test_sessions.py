"""Login sessions belong to an OS user and a terminal (or $STOCKADE_SESSION), not to the whole
workspace; every state-changing command says whom it acted as (issue 15, item 13)."""

from __future__ import annotations

import json
import shlex
import shutil
import sqlite3
import sys
from pathlib import Path

import pytest

from stockade.core import environment
from tests.conftest import run_cli

ADMIN = environment.os_user()  # the `workspace_dir` fixture's first admin, logged in by init
BOB_PASSWORD = "bob's long password"


def _add_bob(workspace: Path, tmp_path: Path) -> Path:
    password = tmp_path / "bob.pw"
    password.write_text(BOB_PASSWORD + "\n")
    password.chmod(0o600)
    added = run_cli(
        "-w", str(workspace), "user", "add", "bob", "--role", "reviewer", "--password-file", str(password)
    )
    assert added.returncode == 0, added.stderr
    return password


def _whoami(workspace: Path, session: str | None = None) -> dict:
    result = run_cli("-w", str(workspace), "whoami", "--json", env={"STOCKADE_SESSION": session or ""})
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _audit_head(workspace: Path) -> int:
    connection = sqlite3.connect(workspace / "stockade.db")
    try:
        return connection.execute("SELECT max(seq) FROM audit_records").fetchone()[0]
    finally:
        connection.close()


def _audit_actors_since(workspace: Path, seq: int) -> set[str]:
    connection = sqlite3.connect(workspace / "stockade.db")
    try:
        return {row[0] for row in connection.execute("SELECT actor FROM audit_records WHERE seq > ?", (seq,))}
    finally:
        connection.close()


def test_two_named_sessions_act_as_different_users(workspace_dir: Path, tmp_path: Path) -> None:
    password = _add_bob(workspace_dir, tmp_path)
    login = run_cli(
        "-w",
        str(workspace_dir),
        "login",
        "bob",
        "--password-file",
        str(password),
        env={"STOCKADE_SESSION": "checker"},
    )
    assert login.returncode == 0, login.stderr
    assert _whoami(workspace_dir, "checker")["name"] == "bob"
    assert _whoami(workspace_dir)["name"] == ADMIN  # init's session of this process: untouched by bob's login
    stranger = _whoami(workspace_dir, "maker")
    assert stranger["logged_in"] is False and stranger["session"].endswith("-named-maker")

    # each session's commands are recorded (and announced) as its own user: bob is refused, admin adds
    for session, user in (("checker", "bob"), ("", ADMIN)):
        before = _audit_head(workspace_dir)
        result = run_cli(
            "-w",
            str(workspace_dir),
            "user",
            "add",
            f"x-{user}",
            "--service",
            env={"STOCKADE_SESSION": session},
        )
        assert f"as {user} (roles: " in result.stderr
        assert _audit_actors_since(workspace_dir, before) == {user}

    logout = run_cli("-w", str(workspace_dir), "logout", env={"STOCKADE_SESSION": "checker"})
    assert logout.returncode == 0 and "logged out" in logout.stdout
    assert _whoami(workspace_dir, "checker")["logged_in"] is False
    assert _whoami(workspace_dir)["name"] == ADMIN  # logging out one session ends only that one


@pytest.mark.skipif(shutil.which("script") is None, reason="needs util-linux `script` to open terminals")
def test_a_login_in_one_terminal_stays_in_that_terminal(workspace_dir: Path, tmp_path: Path) -> None:
    password = _add_bob(workspace_dir, tmp_path)
    stockade = f"{shlex.quote(sys.executable)} -m stockade -w {shlex.quote(str(workspace_dir))}"

    def in_new_terminal(commands: str) -> str:
        # `script` runs the commands in a new pseudo-terminal and session, as a new terminal window does
        result = run_cli_in_terminal(commands)
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    def run_cli_in_terminal(commands: str):
        import subprocess

        return subprocess.run(
            ["script", "-qec", commands, "/dev/null"],
            capture_output=True,
            text=True,
            timeout=120,
            env={"PATH": "/usr/bin:/bin", "PYTHONIOENCODING": "utf-8", "COLUMNS": "200", "LANG": "C.UTF-8"},
            check=False,
        )

    first = in_new_terminal(
        f"{stockade} login bob --password-file {shlex.quote(str(password))} && {stockade} whoami --json"
        # a process a launcher starts in a new session (as torchrun starts its workers) that still
        # writes to the terminal belongs to it
        f" && setsid -w {stockade} whoami"
    )
    assert '"name": "bob"' in first and "-tty-" in first
    assert first.rstrip().endswith("bob (roles: reviewer)")
    assert _whoami(workspace_dir)["name"] == ADMIN  # this (test) process's session is untouched
    second = in_new_terminal(f"{stockade} whoami --json")
    assert '"logged_in": false' in second  # another terminal did not inherit bob


def test_a_bad_session_name_is_refused_by_name(workspace_dir: Path) -> None:
    result = run_cli("-w", str(workspace_dir), "whoami", env={"STOCKADE_SESSION": "../admin"})
    assert result.returncode == 2
    assert "STOCKADE_SESSION" in result.stderr and "'../admin' is not a session name" in result.stderr


@pytest.mark.parametrize(
    ("command", "changes_state"),
    [
        (("user", "add", "teller-app", "--service"), True),
        (("user", "disable", "nobody-here", "--reason", "typo"), False),  # an error before any change
        (("user", "list"), False),
        (("whoami",), False),
        (("pki", "init"), True),
    ],
)
def test_state_changing_commands_say_whom_they_act_as(
    workspace_dir: Path, command: tuple[str, ...], changes_state: bool
) -> None:
    before = _audit_head(workspace_dir)
    result = run_cli("-w", str(workspace_dir), *command)
    wrote = _audit_head(workspace_dir) > before
    assert wrote is changes_state, result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("as ")]
    assert lines == ([f"as {ADMIN} (roles: admin)"] if wrote else []), result.stderr


def test_a_refused_command_says_whom_it_was_refused_to(workspace_dir: Path, tmp_path: Path) -> None:
    password = _add_bob(workspace_dir, tmp_path)
    env = {"STOCKADE_SESSION": "bob"}
    assert (
        run_cli(
            "-w", str(workspace_dir), "login", "bob", "--password-file", str(password), env=env
        ).returncode
        == 0
    )
    refused = run_cli("-w", str(workspace_dir), "user", "add", "mallory", "--service", env=env)
    assert refused.returncode == 3
    assert refused.stderr.splitlines()[0] == "as bob (roles: reviewer)"
