"""Limits over HTTP: 429 + Retry-After, 422 in each family's shape, cancellation on disconnect, timeouts."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from tests.api.conftest import build_app
from tests.serving.helpers import TOKEN, serve_live

AUTH = {"Authorization": f"Bearer {TOKEN}"}
CHAT = "/v1/chat/completions"

BAD_TGI = [
    ({"inputs": "x", "parameters": {"max_new_tokens": 0}}, "max_new_tokens"),
    ({"inputs": "x", "parameters": {"temperature": -1}}, "temperature"),
    ({"inputs": "x", "parameters": {"top_p": 2}}, "top_p"),
    ({"inputs": "x", "parameters": {"top_k": 0}}, "top_k"),
    ({"inputs": "x", "parameters": {"best_of": 2}}, "best_of"),
    ({"inputs": "x", "parameters": {"unknown": 1}}, "unknown"),
    ({"inputs": ""}, "inputs"),
    ({"parameters": {}}, "inputs"),
    ({"inputs": "x", "parameters": {"max_new_tokens": 600}}, "inputs tokens + max_new_tokens must be <= 512"),
    ({"inputs": "风险" * 1000, "parameters": {"max_new_tokens": 5}}, "the model's context is 512"),
    ({"inputs": "x", "parameters": {"stop": ["a"] * 9}}, "at most 8 stop sequences"),
]


@pytest.mark.parametrize(("body", "message"), BAD_TGI)
@pytest.mark.parametrize("path", ["/generate", "/generate_stream"])
def test_tgi_bad_requests_get_422(live, path: str, body: dict, message: str) -> None:
    response = httpx.post(f"{live.url}{path}", json=body, headers=AUTH)
    assert response.status_code == 422
    error = response.json()
    assert error["error_type"] == "validation" and message in error["error"]


USER = [{"role": "user", "content": "x"}]
BAD_CHAT = [
    ({"messages": USER, "max_tokens": 0}, "max_tokens"),
    ({"messages": USER, "temperature": 3}, "temperature"),
    ({"messages": USER, "n": 2}, "n"),
    ({"messages": []}, "messages"),
    ({"messages": [{"role": "assistant", "content": "x"}]}, "expected user"),
    ({"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}]}, "last message"),
    ({"messages": USER, "max_tokens": 1000}, "inputs tokens + max_new_tokens must be <= 512"),
]


@pytest.mark.parametrize(("body", "message"), BAD_CHAT)
def test_openai_bad_requests_get_422_in_openai_shape(live, body: dict, message: str) -> None:
    response = httpx.post(f"{live.url}{CHAT}", json={"model": "tiny@v1", **body}, headers=AUTH)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and message in error["message"]
    assert set(error) == {"message", "type", "param", "code"}


def test_an_unknown_model_is_404(live) -> None:
    response = httpx.post(f"{live.url}{CHAT}", json={"model": "nope@v1", "messages": USER}, headers=AUTH)
    assert response.status_code == 404 and response.json()["error"]["code"] == "model_not_found"


@pytest.fixture(scope="module")
def tight(tiny):
    """One slot, one waiting place, a short time limit."""
    engine = {"max_batch_size": 1, "max_waiting": 1, "eos_token_ids": frozenset()}  # long generations
    app, engine = build_app(tiny, engine=engine, request_timeout=3.0)
    server = serve_live(app)
    yield server, engine
    server.stop()
    engine.stop()


def _wait_until(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)


def test_overload_gets_429_with_retry_after_in_both_shapes(tight) -> None:
    server, engine = tight
    long = {"inputs": "x", "parameters": {"max_new_tokens": 450}}

    async def main():
        async with httpx.AsyncClient(base_url=server.url, headers=AUTH, timeout=30) as client:
            running = asyncio.create_task(client.post("/generate", json=long))
            await asyncio.to_thread(_wait_until, lambda: engine.counters().running == 1)
            waiting = asyncio.create_task(client.post("/generate", json=long))
            await asyncio.to_thread(_wait_until, lambda: engine.counters().waiting == 1)
            tgi = await client.post("/generate", json=long)
            openai = await client.post(CHAT, json={"messages": USER, "max_tokens": 5})
            for task in (running, waiting):
                task.cancel()
            await asyncio.gather(running, waiting, return_exceptions=True)
            return tgi, openai

    tgi, openai = asyncio.run(main())
    assert tgi.status_code == 429 and int(tgi.headers["retry-after"]) >= 1
    assert tgi.json()["error_type"] == "overloaded"
    assert openai.status_code == 429 and openai.json()["error"]["type"] == "rate_limit_error"
    _wait_until(lambda: engine.idle())


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "blocking"])
def test_a_client_that_disconnects_cancels_its_generation(tight, stream: bool) -> None:
    server, engine = tight
    before = engine.counters().decoded_rows
    body = {"inputs": "x", "parameters": {"max_new_tokens": 450}}

    async def main():
        async with httpx.AsyncClient(base_url=server.url, headers=AUTH, timeout=30) as client:
            if stream:
                async with client.stream("POST", "/generate_stream", json=body) as response:
                    async for line in response.aiter_lines():
                        if line.startswith("data:"):
                            break  # first token seen: hang up
            else:
                task = asyncio.create_task(client.post("/generate", json=body))
                await asyncio.to_thread(_wait_until, lambda: engine.counters().running == 1)
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)

    asyncio.run(main())
    _wait_until(lambda: engine.counters().running == 0, timeout=5)
    stopped_at = engine.counters().decoded_rows
    time.sleep(0.3)
    assert engine.counters().decoded_rows == stopped_at  # nothing more generated for it
    assert stopped_at - before < 300  # well short of the 450 asked for


def test_the_request_timeout_answers_504_in_both_shapes(tiny) -> None:
    app, engine = build_app(tiny, engine={"eos_token_ids": frozenset()}, request_timeout=0.2)
    server = serve_live(app)
    try:
        with httpx.Client(base_url=server.url, headers=AUTH, timeout=30) as client:
            tgi = client.post("/generate", json={"inputs": "x", "parameters": {"max_new_tokens": 450}})
            openai = client.post(CHAT, json={"messages": USER, "max_tokens": 450})
    finally:
        server.stop()
        engine.stop()
    assert tgi.status_code == 504 and tgi.json()["error_type"] == "incomplete_generation"
    assert openai.status_code == 504 and openai.json()["error"]["type"] == "timeout"
