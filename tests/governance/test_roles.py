"""Roles grant exactly their permissions; `require` refuses the rest, audited, with exit code 3."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from stockade.core.workspace import Workspace
from stockade.governance.roles import PERMISSIONS, ROLES, PermissionDenied, has_permission, require
from stockade.governance.sessions import session_file
from tests.governance.conftest import as_user

# role -> permissions it must have, permissions it must not have
EXPECTED = {
    "admin": (set(PERMISSIONS), set()),
    "data_steward": ({"data.import", "data.desensitize", "data.read"}, {"train.run", "registry.approve"}),
    "trainer": (
        {"train.run", "model.export", "registry.submit", "registry.deploy"},
        {"registry.approve", "user.manage", "audit.export"},
    ),
    "reviewer": ({"registry.approve", "registry.reject", "registry.read"}, {"registry.submit", "train.run"}),
    "auditor": ({"audit.read", "audit.verify", "audit.export", "user.read"}, {"user.manage", "data.import"}),
    "api_client": ({"model.call"}, {"registry.read", "audit.read", "train.run"}),
}


@pytest.mark.parametrize("role", sorted(EXPECTED))
def test_role_permissions(role: str) -> None:
    granted, refused = EXPECTED[role]
    assert all(has_permission([role], permission) for permission in granted)
    assert not any(has_permission([role], permission) for permission in refused)


def test_every_role_is_described_and_nobody_but_admin_manages_users() -> None:
    assert set(EXPECTED) == set(ROLES)
    assert [role for role, granted in ROLES.items() if "user.manage" in granted] == ["admin"]
    with pytest.raises(ValueError, match="unknown permission"):
        has_permission(["admin"], "data.explode")


def _denied(root: Path) -> list[tuple]:
    connection = sqlite3.connect(root / "stockade.db")
    try:
        query = (
            "SELECT actor, role, target, result FROM audit_records WHERE action='access.denied' ORDER BY seq"
        )
        return connection.execute(query).fetchall()
    finally:
        connection.close()


def test_require_refuses_audits_and_names_the_roles_that_would_do(workspace_dir: Path) -> None:
    with as_user(workspace_dir, "dave", "auditor") as context:
        require(context, "audit.export")  # allowed: nothing raised, nothing recorded
        with pytest.raises(PermissionDenied, match="needs one of the roles admin, trainer") as refused:
            require(context, "train.run")
    assert refused.value.exit_code == 3
    assert _denied(workspace_dir) == [("dave", "auditor", "train.run", "denied")]


def test_several_roles_combine(workspace_dir: Path) -> None:
    with as_user(workspace_dir, "erin", "trainer,reviewer") as context:
        require(context, "train.run")
        require(context, "registry.approve")


def test_nobody_logged_in_is_told_to_log_in(workspace_dir: Path) -> None:
    session_file(Workspace(workspace_dir)).unlink()
    from stockade.workspace.service import open_workspace

    with open_workspace(workspace_dir) as context:
        assert context.actor.role is None
        with pytest.raises(PermissionDenied, match="not logged in") as refused:
            require(context, "data.read")
    assert "stockade login" in str(refused.value)


def test_the_permission_table_in_the_docs_matches_the_code() -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "governance.md").read_text(encoding="utf-8")
    rows = {line.split("|")[1].strip(" `"): line for line in docs.splitlines() if line.startswith("| `")}
    for permission in PERMISSIONS:
        cells = [cell.strip() for cell in rows[permission].strip("|").split("|")[2:]]
        assert cells == ["✓" if permission in ROLES[role] else "" for role in ROLES], permission
