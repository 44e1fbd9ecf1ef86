"""The ASGI middleware in front of a minimal app: 403 outside the allowlist (X-Forwarded-For only
from trusted proxies), 429 over the address rate, 413 over the body limit, CORS off."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from stockade.security.asgi import SecurityMiddleware


async def echo(request: Request) -> JSONResponse:
    body = await request.body()
    return JSONResponse(
        {"client": request.client.host if request.client else None, "bytes": len(body)},
        headers={"Access-Control-Allow-Origin": "*"},
    )


def make_app(records: list, **options: Any) -> SecurityMiddleware:
    app = Starlette(routes=[Route("/echo", echo, methods=["GET", "POST", "OPTIONS"])])
    settings = {
        "allowlist": ["10.0.0.0/8", "2001:db8::/32"],
        "trusted_proxies": ["127.0.0.1"],
        "max_body_bytes": 1024,
        "record": lambda *event: records.append(event),
    }
    return SecurityMiddleware(app, **{**settings, **options})


def call(app, peer: str, method: str = "GET", **kwargs: Any) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=(peer, 5555))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.request(method, "/echo", **kwargs)

    return asyncio.run(go())


CASES = [
    ("10.1.1.1", {}, 200, "10.1.1.1"),
    ("2001:db8::7", {}, 200, "2001:db8::7"),
    ("192.168.0.9", {}, 403, None),
    ("192.168.0.9", {"X-Forwarded-For": "10.1.1.1"}, 403, None),  # spoofing from an untrusted peer
    ("127.0.0.1", {"X-Forwarded-For": "10.1.1.1"}, 200, "10.1.1.1"),  # via the trusted proxy
    ("127.0.0.1", {"X-Forwarded-For": "192.168.0.9"}, 403, None),
    ("127.0.0.1", {}, 403, None),
]


@pytest.mark.parametrize(("peer", "headers", "status", "client"), CASES)
def test_allowlist_on_the_real_address(peer, headers, status, client) -> None:
    records: list = []
    response = call(make_app(records), peer, headers=headers)
    assert response.status_code == status
    if status == 200:
        assert response.json()["client"] == client and not records
    else:
        assert records and records[0][0] == "access.denied" and records[0][2] == "allowlist"
        assert "10.1.1.1" not in str(records[0][1]) or peer == "127.0.0.1"
    assert response.headers["x-content-type-options"] == "nosniff"


def test_rate_limit_per_address_answers_429_and_reports_a_flood_once() -> None:
    records: list = []
    app = make_app(records, rate_per_address=0.001, burst_per_address=3)
    statuses = [call(app, "10.2.2.2").status_code for _ in range(6)]
    assert statuses == [200, 200, 200, 429, 429, 429]
    assert call(app, "10.3.3.3").status_code == 200  # another address has its own bucket
    assert len(records) == 1 and records[0][2] == "rate"
    last = call(app, "10.2.2.2")
    assert last.status_code == 429 and int(last.headers["retry-after"]) >= 1


def test_body_limit_by_content_length_and_by_streamed_size() -> None:
    records: list = []
    app = make_app(records)
    assert call(app, "10.1.1.1", "POST", content=b"x" * 1024).json()["bytes"] == 1024
    assert call(app, "10.1.1.1", "POST", content=b"x" * 1025).status_code == 413

    async def chunks():
        for _ in range(5):
            yield b"y" * 400

    assert call(app, "10.1.1.1", "POST", content=chunks()).status_code == 413
    assert [event[2] for event in records] == ["body"]  # the second one within REPORT_EVERY is counted


def test_cors_is_off_by_default_and_on_for_listed_origins() -> None:
    records: list = []
    closed = call(make_app(records), "10.1.1.1", headers={"Origin": "http://evil.example"})
    assert closed.status_code == 200 and "access-control-allow-origin" not in closed.headers
    app = make_app(records, cors_origins=["https://console.bank.internal"])
    opened = call(app, "10.1.1.1", headers={"Origin": "https://console.bank.internal"})
    assert opened.headers["access-control-allow-origin"] == "https://console.bank.internal"
    other = call(app, "10.1.1.1", headers={"Origin": "http://evil.example"})
    assert "access-control-allow-origin" not in other.headers
