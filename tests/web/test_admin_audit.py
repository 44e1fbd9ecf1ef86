"""Audit export as a download (`stockade audit export`'s service and permission) and the Admin page's
read-only credentials and settings."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from fastapi.testclient import TestClient

from stockade.web.views import settings_table
from stockade.workspace.service import Actor, open_workspace
from tests.web.conftest import log_in


def test_audit_export_downloads_what_the_cli_would_write(console: TestClient, team_workspace: Path) -> None:
    csrf = log_in(console, "admin")
    response = console.post("/audit/export", data={"csrf": csrf, "format": "jsonl"})
    assert response.status_code == 200, response.text
    assert "attachment" in response.headers["content-disposition"]
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert int(response.headers["x-stockade-records"]) == len(lines) > 3
    assert any(r["action"] == "user.login" and r["actor"] == "admin" for r in lines)
    with open_workspace(team_workspace) as context:  # the service's own hash chain, unchanged
        stored = {r.seq: r.hash for r in context.audit.tail(100)}
        exported = next(r for r in reversed(context.audit.tail(5)) if r.action == "audit.export")
    assert all(stored[r["seq"]] == r["hash"] for r in lines)
    assert exported.actor == "admin" and json.loads(exported.details)["records"] == len(lines)
    assert not Path(exported.target).parent.exists()  # the temporary file went with the response
    # --since / --until as the CLI: a window in the future holds nothing
    later = console.post("/audit/export", data={"csrf": csrf, "format": "csv", "since": "2999-01-01"})
    rows = list(csv.DictReader(io.StringIO(later.text)))
    assert later.status_code == 200 and rows == [] and "prev_hash" in later.text.splitlines()[0]
    bad = console.post("/audit/export", data={"csrf": csrf, "since": "yesterday"})
    assert bad.status_code == 400 and "2026-11-01" in bad.text
    assert console.post("/audit/export", data={"csrf": csrf, "format": "xml"}).status_code == 400


def test_audit_export_needs_its_permission_and_csrf(console: TestClient) -> None:
    csrf = log_in(console, "alice")  # a trainer: no audit.export
    refused = console.post("/audit/export", data={"csrf": csrf})
    assert refused.status_code == 403 and "audit.export" in refused.text
    log_in(console, "admin")
    assert console.post("/audit/export", data={"csrf": "forged"}).status_code == 403


def test_admin_lists_credentials_without_secrets_and_settings_read_only(
    console: TestClient, team_workspace: Path
) -> None:
    from stockade.security.service import issue_credential

    with open_workspace(team_workspace, actor=Actor(name="admin", role="admin")) as context:
        issued = issue_credential(context, kind="api_key", subject="alice", roles=["trainer"])
    log_in(console, "admin")
    page = console.get("/admin")
    assert page.status_code == 200
    tokens = page.text[page.text.index('id="tokens"') :]
    tokens = tokens[: tokens.index("</table>")]
    assert issued.credential.id in tokens and "alice" in tokens and "active" in tokens
    assert issued.token not in page.text  # never the secret
    settings = page.text[page.text.index('id="settings"') :]
    assert "governance.session_hours" in settings and "security.lockout_failures" in settings
    main = page.text.split("</header>", 1)[-1]
    assert "<form" not in main and "<input" not in main  # read-only: nothing here changes anything


def test_an_auditor_sees_settings_but_not_credentials(console: TestClient, team_workspace: Path) -> None:
    from stockade.governance.users import add_user
    from tests.web.conftest import PASSWORDS

    with open_workspace(team_workspace, actor=Actor(name="admin", role="admin")) as context:
        add_user(context, "dave", ["auditor"], "dave-password-1")
    PASSWORDS["dave"] = "dave-password-1"
    try:
        log_in(console, "dave")
        page = console.get("/admin")
    finally:
        del PASSWORDS["dave"]
    assert page.status_code == 200 and 'id="tokens"' not in page.text and "token.manage" in page.text
    assert 'id="settings"' in page.text


def test_a_database_password_is_never_shown() -> None:
    rows = dict(settings_table({"database_url": "postgresql+psycopg://svc:s3cret@db:5432/x", "a": {"b": 1}}))
    assert rows == {"database_url": "postgresql+psycopg://svc:***@db:5432/x", "a.b": "1"}
