"""JWT attacks: each is refused with a loggable reason (401) and leaves an audit record without the token."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from pathlib import Path

import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives import serialization

from stockade.security.authenticator import StockadeAuthenticator
from stockade.security.jwt import keyring_for
from stockade.security.principal import AuthenticationFailed
from stockade.security.service import revoke_credential
from stockade.workspace.service import open_workspace
from tests.security.conftest import all_audit_text, audit_rows, set_security


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _forge_hs256(claims: dict, secret: bytes, kid: str) -> str:
    """HS256 signed with the server's *public* key as the HMAC secret (the key-confusion attack)."""
    head = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}).encode())
    body = _b64(json.dumps(claims).encode())
    signature = hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{_b64(signature)}"


def _claims(token: str) -> dict:
    return pyjwt.decode(token, options={"verify_signature": False})


def _resign(context, token: str, **changes: object) -> str:
    """The same claims with ``changes`` (None removes one), signed with the real current key."""
    settings = context.workspace.settings.security
    key = keyring_for(context.workspace.folder("pki"), settings.jwt_algorithm).current()
    claims = {k: v for k, v in {**_claims(token), **changes}.items() if v is not None}
    return pyjwt.encode(claims, key.private, algorithm=settings.jwt_algorithm, headers={"kid": key.kid})


def _public_pem(context) -> bytes:
    settings = context.workspace.settings.security
    key = keyring_for(context.workspace.folder("pki"), settings.jwt_algorithm).current()
    return key.public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _kid(token: str) -> str:
    return pyjwt.get_unverified_header(token)["kid"]


def _tamper_signature(token: str) -> str:
    head, body, signature = token.split(".")
    flipped = signature[:-6] + ("AAAAAA" if not signature.endswith("AAAAAA") else "BBBBBB")
    return f"{head}.{body}.{flipped}"


def _tamper_payload(token: str) -> str:
    head, _, signature = token.split(".")
    claims = {**_claims(token), "roles": ["admin", "auditor"], "sub": "mallory"}
    return f"{head}.{_b64(json.dumps(claims).encode())}.{signature}"


now = int(time.time())
ATTACKS: list[tuple[str, Callable, str]] = [
    (
        "alg none",
        lambda c, t: pyjwt.encode(_claims(t), None, algorithm="none", headers={"kid": _kid(t)}),
        "algorithm",
    ),
    (
        "HS256 with the public key",
        lambda c, t: _forge_hs256(_claims(t), _public_pem(c), _kid(t)),
        "algorithm",
    ),
    ("expired", lambda c, t: _resign(c, t, iat=now - 7200, nbf=now - 7200, exp=now - 3600), "expired"),
    ("not yet valid", lambda c, t: _resign(c, t, nbf=now + 3600, exp=now + 7200), "not_yet_valid"),
    ("issued in the future", lambda c, t: _resign(c, t, iat=now + 3600, exp=now + 7200), "not_yet_valid"),
    ("wrong audience", lambda c, t: _resign(c, t, aud="another-service"), "audience"),
    ("audience list", lambda c, t: _resign(c, t, aud=["stockade-api", "x"]), "audience"),
    ("wrong issuer", lambda c, t: _resign(c, t, iss="someone-else"), "issuer"),
    ("no exp", lambda c, t: _resign(c, t, exp=None), "missing_claim"),
    ("no sub", lambda c, t: _resign(c, t, sub=None), "missing_claim"),
    ("tampered signature", lambda c, t: _tamper_signature(t), "signature"),
    ("tampered payload", lambda c, t: _tamper_payload(t), "signature"),
    ("unknown kid", lambda c, t: _forge_kid(c, t, "20990101000000000000-deadbeef"), "unknown_key"),
    ("kid path traversal", lambda c, t: _forge_kid(c, t, "../../pki/ca"), "unknown_key"),
    ("not a JWT", lambda c, t: "not.a.jwt", "malformed"),
]


def _forge_kid(context, token: str, kid: str) -> str:
    settings = context.workspace.settings.security
    key = keyring_for(context.workspace.folder("pki"), settings.jwt_algorithm).current()
    return pyjwt.encode(_claims(token), key.private, algorithm=settings.jwt_algorithm, headers={"kid": kid})


@pytest.mark.parametrize(("name", "forge", "reason"), ATTACKS, ids=[a[0] for a in ATTACKS])
def test_forged_tokens_are_refused_and_audited(context, authenticator, issue, name, forge, reason) -> None:
    genuine = issue("jwt").token
    assert authenticator.authenticate(f"Bearer {genuine}", "127.0.0.1").subject == context.actor.name
    forged = forge(context, genuine)
    with pytest.raises(AuthenticationFailed) as refused:
        authenticator.authenticate(f"Bearer {forged}", "127.0.0.1")
    assert refused.value.reason == reason
    failures = audit_rows(context, "auth.failure")
    assert failures and failures[-1].reason == reason and failures[-1].result == "denied"
    text = all_audit_text(context)
    assert genuine.split(".")[2] not in text
    assert len(forged.split(".")[-1]) < 16 or forged.split(".")[-1] not in text


@pytest.mark.parametrize("algorithm", ["RS256", "HS256"])
def test_other_pinned_algorithms_verify_and_refuse_confusion(workspace_dir: Path, algorithm: str) -> None:
    set_security(workspace_dir, jwt_algorithm=algorithm)
    with open_workspace(workspace_dir) as context:
        from stockade.security.service import issue_credential

        token = issue_credential(context, kind="jwt", subject=context.actor.name, roles=["admin"]).token
        authenticator = StockadeAuthenticator(context)
        assert authenticator.authenticate(f"Bearer {token}", "::1").credential == "jwt"
        none_token = pyjwt.encode(_claims(token), None, algorithm="none", headers={"kid": _kid(token)})
        with pytest.raises(AuthenticationFailed) as refused:
            authenticator.authenticate(f"Bearer {none_token}", "::1")
        assert refused.value.reason == "algorithm"
        if algorithm == "RS256":
            forged = _forge_hs256(_claims(token), _public_pem(context), _kid(token))
            with pytest.raises(AuthenticationFailed, match="algorithm"):
                authenticator.authenticate(f"Bearer {forged}", "::1")
        files = list((workspace_dir / "pki" / "jwt").iterdir())
        assert files and all(path.stat().st_mode & 0o777 == 0o600 for path in files)


def test_key_rotation_keeps_old_tokens_until_the_key_is_removed(context, authenticator, issue) -> None:
    from stockade.security.service import rotate_signing_key

    old = issue("jwt").token
    new_kid = rotate_signing_key(context)
    new = issue("jwt").token
    assert _kid(new) == new_kid != _kid(old)
    for token in (old, new):
        assert authenticator.authenticate(f"Bearer {token}", "127.0.0.1").credential == "jwt"
    for path in (context.workspace.folder("pki") / "jwt").glob(f"{_kid(old)}.*"):
        path.unlink()  # retired: no reload needed, the running authenticator sees it at once
    with pytest.raises(AuthenticationFailed, match="kid"):
        authenticator.authenticate(f"Bearer {old}", "127.0.0.1")


def test_revoked_jwt_is_refused(context, authenticator, issue) -> None:
    issued = issue("jwt")
    revoke_credential(context, issued.credential.id, reason="laptop lost")
    with pytest.raises(AuthenticationFailed) as refused:
        authenticator.authenticate(f"Bearer {issued.token}", "127.0.0.1")
    assert refused.value.reason == "revoked"
    assert audit_rows(context, "token.revoke")[-1].reason == "laptop lost"


def test_claims_carry_the_required_fields_and_a_short_lifetime(issue) -> None:
    claims = _claims(issue("jwt", models=["qwen@v2"]).token)
    assert {"exp", "iat", "nbf", "aud", "iss", "sub", "jti"} <= claims.keys()
    assert claims["exp"] - claims["iat"] == 900 and claims["models"] == ["qwen@v2"]


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "missing"),
        ("", "missing"),
        ("Basic dXNlcjpwdw==", "scheme"),
        ("Bearer", "scheme"),
        ("Bearer  ", "scheme"),
    ],
)
def test_missing_or_wrong_scheme(authenticator, header, reason) -> None:
    with pytest.raises(AuthenticationFailed) as refused:
        authenticator.authenticate(header, "127.0.0.1")
    assert refused.value.reason == reason
