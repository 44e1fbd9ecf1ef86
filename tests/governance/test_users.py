"""Users and sessions: first admin at init, add/disable/roles/passwd, login/logout, expiry, token file."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

import pytest

from stockade.core.errors import StockadeError
from stockade.core.workspace import Workspace
from stockade.governance.sessions import LoginFailed, login, logout, session_file
from stockade.governance.users import UserError, add_user, change_password, list_users, set_roles, set_status
from stockade.security.passwords import WeakPassword, hash_password, verify_password
from stockade.workspace.service import initialize_workspace, open_workspace
from tests.governance.conftest import PASSWORD, as_user


def _rows(root: Path, sql: str) -> list[tuple]:
    connection = sqlite3.connect(root / "stockade.db")
    try:
        return connection.execute(sql).fetchall()
    finally:
        connection.close()


def test_init_creates_a_logged_in_first_admin_once(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    first = initialize_workspace(root, admin_name="chief", admin_password="a long admin password")
    assert first.admin.name == "chief" and first.admin.generated_password is None
    assert stat.S_IMODE(session_file(Workspace(root)).stat().st_mode) == 0o600
    with open_workspace(root) as context:
        assert (context.actor.name, context.actor.role) == ("chief", "admin")
    assert initialize_workspace(root).admin is None  # users exist: nothing new
    token = session_file(Workspace(root)).read_text().strip()
    stored = _rows(root, "SELECT token_sha256 FROM user_sessions")
    assert len(stored) == 1 and token not in stored[0][0]  # only the hash is stored


def test_generated_admin_password_is_returned_once_and_works(tmp_path: Path) -> None:
    result = initialize_workspace(tmp_path / "ws")
    password = result.admin.generated_password
    assert password and len(password) >= 20
    with open_workspace(tmp_path / "ws") as context:
        assert login(context, result.admin.name, password).role == "admin"
    assert password not in (tmp_path / "ws" / "stockade.db").read_bytes().decode("latin-1")


def test_add_list_roles_disable(team: Path) -> None:
    with open_workspace(team) as context:
        names = {view.name: view.roles for view in list_users(context)}
        assert names["alice"] == ["trainer"] and names["bob"] == ["reviewer"]
        with pytest.raises(UserError, match="exists already"):
            add_user(context, "alice", ["trainer"], PASSWORD)
        with pytest.raises(StockadeError, match="unknown role"):
            add_user(context, "zed", ["superuser"], PASSWORD)
        with pytest.raises(WeakPassword):
            add_user(context, "zed", ["trainer"], "short")
        assert set_roles(context, "alice", ["trainer", "reviewer"], reason="covers for bob").roles == [
            "reviewer",
            "trainer",
        ]
        set_status(context, "dave", "disabled", reason="left the bank")
        with pytest.raises(LoginFailed):
            login(context, "dave", PASSWORD)
    actions = [row[0] for row in _rows(team, "SELECT action FROM audit_records")]
    assert actions.count("user.add") == 5 and "user.roles" in actions and "user.disable" in actions


def test_the_last_admin_cannot_be_disabled_or_demoted(workspace_dir: Path) -> None:
    with open_workspace(workspace_dir) as context:
        admin = context.actor.name
        with pytest.raises(UserError, match="last active admin"):
            set_status(context, admin, "disabled", reason="oops")
        with pytest.raises(UserError, match="last active admin"):
            set_roles(context, admin, ["auditor"], reason="oops")


def test_only_admins_manage_users(team: Path) -> None:
    from stockade.governance.roles import PermissionDenied

    with as_user(team, "bob", "reviewer") as context:
        with pytest.raises(PermissionDenied):
            add_user(context, "mallory", ["admin"], PASSWORD)
        with pytest.raises(PermissionDenied):
            set_roles(context, "bob", ["admin"], reason="promote myself")


def test_login_logout_and_wrong_password_is_audited(team: Path) -> None:
    with open_workspace(team) as context:
        with pytest.raises(LoginFailed, match="wrong user name or password"):
            login(context, "alice", "not the password")
        with pytest.raises(LoginFailed):
            login(context, "nobody", PASSWORD)
        assert login(context, "alice", PASSWORD).role == "trainer"
    with open_workspace(team) as context:
        assert context.actor.name == "alice"
        assert logout(context)
    with open_workspace(team) as context:
        assert context.actor.role is None  # nobody: commands are refused until the next login
    denied = _rows(team, "SELECT target FROM audit_records WHERE action='user.login' AND result='denied'")
    assert denied == [("alice",), ("nobody",)]


def test_expired_or_disabled_sessions_act_as_nobody(team: Path) -> None:
    with open_workspace(team) as context:
        login(context, "alice", PASSWORD)
    connection = sqlite3.connect(team / "stockade.db")
    connection.execute("UPDATE user_sessions SET expires_at='2000-01-01T00:00:00Z'")
    connection.commit()
    connection.close()
    with open_workspace(team) as context:
        assert context.actor.role is None


def test_password_change_needs_the_current_one_and_admin_reset_ends_sessions(team: Path) -> None:
    with as_user(team, "alice", "trainer") as context:
        with pytest.raises(UserError, match="current password is wrong"):
            change_password(context, "alice", "a brand new password", current_password="guess")
        change_password(context, "alice", "a brand new password", current_password=PASSWORD)
    with open_workspace(team) as context:
        login(context, "bob", PASSWORD)
    with as_user(team, "root", "admin") as context:
        change_password(context, "bob", "reset by the admin")
    with open_workspace(team) as context:
        assert context.actor.role is None  # bob's session ended with the reset


def test_real_argon2_hashes(real_argon2: None) -> None:
    hashed = hash_password("correct horse battery")
    assert hashed.startswith("$argon2id$") and "m=65536,t=3" in hashed
    assert verify_password(hashed, "correct horse battery")
    assert not verify_password(hashed, "correct horse batterx") and not verify_password("junk", "x")


def test_repeated_wrong_passwords_lock_the_name_out(team: Path) -> None:
    from stockade.security.lockout import LockedOut

    with open_workspace(team) as context:
        failures = context.workspace.settings.security.lockout_failures
        for _ in range(failures):
            with pytest.raises(LoginFailed):
                login(context, "alice", "guessing")
        with pytest.raises(LockedOut):
            login(context, "alice", PASSWORD)  # even the right password, until the lockout ends
        assert login(context, "bob", PASSWORD).name == "bob"  # per name, not global
    reasons = _rows(team, "SELECT reason FROM audit_records WHERE action='user.login' AND result='denied'")
    assert reasons[-1] == ("locked out after repeated failures",) and len(reasons) == failures + 1
