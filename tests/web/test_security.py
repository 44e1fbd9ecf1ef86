"""The console's security (issue 19 item 5): no page without login, CSRF refused, cookie flags, session
fixation, upload size limit and path traversal, role escalation through forms, lockout as the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from stockade.storage.database import make_session_factory
from stockade.storage.job_tables import Job
from stockade.web.app import SESSION_COOKIE
from stockade.web.forms import safe_upload_name
from stockade.workspace.service import open_workspace
from tests.web.conftest import PASSWORDS, csrf_of, log_in

PAGES = [
    "/",
    "/jobs",
    "/datasets",
    "/train",
    "/runs",
    "/models",
    "/monitor",
    "/audit",
    "/admin",
    "/runs/x/metrics",
    "/models/x@v1",
    "/models/x@v1/reports/r1",
    "/train?config=a.yaml",
    "/datasets?root=0",
]


@pytest.mark.parametrize("path", PAGES)
def test_no_page_without_login(console: TestClient, path: str) -> None:
    response = console.get(path, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login"


def test_forms_without_login_are_refused(console: TestClient) -> None:
    for path in (
        "/train/start",
        "/datasets/upload",
        "/models/action",
        "/audit/verify",
        "/playground/ask",
        "/logout",
        "/train/save",
        "/datasets/server",
        "/audit/export",
        "/jobs/export",
        "/jobs/eval",
    ):
        assert console.post(path, data={"csrf": "x"}, follow_redirects=False).status_code == 303, path


def test_cookie_flags_and_a_new_session_id_at_login(console: TestClient, team_workspace: Path) -> None:
    page = console.get("/login")
    console.cookies.set(SESSION_COOKIE, "planted-by-an-attacker")
    response = console.post(
        "/login",
        data={"csrf": csrf_of(page.text), "name": "alice", "password": PASSWORDS["alice"]},
        follow_redirects=False,
    )
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    assert "Secure" not in cookie  # plain HTTP on loopback; under --tls it is Secure (next test)
    token = response.cookies[SESSION_COOKIE]
    assert token != "planted-by-an-attacker" and len(token) >= 40
    console.cookies.clear()
    console.cookies.set(SESSION_COOKIE, "planted-by-an-attacker")
    assert console.get("/jobs", follow_redirects=False).status_code == 303  # the planted id is nobody


def test_secure_cookie_under_tls(team_workspace: Path) -> None:
    from stockade.web.app import ConsoleSettings, create_app

    client = TestClient(
        create_app(ConsoleSettings(team_workspace, tls=True), dispatcher=False), base_url="https://127.0.0.1"
    )
    page = client.get("/login")
    response = client.post(
        "/login",
        data={"csrf": csrf_of(page.text), "name": "bob", "password": PASSWORDS["bob"]},
        follow_redirects=False,
    )
    assert "Secure" in response.headers["set-cookie"]


def test_csrf_is_refused_and_audited(console: TestClient, team_workspace: Path) -> None:
    log_in(console, "alice")
    response = console.post("/train/start", data={"csrf": "forged", "model_name_or_path": "m"})
    assert response.status_code == 403 and "CSRF" in response.text
    assert console.post("/train/start", data={"model_name_or_path": "m"}).status_code == 403
    login_page = console.get("/login")
    assert console.post("/login", data={"csrf": "forged", "name": "bob", "password": "x"}).status_code == 403
    del login_page
    with open_workspace(team_workspace) as context:
        assert any(r.action == "web.csrf" and r.actor == "alice" for r in context.audit.tail(20))


def test_wrong_passwords_lock_out_like_the_cli(console: TestClient) -> None:
    for _ in range(8):
        page = console.get("/login")
        last = console.post("/login", data={"csrf": csrf_of(page.text), "name": "bob", "password": "wrong"})
        assert last.status_code == 401
    page = console.get("/login")
    refused = console.post(
        "/login", data={"csrf": csrf_of(page.text), "name": "bob", "password": PASSWORDS["bob"]}
    )
    assert refused.status_code == 401 and "locked" in refused.text


def test_idle_sessions_end(team_workspace: Path) -> None:
    from stockade.web.app import ConsoleSettings, create_app

    app = create_app(ConsoleSettings(team_workspace, idle_minutes=0.0001), dispatcher=False)
    client = TestClient(app, base_url="http://127.0.0.1")
    page = client.get("/login")
    client.post("/login", data={"csrf": csrf_of(page.text), "name": "bob", "password": PASSWORDS["bob"]})
    import time

    time.sleep(0.05)
    assert client.get("/jobs", follow_redirects=False).status_code == 303


@pytest.mark.parametrize(
    ("raw", "safe"),
    [
        ("../../etc/passwd.json", "passwd.json"),
        ("..\\..\\x.jsonl", "x.jsonl"),
        ("a b;rm.csv", "a_b_rm.csv"),
        (".h.json", "h.json"),
    ],
)
def test_upload_names_never_leave_the_job_folder(raw: str, safe: str) -> None:
    assert safe_upload_name(raw) == safe


def test_upload_with_a_traversal_name_lands_in_the_job_folder(
    console: TestClient, team_workspace: Path
) -> None:
    csrf = log_in(console, "alice")
    body = json.dumps([{"instruction": "q", "output": "a"}]).encode()
    response = console.post(
        "/datasets/upload",
        data={"csrf": csrf, "name": "t"},
        files={"file": ("../../../../outside.json", body, "application/json")},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert not (team_workspace.parent / "outside.json").exists()
    assert list((team_workspace / "jobs").glob("*/upload/outside.json"))
    refused = console.post(
        "/datasets/upload", data={"csrf": csrf}, files={"file": ("run.sh", b"x", "text/plain")}
    )
    assert refused.status_code == 400 and "run.sh" in refused.text


def test_upload_size_limit(console: TestClient, team_workspace: Path) -> None:
    csrf = log_in(console, "alice")
    response = console.post(
        "/datasets/upload",
        data={"csrf": csrf},
        files={"file": ("big.json", b"[" + b" " * 10_000 + b"]", "application/json")},
    )
    assert response.status_code == 400 and "limit" in response.text
    assert not list((team_workspace / "jobs").glob("*/upload/big.json"))


def test_role_escalation_through_forms_is_refused(console: TestClient, team_workspace: Path) -> None:
    csrf = log_in(console, "bob")  # reviewer: may not train or import
    assert console.post("/train/start", data={"csrf": csrf, "model_name_or_path": "m"}).status_code == 403
    assert console.get("/train").status_code == 403
    assert console.get("/admin").status_code == 403  # user.read: admins and auditors
    csrf = log_in(console, "alice")
    # a field the page does not know (here: acting as someone else) is refused by name, not ignored
    response = console.post(
        "/train/start", data={"csrf": csrf, "model_name_or_path": "m", "submitted_by": "admin"}
    )
    assert response.status_code == 400 and "submitted_by" in response.text
    with open_workspace(team_workspace) as context, make_session_factory(context.engine)() as session:
        assert list(session.scalars(select(Job))) == []


def test_logout_ends_the_session(console: TestClient) -> None:
    csrf = log_in(console, "alice")
    old = console.cookies.get(SESSION_COOKIE)
    assert console.post("/logout", data={"csrf": csrf}, follow_redirects=False).status_code == 303
    console.cookies.clear()
    console.cookies.set(SESSION_COOKIE, old)
    assert console.get("/jobs", follow_redirects=False).status_code == 303


def test_an_htmx_refusal_is_a_fragment_naming_the_permission(console: TestClient) -> None:
    csrf = log_in(console, "bob")  # a reviewer: no model.call, so no playground
    response = console.post(
        "/playground/ask",
        data={"csrf": csrf, "model": "x@v1", "prompt": "hi"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 403 and "model.call" in response.text
    assert "<html" not in response.text  # swapped into the page, not a page inside the page


def test_a_page_polling_itself_does_not_keep_an_idle_session_alive(team_workspace: Path) -> None:
    import time

    from stockade.web.app import ConsoleSettings, create_app

    app = create_app(ConsoleSettings(team_workspace, idle_minutes=0.02), dispatcher=False)  # 1.2 s

    def statuses(headers: dict[str, str]) -> list[int]:
        client = TestClient(app, base_url="http://127.0.0.1")
        page = client.get("/login")
        client.post("/login", data={"csrf": csrf_of(page.text), "name": "bob", "password": PASSWORDS["bob"]})
        seen = []
        for _ in range(8):  # 2.4 s, more than the idle timeout
            seen.append(client.get("/jobs", headers=headers, follow_redirects=False).status_code)
            time.sleep(0.3)
        return seen

    assert set(statuses({})) == {200}  # a person clicking stays logged in
    assert statuses({"HX-Request": "true"})[-1] == 401  # polling alone does not


@pytest.mark.parametrize(
    "path", ["/train/save", "/datasets/server", "/audit/export", "/jobs/export", "/jobs/eval"]
)
def test_the_newer_forms_refuse_a_missing_or_forged_csrf_token(
    console: TestClient, team_workspace: Path, path: str
) -> None:
    log_in(console, "admin")
    assert console.post(path, data={"csrf": "forged"}).status_code == 403
    assert console.post(path, data={}).status_code == 403
    with open_workspace(team_workspace) as context:
        assert any(r.action == "web.csrf" and r.target == path for r in context.audit.tail(5))
