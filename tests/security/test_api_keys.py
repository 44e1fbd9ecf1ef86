"""API keys: random, stored only as a hash, scoped, expiring, revocable; every refusal audited."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import update

from stockade.governance.users import add_user, set_status
from stockade.security.api_keys import new_api_key, parse_api_key
from stockade.security.principal import AuthenticationFailed
from stockade.security.service import CredentialError, list_credentials, revoke_credential
from stockade.storage.database import make_session_factory
from stockade.storage.security_tables import IssuedCredential
from tests.security.conftest import all_audit_text, audit_rows


def test_keys_are_long_random_and_distinct() -> None:
    keys = [new_api_key() for _ in range(50)]
    assert len({key.token for key in keys}) == 50 and len({key.key_id for key in keys}) == 50
    for key in keys:
        key_id, secret = parse_api_key(key.token)
        assert key_id == key.key_id and len(base64.urlsafe_b64decode(secret + "=")) >= 32


def test_only_the_hash_is_stored_and_the_key_authenticates(context, authenticator, issue) -> None:
    issued = issue("api_key", roles=("admin",), models=["qwen@v1"])
    principal = authenticator.authenticate(f"Bearer {issued.token}", "10.0.0.1")
    assert principal.credential == "api_key" and principal.credential_id == issued.credential.id
    assert principal.may_use("qwen@v1") and not principal.may_use("qwen@v2")
    secret = issued.token[21:]
    database = context.workspace.database_path.read_bytes()
    for suffix in ("-wal", "-shm"):
        path = context.workspace.database_path.with_name(context.workspace.database_path.name + suffix)
        database += path.read_bytes() if path.exists() else b""
    assert secret.encode() not in database and secret not in all_audit_text(context)
    assert audit_rows(context, "auth.success")[-1].target == issued.credential.id


def _expire(context, credential_id: str) -> None:
    past = (datetime.now(timezone.utc) - timedelta(seconds=1)).isoformat(timespec="seconds")
    with make_session_factory(context.engine).begin() as session:
        session.execute(
            update(IssuedCredential).where(IssuedCredential.id == credential_id).values(expires_at=past)
        )


CASES = [
    ("revoked", lambda c, t: revoke_credential(c, t.credential.id) and t.token, "revoked"),
    ("expired", lambda c, t: _expire(c, t.credential.id) or t.token, "expired"),
    (
        "wrong secret",
        lambda c, t: t.token[:-4] + ("AAAA" if not t.token.endswith("AAAA") else "BBBB"),
        "secret",
    ),
    ("unknown id", lambda c, t: "stk_0123456789abcdef_" + t.token[21:], "unknown"),
    ("malformed", lambda c, t: "stk_../../etc/passwd", "malformed"),
    ("truncated", lambda c, t: t.token[:30], "malformed"),
]


@pytest.mark.parametrize(("name", "spoil", "reason"), CASES, ids=[c[0] for c in CASES])
def test_bad_keys_are_refused_and_audited(context, authenticator, issue, name, spoil, reason) -> None:
    issued = issue("api_key")
    token = spoil(context, issued)
    with pytest.raises(AuthenticationFailed) as refused:
        authenticator.authenticate(f"Bearer {token}", "10.0.0.2")
    assert refused.value.reason == reason
    record = audit_rows(context, "auth.failure")[-1]
    assert record.reason == reason and record.result == "denied"
    assert token[21:] not in all_audit_text(context) or len(token) < 30


def test_a_disabled_users_keys_stop_working(context, authenticator) -> None:
    from stockade.security.service import issue_credential

    add_user(context, "svc-batch", ["api_client"], "a long enough password")
    issued = issue_credential(context, kind="api_key", subject="svc-batch", roles=["api_client"])
    assert authenticator.authenticate(f"Bearer {issued.token}", "127.0.0.1").subject == "svc-batch"
    set_status(context, "svc-batch", "disabled", reason="left the bank")
    with pytest.raises(AuthenticationFailed) as refused:
        authenticator.authenticate(f"Bearer {issued.token}", "127.0.0.1")
    assert refused.value.reason == "user_disabled"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"roles": ("auditor",)}, "does not hold"),
        ({"roles": ()}, "at least one role"),
        ({"roles": ("Admin;drop",)}, "not a role name"),
        ({"models": ["../x"]}, "not NAME@vN"),
        ({"ttl_seconds": 10 * 365 * 86400}, "outside"),
    ],
)
def test_issue_refuses_bad_scopes(issue, options, message) -> None:
    with pytest.raises(CredentialError, match=message):
        issue("api_key", **options)


def test_list_shows_status_and_never_a_secret(context, issue) -> None:
    kept, revoked = issue("api_key"), issue("jwt")
    revoke_credential(context, revoked.credential.id)
    active = {view.id for view in list_credentials(context)}
    assert active == {kept.credential.id}
    every = {view.id: view.status for view in list_credentials(context, include_inactive=True)}
    assert every[revoked.credential.id] == "revoked"
    dumped = json.dumps([view.as_dict() for view in list_credentials(context, include_inactive=True)])
    assert kept.token[21:] not in dumped and revoked.token not in dumped
