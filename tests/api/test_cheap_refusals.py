"""Cheap refusals first (issue 14): a prompt over 8 bytes per context token is refused before it is
tokenised, on every generation route and in each route family's error shape; prompts are tokenised in
worker threads, never on the event loop, a credential at a time; refusals still count toward the rate
limit, and their audit records are coalesced."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from stockade.api.prompt_limits import body_byte_limit, prompt_byte_limit, tail_within_limit
from stockade.api.tokenizing import PromptWorkers
from stockade.security.principal import AccessDenied
from stockade.security.ratelimit import RateLimited, RefusalTally, TokenBuckets
from tests.api.conftest import build_app
from tests.serving.helpers import TOKEN, FixedTokenAuthenticator, serve_live

AUTH = {"Authorization": f"Bearer {TOKEN}"}
CONTEXT = 512  # the tiny engine's (tests/serving/helpers.make_engine)
LIMIT = prompt_byte_limit(CONTEXT)
OVER = "风" * (LIMIT // 3 + 1)  # just over the limit in bytes, far under the body limit
ROUTES = [
    ("/generate", lambda text: {"inputs": text}),
    ("/generate_stream", lambda text: {"inputs": text}),
    ("/", lambda text: {"inputs": text}),
    ("/v1/chat/completions", lambda text: {"messages": [{"role": "user", "content": text}]}),
]


class SpyTokenizer:
    """The model's tokenizer, recording which thread tokenised how much text."""

    def __init__(self, inner: Any) -> None:
        self.__dict__.update(inner=inner, calls=[])

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def __call__(self, text: Any, *args: Any, **kwargs: Any) -> Any:
        self.calls.append((len(text), threading.current_thread().name))
        return self.inner(text, *args, **kwargs)


class Recorder:
    """An audit writer that keeps what it is given."""

    def __init__(self) -> None:
        self.records: list[tuple[str, dict]] = []

    def record(self, action: str, target: str | None, *, result: str = "ok", **details: Any) -> None:
        self.records.append((action, details))


@pytest.fixture(scope="module")
def spied(tiny) -> Iterator[tuple[str, SpyTokenizer, Any]]:
    audit = Recorder()
    app, engine = build_app(tiny, audit=audit)
    spy = engine.tokenizer = SpyTokenizer(engine.tokenizer)
    server = serve_live(app)
    yield server.url, spy, app
    server.stop()
    engine.stop()


def _is_refusal_shape(path: str, response: httpx.Response, field: str) -> str:
    assert response.status_code == 422, response.text
    if path.startswith("/v1/"):
        error = response.json()["error"]
        assert error["type"] == "invalid_request_error" and error["param"] == field
        return error["message"]
    error = response.json()
    assert error["error_type"] == "validation"
    return error["error"]


@pytest.mark.parametrize(("path", "body"), ROUTES)
def test_a_prompt_over_8_bytes_a_token_is_refused_before_tokenising(spied, path: str, body) -> None:
    url, spy, _ = spied
    spy.calls.clear()
    response = httpx.post(f"{url}{path}", json=body(OVER), headers=AUTH, timeout=30)
    field = "messages" if path.startswith("/v1/") else "inputs"
    message = _is_refusal_shape(path, response, field)
    assert f"at most {LIMIT} bytes" in message and "the model's context is 512 tokens" in message
    assert "checked before tokenising" in message
    assert spy.calls == []  # never tokenised


@pytest.mark.parametrize(("path", "body"), ROUTES)
def test_a_1_mb_prompt_is_refused_from_its_content_length(spied, path: str, body) -> None:
    url, spy, _ = spied
    spy.calls.clear()
    started = time.monotonic()
    response = httpx.post(f"{url}{path}", json=body("a" * 1_000_000), headers=AUTH, timeout=30)
    field = "messages" if path.startswith("/v1/") else "inputs"
    message = _is_refusal_shape(path, response, field)
    assert "request body is" in message and "too long for any prompt" in message
    assert spy.calls == [] and time.monotonic() - started < 5
    # the connection is still usable: the rest of the body was read past
    assert httpx.get(f"{url}/health").status_code == 200


def test_the_body_limit_leaves_room_for_any_escaped_prompt_under_the_limit(spied) -> None:
    url, spy, _ = spied
    escaped = "\x01" * LIMIT  # each byte spelt \u0001 in JSON: six times its size, still under the body limit
    assert len(httpx.Request("POST", url, json={"inputs": escaped}).content) <= body_byte_limit(CONTEXT)
    spy.calls.clear()
    response = httpx.post(f"{url}/generate", json={"inputs": escaped}, headers=AUTH, timeout=60)
    assert response.status_code == 422 and "the model's context is 512" in response.json()["error"]
    assert spy.calls  # within the byte limit, so tokenised (then too many tokens)


def test_prompts_are_tokenised_in_a_worker_thread_not_on_the_event_loop(spied) -> None:
    url, spy, _ = spied
    spy.calls.clear()
    for path, body in ROUTES[:1] + ROUTES[3:]:
        payload = {**body("你好"), **({"max_tokens": 2} if path.startswith("/v1/") else {})}
        assert httpx.post(f"{url}{path}", json=payload, headers=AUTH, timeout=60).status_code == 200
    assert spy.calls and all(name.startswith("stockade-prompt") for _, name in spy.calls)


def test_truncate_tokenises_only_the_tail_that_can_count() -> None:
    text = "前" * 10_000 + "tail"
    kept = tail_within_limit(text, CONTEXT)
    assert text.endswith(kept) and len(kept.encode()) <= LIMIT and kept.endswith("tail")
    assert tail_within_limit("short", CONTEXT) == "short"


def test_refused_requests_are_audited_once_a_minute_with_a_count(spied) -> None:
    url, _, app = spied
    state = app.state.served
    state.refusals = RefusalTally(window=1.0)
    audit = state.audit
    audit.records.clear()
    for _ in range(4):
        httpx.post(f"{url}/generate", json={"inputs": OVER}, headers=AUTH, timeout=30)
    refused = [d for a, d in audit.records if a == "serve.request" and d["status"] == 422]
    assert [d["refusals"] for d in refused] == [1]  # the first at once; three counted
    time.sleep(1.1)
    httpx.post(f"{url}/generate", json={"inputs": OVER}, headers=AUTH, timeout=30)
    refused = [d for a, d in audit.records if a == "serve.request" and d["status"] == 422]
    assert [d["refusals"] for d in refused] == [1, 4]  # the next one carries the three and itself
    assert refused[0]["caller"] == "key-test" and refused[0]["route"] == "/generate"
    ok = httpx.post(f"{url}/generate", json={"inputs": "你好"}, headers=AUTH, timeout=60)
    assert ok.status_code == 200
    served = [d for a, d in audit.records if a == "serve.request" and d["status"] == 200]
    assert len(served) == 1 and "refusals" not in served[0]  # answered requests: one record each


class LimitedAuthenticator(FixedTokenAuthenticator):
    """The fixed test token with a per-credential token bucket, as the real authenticator has."""

    def __init__(self, burst: int) -> None:
        super().__init__()
        self.buckets = TokenBuckets(rate=0.01, burst=burst)

    def authenticate(self, authorization: str | None, client_address: str):
        principal = super().authenticate(authorization, client_address)
        wait = self.buckets.take(principal.credential_id)
        if wait:
            raise RateLimited("too many requests for this credential", retry_after=wait)
        return principal


def test_refused_requests_count_toward_the_credentials_rate_limit(tiny) -> None:
    app, engine = build_app(tiny, authenticator=LimitedAuthenticator(burst=3))
    server = serve_live(app)
    try:
        statuses = [
            httpx.post(f"{server.url}/generate", json={"inputs": OVER}, headers=AUTH, timeout=30).status_code
            for _ in range(4)
        ]
    finally:
        server.stop()
        engine.stop()
    assert statuses == [422, 422, 422, 429]
    assert issubclass(RateLimited, AccessDenied)


def test_a_refused_request_counts_in_the_bucket_too() -> None:
    now = [0.0]
    buckets = TokenBuckets(rate=1.0, burst=2, clock=lambda: now[0])
    assert [buckets.take("k") for _ in range(2)] == [0.0, 0.0]
    for _ in range(10):  # hammering past the limit keeps it refused...
        now[0] += 0.5
        assert buckets.take("k") > 0
    now[0] += buckets.take("k")  # ...waiting as told lets the next one through
    assert buckets.take("k") == 0.0


def test_one_credential_cannot_take_every_prompt_worker() -> None:
    async def scenario() -> list[str]:
        workers = PromptWorkers(workers=4, per_credential=1)
        release = threading.Event()
        order: list[str] = []

        def job(name: str, wait: bool) -> str:
            order.append(f"start {name}")
            if wait:
                release.wait(10)
            order.append(f"end {name}")
            return name

        a1 = asyncio.ensure_future(workers.run("A", lambda: job("a1", True)))
        a2 = asyncio.ensure_future(workers.run("A", lambda: job("a2", False)))
        await asyncio.sleep(0.2)
        assert await workers.run("B", lambda: job("b1", False)) == "b1"  # not behind A's queue
        assert "start a2" not in order  # A's second waits for A's first
        release.set()
        assert await asyncio.gather(a1, a2) == ["a1", "a2"]
        workers.close()
        return order

    order = asyncio.run(scenario())
    assert order.index("start b1") < order.index("end a1") < order.index("start a2")


def test_a_cancelled_caller_keeps_its_worker_slot_until_the_work_ends() -> None:
    async def scenario() -> None:
        workers = PromptWorkers(workers=2, per_credential=1)
        release = threading.Event()
        running: list[str] = []

        def job(name: str) -> None:
            running.append(name)
            release.wait(10)

        first = asyncio.ensure_future(workers.run("A", lambda: job("first")))
        await asyncio.sleep(0.1)
        first.cancel()
        second = asyncio.ensure_future(workers.run("A", lambda: job("second")))
        await asyncio.sleep(0.2)
        assert running == ["first"]  # the thread still works for the cancelled caller
        release.set()
        await second
        assert running == ["first", "second"]
        workers.close()

    asyncio.run(scenario())
