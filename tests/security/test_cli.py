"""`stockade token` and `stockade pki` as a user runs them: token alone on the last line, admin only,
no secret in listings, and file-naming parameters that cannot escape the workspace."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from stockade.security.authenticator import StockadeAuthenticator
from stockade.security.principal import AuthenticationFailed
from stockade.workspace.service import open_workspace
from tests.conftest import run_cli


def cli(root: Path, *args: str):
    return run_cli("--workspace", str(root), *args)


def test_token_issue_list_revoke(workspace_dir: Path) -> None:
    issued = cli(workspace_dir, "token", "issue", "--role", "admin", "--kind", "api-key", "--model", "m@v1")
    assert issued.returncode == 0, issued.stderr
    token = issued.stdout.strip().splitlines()[-1]
    assert token.startswith("stk_") and " " not in token
    jwt = (
        cli(workspace_dir, "token", "issue", "--role", "admin", "--ttl", "120")
        .stdout.strip()
        .splitlines()[-1]
    )
    with open_workspace(workspace_dir) as context:
        authenticator = StockadeAuthenticator(context)
        principal = authenticator.authenticate(f"Bearer {token}", "127.0.0.1")
        assert principal.models == frozenset({"m@v1"}) and principal.roles == frozenset({"admin"})
        assert authenticator.authenticate(f"Bearer {jwt}", "127.0.0.1").credential == "jwt"
    listed = cli(workspace_dir, "token", "list", "--json")
    rows = json.loads(listed.stdout)
    assert {row["kind"] for row in rows} == {"api_key", "jwt"} and token[21:] not in listed.stdout
    assert jwt not in listed.stdout
    revoked = cli(workspace_dir, "token", "revoke", principal.credential_id, "--reason", "rotated")
    assert revoked.returncode == 0, revoked.stderr
    with open_workspace(workspace_dir) as context, pytest.raises(AuthenticationFailed, match="revoked"):
        StockadeAuthenticator(context).authenticate(f"Bearer {token}", "127.0.0.1")
    tail = cli(workspace_dir, "audit", "tail", "--json", "-n", "50").stdout
    assert '"token.issue"' in tail and '"token.revoke"' in tail and token[21:] not in tail


def test_only_admins_manage_tokens_and_pki(workspace_dir: Path, tmp_path: Path) -> None:
    from stockade.governance.users import add_user

    with open_workspace(workspace_dir) as context:
        add_user(context, "trainer1", ["trainer"], "a long enough password")
    password = tmp_path / "password"
    password.write_text("a long enough password\n")
    os.chmod(password, 0o600)
    assert cli(workspace_dir, "login", "trainer1", "--password-file", str(password)).returncode == 0
    for args in (("token", "issue", "--role", "trainer"), ("token", "list"), ("pki", "init")):
        refused = cli(workspace_dir, *args)
        assert refused.returncode == 3 and "may not do" in refused.stderr, args
    assert not (workspace_dir / "pki" / "ca.key").exists()


@pytest.mark.parametrize(
    "args",
    [
        ("pki", "issue", "--host", "a.internal", "--name", "../../escaped"),
        ("pki", "issue", "--host", "../../escaped"),
        ("pki", "issue", "--client", "--host", "x", "--name", "/tmp/escaped"),
        ("token", "revoke", "../../escaped"),
        ("token", "issue", "--role", "admin", "--model", "../../escaped@v1"),
        ("data", "show", "../../escaped"),
    ],
)
def test_file_naming_parameters_cannot_escape(workspace_dir: Path, args: tuple[str, ...]) -> None:
    assert cli(workspace_dir, "pki", "init").returncode == 0
    before = sorted(
        p.relative_to(workspace_dir.parent) for p in workspace_dir.parent.rglob("*") if "escaped" in p.name
    )
    result = cli(workspace_dir, *args)
    assert result.returncode == 2, result.stdout + result.stderr
    after = sorted(
        p.relative_to(workspace_dir.parent) for p in workspace_dir.parent.rglob("*") if "escaped" in p.name
    )
    assert before == after == [] and not Path("/tmp/escaped.crt").exists()


def test_pki_init_issue_and_nginx_config(workspace_dir: Path, tmp_path: Path) -> None:
    assert cli(workspace_dir, "pki", "init").returncode == 0
    issued = cli(workspace_dir, "pki", "issue", "--host", "localhost", "--ip", "127.0.0.1")
    assert issued.returncode == 0, issued.stderr
    assert (workspace_dir / "pki" / "certs" / "server.key").stat().st_mode & 0o777 == 0o600
    config = cli(workspace_dir, "pki", "nginx-config", "--upstream", "127.0.0.1:5000", "--listen", "8443")
    assert "ssl_certificate" in config.stdout and "allow 127.0.0.0/8;" in config.stdout
    out = tmp_path / "stockade.conf"
    assert cli(workspace_dir, "pki", "nginx-config", "--out", str(out)).returncode == 0 and out.is_file()
    assert cli(workspace_dir, "pki", "nginx-config", "--out", str(out)).returncode == 2  # never overwritten
