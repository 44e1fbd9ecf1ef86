"""Service accounts: `stockade user add teller-app --service` (no password, no login, API tokens only),
and the README's `token issue --user teller-app` line runs as written once that account exists."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stockade.governance.users import UserError, add_user, change_password
from stockade.security.authenticator import StockadeAuthenticator
from stockade.workspace.service import open_workspace
from tests.conftest import run_cli


def cli(root: Path, *args: str):
    return run_cli("--workspace", str(root), *args)


def test_a_service_account_gets_tokens_but_never_logs_in(workspace_dir: Path, tmp_path: Path) -> None:
    added = cli(workspace_dir, "user", "add", "teller-app", "--service")
    assert added.returncode == 0, added.stderr
    assert "service account" in added.stdout and "stockade token issue --user teller-app" in added.stdout
    users = {row["name"]: row for row in json.loads(cli(workspace_dir, "user", "list", "--json").stdout)}
    assert users["teller-app"]["kind"] == "service" and users["teller-app"]["roles"] == ["api_client"]
    # the README's line, as written (the shell's `| tail -n 1`)
    issued = cli(
        workspace_dir,
        "token",
        "issue",
        "--user",
        "teller-app",
        "--role",
        "api_client",
        "--model",
        "finance-qwen@v1",
    )
    assert issued.returncode == 0, issued.stderr
    token = issued.stdout.strip().splitlines()[-1]
    with open_workspace(workspace_dir) as context:
        principal = StockadeAuthenticator(context).authenticate(f"Bearer {token}", "127.0.0.1")
        assert principal.subject == "teller-app" and principal.roles == frozenset({"api_client"})
        with pytest.raises(UserError, match="service account"):
            change_password(context, "teller-app", "a brand new password")
        with pytest.raises(UserError, match="no password"):
            add_user(context, "other-app", ["api_client"], "some password here", service=True)
    for guess in ("", "!service-account", "a long enough guess"):
        password = tmp_path / "pw"
        password.write_text(guess + "\n")
        login = cli(workspace_dir, "login", "teller-app", "--password-file", str(password))
        assert login.returncode != 0 and "Traceback" not in login.stderr, guess
    with_password = cli(workspace_dir, "user", "add", "x-app", "--service", "--password-file", str(password))
    assert with_password.returncode == 2 and "no password" in with_password.stderr
    no_role = cli(workspace_dir, "user", "add", "carol", "--password-file", str(password))
    assert no_role.returncode == 2 and "--service" in no_role.stderr
