"""Pure ASGI middleware in front of the app: allowlist, per-address rate limit, body size, CORS.

It runs before routing and authentication, so a refused caller costs almost nothing:
403 outside the allowlist, 429 over the address's rate, 413 over the body limit. The real
client address (see ``allowlist``) replaces ``scope["client"]`` for everything behind it.
Refusals are reported through ``record``; a flood from one address is reported once per
``REPORT_EVERY`` seconds (a minute) with a count, so it cannot flood the audit log. A refusal's body is
written by ``render_error`` (the API passes its own, so that every error of a route family has one shape: TGI
``{error, error_type}``, OpenAI ``{error: {message, type, param, code}}``).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import anyio

from stockade.security.allowlist import AddressPolicy
from stockade.security.ratelimit import REFUSAL_WINDOW, RefusalTally, TokenBuckets

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Recorder = Callable[[str, str, str, dict[str, Any]], None]  # (action, target, reason, details)
# (request path, HTTP status, message, reason: allowlist | rate | body) -> the JSON body
ErrorRenderer = Callable[[str, int, str, str], dict[str, Any]]


def plain_error(path: str, status: int, message: str, reason: str) -> dict[str, Any]:
    """The body without an API in front (tests of the middleware alone)."""
    return {"error": {"message": message, "type": reason, "code": status}}


REPORT_EVERY = REFUSAL_WINDOW
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
]


class SecurityMiddleware:
    renders_errors = True  # create_app passes ``render_error``: its error shapes, per route family

    def __init__(
        self,
        app: ASGIApp,
        *,
        allowlist: Iterable[str],
        trusted_proxies: Iterable[str] = (),
        rate_per_address: float = 20.0,
        burst_per_address: int = 40,
        max_body_bytes: int = 1_048_576,
        cors_origins: Iterable[str] = (),
        record: Recorder | None = None,
        render_error: ErrorRenderer = plain_error,
    ) -> None:
        self.app = app
        self.render_error = render_error
        self.policy = AddressPolicy.from_settings(allowlist, trusted_proxies)
        self.buckets = TokenBuckets(rate_per_address, burst_per_address)
        self.max_body = max_body_bytes
        self.cors_origins = frozenset(cors_origins)
        self.record = record
        self.refusals = RefusalTally(REPORT_EVERY)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        peer = (scope.get("client") or (None, 0))[0]
        address = self.policy.client_address(peer, headers.get("x-forwarded-for"))
        shown = str(address) if address is not None else str(peer)[:64]
        if not self.policy.allows(address):
            await self._refuse(
                send, scope, 403, "address not in the allowlist", shown, "allowlist", {"peer": peer}
            )
            return
        wait = self.buckets.take(shown)
        if wait:
            await self._refuse(send, scope, 429, "too many requests", shown, "rate", {}, retry_after=wait)
            return
        length = headers.get("content-length", "0")
        if not length.isdigit() or int(length) > self.max_body:
            await self._refuse(
                send, scope, 413, "request body too large", shown, "body", {"bytes": length[:20]}
            )
            return
        scope = dict(scope, client=(shown, (scope.get("client") or (None, 0))[1]))
        scope.setdefault("state", {})
        scope["state"] = dict(scope["state"], peer_address=peer)
        origin = headers.get("origin")
        if origin and origin in self.cors_origins and scope.get("method") == "OPTIONS":
            await _respond(send, 204, b"", _cors_headers(origin))
            return
        await self._forward(scope, receive, send, shown, origin)

    async def _forward(
        self, scope: Scope, receive: Receive, send: Send, shown: str, origin: str | None
    ) -> None:
        if "transfer-encoding" in _headers(scope):  # no Content-Length: read (at most the limit) first
            chunks: list[bytes] = []
            size = 0
            while True:
                message = await receive()
                if message["type"] != "http.request":
                    return  # the client went away
                chunks.append(message.get("body", b""))
                size += len(chunks[-1])
                if size > self.max_body:
                    await self._refuse(
                        send, scope, 413, "request body too large", shown, "body", {"bytes": str(size)}
                    )
                    return
                if not message.get("more_body", False):
                    break
            receive = _replay(b"".join(chunks), receive)

        async def guarded_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [
                    (k, v)
                    for k, v in message.get("headers", [])
                    if not k.lower().startswith(b"access-control-")
                ]
                if origin and origin in self.cors_origins:
                    kept += _cors_headers(origin)
                message = dict(message, headers=kept + SECURITY_HEADERS)
            await send(message)

        await self.app(scope, receive, guarded_send)

    async def _refuse(
        self,
        send: Send,
        scope: Scope,
        status: int,
        message: str,
        address: str,
        reason: str,
        details: dict[str, Any],
        retry_after: float | None = None,
    ) -> None:
        if self.record is not None:
            count = self.refusals.due((address, reason))
            if count:
                event = {
                    **details,
                    "status": status,
                    "path": str(scope.get("path", ""))[:200],
                    "refusals": count,
                }
                await anyio.to_thread.run_sync(self.record, "access.denied", address, reason, event)
        extra = [(b"retry-after", str(max(1, round(retry_after))).encode())] if retry_after else []
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        path = str(scope.get("path", ""))
        body = json.dumps(self.render_error(path, status, message, reason), ensure_ascii=False).encode()
        await _respond(send, status, body, [(b"content-type", b"application/json; charset=utf-8"), *extra])


def _headers(scope: Scope) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in scope.get("headers", []):
        name = key.decode("latin-1").lower()
        text = value.decode("latin-1")
        out[name] = f"{out[name]},{text}" if name in out else text
    return out


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that first gives the buffered body, then the client's later messages (disconnect)."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replayed() -> Message:
        return pending.pop() if pending else await receive()

    return replayed


def _cors_headers(origin: str) -> list[tuple[bytes, bytes]]:
    return [
        (b"access-control-allow-origin", origin.encode("latin-1")),
        (b"access-control-allow-headers", b"authorization, content-type"),
        (b"access-control-allow-methods", b"GET, POST"),
        (b"vary", b"Origin"),
    ]


async def _respond(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    headers = headers + SECURITY_HEADERS + [(b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
