"""Attacks against the real serving API (tiny model), each refused with the right status and audited."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

from stockade.security.service import issue_credential, revoke_credential
from tests.security.conftest import Served, audit_rows
from tests.security.test_api_keys import _expire
from tests.security.test_jwt import ATTACKS


def _routes(app: Any) -> list[tuple[str, str]]:
    paths = app.openapi()["paths"]
    return [(method.upper(), path) for path, operations in paths.items() for method in operations]


def test_every_route_but_health_requires_a_credential(served: Served) -> None:
    routes = _routes(served.app)
    assert ("GET", "/health") in routes and len(routes) >= 6
    for method, path in routes:
        anonymous = httpx.request(method, served.url + path, json={})
        bogus = httpx.request(method, served.url + path, json={}, headers={"Authorization": "Bearer nope"})
        expected = 200 if path == "/health" else 401
        assert (anonymous.status_code, bogus.status_code) == (expected, expected), (method, path)
    good = httpx.get(served.url + "/info", headers={"Authorization": f"Bearer {served.api_key}"})
    assert good.status_code == 200
    assert (
        httpx.get(served.url + "/metrics", headers={"Authorization": f"Bearer {served.jwt}"}).status_code
        == 200
    )


@pytest.mark.parametrize(("name", "forge", "reason"), ATTACKS, ids=[a[0] for a in ATTACKS])
def test_forged_jwts_get_401_and_an_audit_record(served: Served, name, forge, reason) -> None:
    forged = forge(served.context, served.jwt)
    address = f"10.50.{ATTACKS.index(next(a for a in ATTACKS if a[0] == name))}.1"
    response = httpx.get(
        served.url + "/info", headers={"Authorization": f"Bearer {forged}", "X-Forwarded-For": address}
    )
    assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"
    records = [r for r in audit_rows(served.context, "auth.failure") if r.source == f"api:{address}"]
    assert records and records[-1].reason == reason


@pytest.mark.parametrize("spoil", ["revoked", "expired"])
def test_revoked_and_expired_api_keys_get_401(served: Served, spoil: str) -> None:
    context = served.context
    issued = issue_credential(context, kind="api_key", subject=context.actor.name, roles=["admin"])
    headers = {"Authorization": f"Bearer {issued.token}"}
    assert httpx.get(served.url + "/info", headers=headers).status_code == 200
    if spoil == "revoked":
        revoke_credential(context, issued.credential.id)
    else:
        _expire(context, issued.credential.id)
    assert httpx.get(served.url + "/info", headers=headers).status_code == 401
    assert audit_rows(context, "auth.failure")[-1].reason == spoil
    assert audit_rows(context, "auth.failure")[-1].target == issued.credential.id


def test_a_key_scoped_to_another_model_gets_403(served: Served) -> None:
    context = served.context
    issued = issue_credential(
        context, kind="api_key", subject=context.actor.name, roles=["admin"], models=["other@v1"]
    )
    response = httpx.post(
        served.url + "/generate",
        json={"inputs": "hi", "parameters": {"max_new_tokens": 2}},
        headers={"Authorization": f"Bearer {issued.token}"},
    )
    assert response.status_code == 403


def _asgi(app: Any, peer: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=(peer, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            return await client.request(method, path, **kwargs)

    return asyncio.run(go())


@pytest.mark.parametrize("spoofed", ["10.1.2.3", "127.0.0.1", "10.1.2.3, 127.0.0.1"])
def test_x_forwarded_for_from_an_untrusted_peer_is_ignored(served: Served, spoofed: str) -> None:
    headers = {"Authorization": f"Bearer {served.api_key}", "X-Forwarded-For": spoofed}
    response = _asgi(served.app, "192.0.2.77", "GET", "/info", headers=headers)
    assert response.status_code == 403
    records = [r for r in audit_rows(served.context, "access.denied") if r.target == "192.0.2.77"]
    assert records and records[-1].reason == "allowlist"
    assert served.api_key[21:] not in str(records[-1].details)


def test_brute_force_locks_the_address_out(served: Served) -> None:
    from stockade.api.app import create_app
    from stockade.core.security_settings import SecuritySettings
    from stockade.data.templates import resolve_template
    from stockade.security.authenticator import StockadeAuthenticator, build_middleware

    strict = SecuritySettings(
        **{**served.context.workspace.settings.security.model_dump(), "lockout_failures": 4}
    )
    app = create_app(
        served.engine,
        authenticator=StockadeAuthenticator(served.context, strict),
        template=resolve_template("qwen", served.engine.tokenizer),
        model_id="tiny@v1",
        middleware=build_middleware(served.context),
    )
    for attempt in range(4):
        guess = f"Bearer stk_{'0' * 16}_{'x' * 42}{attempt}"
        assert _asgi(app, "10.66.0.1", "GET", "/info", headers={"Authorization": guess}).status_code == 401
    good = {"Authorization": f"Bearer {served.api_key}"}
    assert _asgi(app, "10.66.0.1", "GET", "/info", headers=good).status_code == 403
    assert _asgi(app, "10.66.0.2", "GET", "/info", headers=good).status_code == 200
    assert [r for r in audit_rows(served.context, "auth.lockout") if r.source == "api:10.66.0.1"]


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_oversized_body_gets_413(served: Served) -> None:
    body = {"inputs": "x" * 70_000, "parameters": {"max_new_tokens": 1}}
    response = httpx.post(
        served.url + "/generate", json=body, headers={"Authorization": f"Bearer {served.jwt}"}
    )
    assert response.status_code == 413


def _no_path(field: dict[str, Any]) -> bool:
    import re

    if field.get("type") == "null":
        return True
    strings = [f for f in field.get("anyOf", [field]) if f.get("type") == "string"]
    return all(
        "pattern" in f and re.match(f["pattern"], "risk@v2") and not re.match(f["pattern"], "../a/b@v1")
        for f in strings
    )


def test_no_route_takes_a_file_path(served: Served) -> None:
    """Path traversal on the API: no parameter names a file (the model and adapter are fixed at start)."""
    schema = served.app.openapi()
    fields: dict[str, Any] = {}
    for operations in schema["paths"].values():
        for operation in operations.values():
            fields |= {
                parameter["name"]: parameter.get("schema") for parameter in operation.get("parameters", [])
            }
    for component in schema.get("components", {}).get("schemas", {}).values():
        fields |= component.get("properties", {})
    file_like = {
        n: f for n, f in fields.items() if any(w in n.lower() for w in ("path", "file", "dir", "adapter"))
    }
    # typed null, or (TGI adapter_id) a string whose pattern is a version NAME@vN, which holds no "/"
    assert all(_no_path(field) for field in file_like.values()), file_like
    traversal = {"inputs": "hi", "parameters": {"max_new_tokens": 1, "adapter_id": "../../../etc/passwd"}}
    response = httpx.post(served.url + "/generate", json=traversal, headers=_bearer(served.jwt))
    assert response.status_code == 422 and "root:" not in response.text


def test_success_is_audited_without_the_secret(served: Served) -> None:
    started = time.time()
    assert (
        httpx.get(served.url + "/info", headers={"Authorization": f"Bearer {served.jwt}"}).status_code == 200
    )
    record = audit_rows(served.context, "auth.success")[-1]
    assert record.actor == served.context.actor.name and record.result == "ok"
    assert served.jwt.split(".")[2] not in str(record.details) + str(record.target)
    assert time.time() - started < 10


def test_the_schema_and_every_model_route_need_the_model_call_permission(served: Served) -> None:
    from stockade.governance.users import add_user

    assert httpx.get(served.url + "/openapi.json").status_code == 401  # the schema is not public
    schema = httpx.get(served.url + "/openapi.json", headers=_bearer(served.api_key))
    assert schema.status_code == 200 and "/generate" in schema.json()["paths"]
    context = served.context
    add_user(context, "audrey", ["auditor"], "auditor-password-1")
    auditor = issue_credential(context, kind="api_key", subject="audrey", roles=["auditor"])
    for method, path in [("GET", "/info"), ("POST", "/generate"), ("GET", "/metrics")]:
        body = {"inputs": "hi", "parameters": {"max_new_tokens": 2}} if method == "POST" else None
        refused = httpx.request(method, served.url + path, json=body, headers=_bearer(auditor.token))
        assert refused.status_code == 403, (path, refused.text)
    assert "api_client" in refused.json()["error"]
