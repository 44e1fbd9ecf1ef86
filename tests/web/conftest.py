"""A console over a workspace with alice (trainer, data steward) and bob (reviewer)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from stockade.web.app import ConsoleSettings, create_app
from tests.jobs.conftest import team_workspace  # noqa: F401 - the fixture

PASSWORDS = {"alice": "alice-password-1", "bob": "bob-password-1", "admin": "admin-password-1"}


@pytest.fixture
def console(team_workspace: Path) -> TestClient:  # noqa: F811
    app = create_app(ConsoleSettings(workspace=team_workspace, max_upload_bytes=4096), dispatcher=False)
    return TestClient(app, base_url="http://127.0.0.1")


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, html[:500]
    return match.group(1)


def log_in(client: TestClient, name: str) -> str:
    """Log in through the form; returns the session's CSRF token (from the next page)."""
    page = client.get("/login")
    response = client.post(
        "/login",
        data={"csrf": csrf_of(page.text), "name": name, "password": PASSWORDS[name]},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return csrf_of(client.get("/jobs").text)
