"""One error shape per protocol, whoever refuses: the security middleware (403 allowlist, 413 body,
429 rate), FastAPI itself (a GBK body, an unknown route, a wrong method) and authentication (401).
TGI routes answer ``{error, error_type}``; OpenAI routes (``/v1/...``) ``{error: {message, type, param,
code}}`` — never ``{"detail": ...}``."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.security.conftest import Served
from tests.security.test_api_e2e import _asgi

TGI, OPENAI = "/generate", "/v1/chat/completions"
BODIES = {
    TGI: {"inputs": "解释债券违约风险", "parameters": {"max_new_tokens": 1}},
    OPENAI: {"model": "tiny@v1", "messages": [{"role": "user", "content": "解释"}], "max_tokens": 1},
}


def check_shape(path: str, response: httpx.Response) -> str:
    """The body's message, after checking it has exactly the shape of ``path``'s protocol."""
    assert response.headers["content-type"].startswith("application/json"), response.text
    body = response.json()
    if path.startswith("/v1/"):
        assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}, body
        assert isinstance(body["error"]["type"], str) and isinstance(body["error"]["code"], str), body
        return body["error"]["message"]
    assert set(body) == {"error", "error_type"} and isinstance(body["error"], str), body
    assert isinstance(body["error_type"], str), body
    return body["error"]


@pytest.fixture(scope="module")
def strict_app(served: Served) -> Any:
    """The served model behind a middleware that allows one request per address (then 429)."""
    from stockade.api.app import create_app
    from stockade.data.templates import resolve_template
    from stockade.security.asgi import SecurityMiddleware
    from stockade.security.authenticator import StockadeAuthenticator

    options = {"allowlist": ["10.0.0.0/8"], "rate_per_address": 0.001, "burst_per_address": 1}
    return create_app(
        served.engine,
        authenticator=StockadeAuthenticator(served.context),
        template=resolve_template("qwen", served.engine.tokenizer),
        model_id="tiny@v1",
        middleware=[(SecurityMiddleware, options)],
    )


@pytest.mark.parametrize("path", [TGI, OPENAI])
def test_every_refusal_has_the_protocols_shape(served: Served, strict_app: Any, path: str) -> None:
    auth = {"Authorization": f"Bearer {served.api_key}"}
    json_type = {"Content-Type": "application/json"}
    gbk = json.dumps(BODIES[path], ensure_ascii=False).encode("gbk")
    cases: list[tuple[str, int, httpx.Response]] = [
        ("allowlist", 403, _asgi(served.app, "192.0.2.77", "POST", path, json=BODIES[path], headers=auth)),
        ("body", 413, httpx.post(served.url + path, content=b"x" * 70_000, headers={**auth, **json_type})),
        ("gbk body", 400, httpx.post(served.url + path, content=gbk, headers={**auth, **json_type})),
        ("no credential", 401, httpx.post(served.url + path, json=BODIES[path])),
        ("wrong method", 405, httpx.get(served.url + path, headers=auth)),
        ("no route", 404, httpx.post(served.url + path + "/nothing", json={}, headers=auth)),
    ]
    peer = "10.9.9.1" if path == TGI else "10.9.9.2"
    _asgi(strict_app, peer, "POST", path, json=BODIES[path], headers=auth)
    cases.append(("rate", 429, _asgi(strict_app, peer, "POST", path, json=BODIES[path], headers=auth)))
    for name, status, response in cases:
        assert response.status_code == status, (name, response.text)
        message = check_shape(path if name != "no route" else path + "/nothing", response)
        assert message and "detail" not in response.json(), name
        if name == "gbk body":
            assert "UTF-8" in message
        if name == "no credential":
            assert "stockade token issue" in message and "Authorization: Bearer" in message
        if name == "rate":
            assert response.headers["retry-after"]
