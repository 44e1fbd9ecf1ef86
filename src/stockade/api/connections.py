"""What uvicorn does not limit on a connection: how long a request's head and body may take to arrive,
and how many connections one client address may hold open.

uvicorn (h11) arms no timer until a first response is sent, so a client that opens a connection and
sends half a header line, or a body a byte at a time, holds it for ever; and any number of such
connections may come from one address. :func:`guarded_h11` returns uvicorn's h11 protocol with:

* a **head timeout**: the request line and headers must arrive within ``header_timeout`` seconds of the
  connection opening or of the previous response ending (a slow trickle does not re-arm it);
* a **body timeout**: the whole body within ``body_timeout`` seconds of the head;
* a **cap per address**: at most ``per_address`` open connections from one client address (trusted
  proxies exempt: every request behind nginx comes from nginx's address).

Each refusal is a complete HTTP response in the error shape of the route family (TGI or OpenAI):
``408`` for a timeout, ``429`` over the cap; then the connection is closed. The size of a request's head
is h11's limit (``h11_max_incomplete_event_size``; uvicorn answers ``400`` above it).
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# (request path, HTTP status, message, code) -> the JSON body
Render = Callable[[str, int, str, str], dict[str, Any]]
PHRASES = {408: b"Request Timeout", 429: b"Too Many Requests"}


@dataclass(frozen=True)
class ConnectionLimits:
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    per_address: int = 32  # 0: no cap
    exempt: tuple[str, ...] = ()  # CIDRs without a cap (trusted proxies)
    keep_alive: int = 5  # uvicorn's timeout_keep_alive: an idle connection is closed after it
    max_header_bytes: int = 16 * 1024  # h11's limit on a request's head (uvicorn answers 400 above it)

    @classmethod
    def from_settings(cls, security: Any) -> ConnectionLimits:
        """From the workspace's ``security:`` settings (SecuritySettings)."""
        return cls(
            header_timeout=security.header_timeout_seconds,
            body_timeout=security.body_timeout_seconds,
            per_address=security.max_connections_per_address,
            exempt=tuple(security.trusted_proxies),
            keep_alive=security.keep_alive_seconds,
            max_header_bytes=security.max_header_bytes,
        )

    def exempts(self, address: str) -> bool:
        try:
            parsed = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(parsed in ipaddress.ip_network(net, strict=False) for net in self.exempt)


def guarded_h11(limits: ConnectionLimits, render: Render) -> type[asyncio.Protocol]:
    """uvicorn's h11 protocol class with ``limits`` (one count of open connections per class)."""
    from uvicorn.protocols.http.h11_impl import H11Protocol

    open_by_address: dict[str, int] = {}  # touched only on the event loop: no lock

    class GuardedH11Protocol(H11Protocol):
        _timer: asyncio.TimerHandle | None = None
        _waiting: str | None = None  # "head" | "body" | None (a request is being answered)
        _counted: str | None = None

        def connection_made(self, transport: Any) -> None:  # type: ignore[override]
            super().connection_made(transport)
            address = self.client[0] if self.client else ""
            if limits.per_address and not limits.exempts(address):
                held = open_by_address.get(address, 0)
                if held >= limits.per_address:
                    message = (
                        f"too many open connections from {address} (at most {limits.per_address}). How to "
                        "fix: reuse connections (keep-alive) or close idle ones, and retry"
                    )
                    self._refuse(429, message, "too_many_connections")
                    return
                open_by_address[address] = held + 1
                self._counted = address
            self._watch()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            if self._counted is not None:
                left = open_by_address.get(self._counted, 1) - 1
                if left > 0:
                    open_by_address[self._counted] = left
                else:
                    open_by_address.pop(self._counted, None)
                self._counted = None
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            self._watch()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._watch()

        def _watch(self) -> None:
            """Arm the timer of what the connection waits for now (once per phase: a trickle of bytes does
            not re-arm it)."""
            if self.transport.is_closing():
                self._disarm()
                return
            cycle = self.cycle
            if cycle is None or cycle.response_complete:
                waiting = "head"
            elif cycle.more_body and not cycle.response_started:
                waiting = "body"
            else:
                waiting = None  # the app has the request; its own time limit applies
            if waiting == self._waiting:
                return
            self._disarm()
            self._waiting = waiting
            if waiting is not None:
                delay = limits.header_timeout if waiting == "head" else limits.body_timeout
                self._timer = self.loop.call_later(delay, self._timed_out, waiting)

        def _disarm(self) -> None:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            self._waiting = None

        def _timed_out(self, waiting: str) -> None:
            self._timer = None
            if waiting == "head":
                message = (
                    f"the request's line and headers did not arrive within {limits.header_timeout:g} s. How "
                    "to fix: send the whole head at once (a client over a slow link: retry)"
                )
            else:
                message = (
                    f"the request body did not arrive within {limits.body_timeout:g} s of its headers. "
                    "How to fix: send the body at once after the headers, with a correct Content-Length"
                )
            self._refuse(408, message, "request_timeout")

        def _refuse(self, status: int, message: str, code: str) -> None:
            path = "/"
            if self.cycle is not None and not self.cycle.response_complete:
                path = str(self.scope.get("path", "/"))
                # the app sees the client gone (as uvicorn's own connection_lost does): nothing of it is sent
                self.cycle.disconnected = True
                self.cycle.message_event.set()
            body = json.dumps(render(path, status, message, code), ensure_ascii=False).encode()
            head = (
                b"HTTP/1.1 %d %s\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: %d\r\n"
                b"connection: close\r\n\r\n" % (status, PHRASES[status], len(body))
            )
            self.transport.write(head + body)
            self.transport.close()

    return GuardedH11Protocol
