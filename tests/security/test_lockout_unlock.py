"""Lockouts with a way out: a missing credential never counts, messages say how long and how to clear,
`stockade security unlock --address` reaches a running server, `stockade user unlock` lifts a login
lockout, and both are audited."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stockade.core.workspace import Workspace
from stockade.governance.sessions import session_file
from stockade.security.authenticator import StockadeAuthenticator
from stockade.security.lockout import LockedOut
from stockade.security.principal import AuthenticationFailed
from stockade.security.service import issue_credential
from stockade.workspace.service import open_workspace
from tests.conftest import run_cli
from tests.security.conftest import audit_rows, set_security

WRONG = f"Bearer stk_0123456789abcdef_{'A' * 43}"


def cli(root: Path, *args: str):
    return run_cli("--workspace", str(root), *args)


def test_requests_without_a_credential_never_lock_the_address_out(workspace_dir: Path) -> None:
    set_security(workspace_dir, lockout_failures=3)
    with open_workspace(workspace_dir) as context:
        good = issue_credential(context, kind="api_key", subject=context.actor.name, roles=["admin"]).token
        authenticator = StockadeAuthenticator(context)
        for header in [None, "", "  "] * 4:
            with pytest.raises(AuthenticationFailed) as refused:
                authenticator.authenticate(header, "127.0.0.1")
            assert refused.value.reason == "missing"
        assert "stockade token issue" in (refused.value.fix or "")
        assert "Authorization: Bearer" in (refused.value.fix or "")
        assert authenticator.authenticate(f"Bearer {good}", "127.0.0.1").credential == "api_key"
        assert not audit_rows(context, "auth.lockout")
        for _ in range(3):  # credential failures still count
            with pytest.raises(AuthenticationFailed):
                authenticator.authenticate(WRONG, "127.0.0.1")
        with pytest.raises(LockedOut):
            authenticator.authenticate(f"Bearer {good}", "127.0.0.1")


def test_security_unlock_lifts_a_running_servers_address_lockout(workspace_dir: Path) -> None:
    set_security(workspace_dir, lockout_failures=2, lockout_seconds=900)
    with open_workspace(workspace_dir) as context:
        good = issue_credential(context, kind="api_key", subject=context.actor.name, roles=["admin"]).token
        authenticator = StockadeAuthenticator(context)
        for _ in range(2):
            with pytest.raises(AuthenticationFailed):
                authenticator.authenticate(WRONG, "10.6.6.6")
        with pytest.raises(LockedOut) as locked:
            authenticator.authenticate(f"Bearer {good}", "10.6.6.6")
        message = str(locked.value)
        assert "for 900 s" in message and "s left" in message
        assert "stockade security unlock --address 10.6.6.6" in message
        # a restarted server keeps the lockout (it is in the workspace's database)
        with pytest.raises(LockedOut):
            StockadeAuthenticator(context).authenticate(f"Bearer {good}", "10.6.6.6")

        listed = cli(workspace_dir, "security", "lockouts")
        assert listed.returncode == 0 and "address:10.6.6.6" in listed.stdout, listed.stderr
        unlocked = cli(
            workspace_dir, "security", "unlock", "--address", "::ffff:10.6.6.6", "--reason", "test"
        )
        assert unlocked.returncode == 0, unlocked.stderr
        assert "unlocked 10.6.6.6" in unlocked.stdout
        assert authenticator.authenticate(f"Bearer {good}", "10.6.6.6").credential == "api_key"
        record = audit_rows(context, "security.unlock")[-1]
        assert (
            record.target == "10.6.6.6"
            and record.reason == "test"
            and json.loads(record.details)["was_locked"] is True
        )
    again = cli(workspace_dir, "security", "unlock", "--address", "10.6.6.6")
    assert again.returncode == 0 and "was not locked out" in again.stdout
    bad = cli(workspace_dir, "security", "unlock", "--address", "not-an-ip")
    assert bad.returncode == 2 and "not an IP address" in bad.stderr


def test_user_unlock_lifts_a_login_lockout(workspace_dir: Path, tmp_path: Path) -> None:
    from stockade.governance.users import add_user

    set_security(workspace_dir, lockout_failures=2)
    with open_workspace(workspace_dir) as context:
        add_user(context, "bob", ["reviewer"], "the right password")
    wrong, right = tmp_path / "wrong", tmp_path / "right"
    wrong.write_text("a wrong password\n")
    right.write_text("the right password\n")
    admin_session = session_file(Workspace(workspace_dir)).read_bytes()
    for _ in range(2):
        assert cli(workspace_dir, "login", "bob", "--password-file", str(wrong)).returncode != 0
    locked = cli(workspace_dir, "login", "bob", "--password-file", str(right))
    assert (
        locked.returncode == 3 and "stockade user unlock bob" in locked.stderr and "s left" in locked.stderr
    )
    session_file(Workspace(workspace_dir)).write_bytes(admin_session)
    unlocked = cli(workspace_dir, "user", "unlock", "bob", "--reason", "called the help desk")
    assert unlocked.returncode == 0 and "unlocked bob" in unlocked.stdout, unlocked.stderr
    assert cli(workspace_dir, "login", "bob", "--password-file", str(right)).returncode == 0
    refused = cli(workspace_dir, "user", "unlock", "bob")  # bob is a reviewer: no user.manage
    assert refused.returncode == 3 and "may not do" in refused.stderr
    with open_workspace(workspace_dir) as context:
        record = audit_rows(context, "user.unlock")[-1]
    assert (
        record.target == "bob" and record.result == "ok" and json.loads(record.details)["was_locked"] is True
    )
