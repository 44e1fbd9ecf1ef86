"""Model scope (403), the dev-mode header, and that there is no app without an authenticator."""

from __future__ import annotations

import httpx
import pytest

from stockade.core.errors import StockadeError
from tests.api.conftest import build_app
from tests.serving.helpers import TOKEN, FixedTokenAuthenticator, serve_live

AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def scoped(tiny):
    app, engine = build_app(
        tiny, authenticator=FixedTokenAuthenticator(models=frozenset({"other@v2"})), dev=True
    )
    server = serve_live(app)
    yield server
    server.stop()
    engine.stop()


@pytest.mark.parametrize(
    ("path", "body", "shape"),
    [
        ("/generate", {"inputs": "x"}, "tgi"),
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}]}, "openai"),
    ],
)
def test_a_credential_for_another_model_is_refused(scoped, path: str, body: dict, shape: str) -> None:
    response = httpx.post(f"{scoped.url}{path}", json=body, headers=AUTH)
    assert response.status_code == 403
    error = response.json()["error"]
    assert (
        (error["type"] == "permission_error")
        if shape == "openai"
        else (response.json()["error_type"] == "permission")
    )


def test_dev_mode_is_announced_on_every_response(scoped, live) -> None:
    for response in (
        httpx.get(f"{scoped.url}/health"),
        httpx.post(f"{scoped.url}/generate", json={"inputs": "x"}),
    ):
        assert response.headers["x-stockade-dev-mode"] == "unapproved-model"
    assert "x-stockade-dev-mode" not in httpx.get(f"{live.url}/health").headers


def test_no_app_without_an_authenticator(tiny) -> None:
    with pytest.raises(StockadeError, match="authenticator"):
        build_app(tiny, authenticator=None)
    with pytest.raises(TypeError):
        from stockade.api.app import create_app

        create_app(object(), template=None, model_id="x")  # type: ignore[call-arg]


class RefuseEverything:
    """A stand-in for the security layer's ASGI middleware (allowlist, limits): refuses every request."""

    def __init__(self, app, status: int) -> None:
        self.app, self.status = app, status

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await send({"type": "http.response.start", "status": self.status, "headers": []})
        await send({"type": "http.response.body", "body": b""})


def test_middleware_is_added_and_dev_mode_still_announced(tiny) -> None:
    app, engine = build_app(tiny, dev=True, middleware=[(RefuseEverything, {"status": 403})])
    server = serve_live(app)
    try:
        response = httpx.get(f"{server.url}/health")
    finally:
        server.stop()
        engine.stop()
    assert response.status_code == 403  # the middleware answered before any route
    assert response.headers["x-stockade-dev-mode"] == "unapproved-model"
