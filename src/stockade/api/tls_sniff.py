"""Plain HTTP on the HTTPS port: a clear 400 instead of a connection closed without a word.

uvicorn hands TLS to asyncio (``create_server(ssl=...)``), which drops a client that does not start a
TLS handshake: ``curl http://host:5000`` then shows "Empty reply from server". Here the listening
socket has no TLS; each connection's first byte decides. A TLS handshake record (0x16) is handed to
asyncio's own TLS layer (``SSLProtocol``, what ``create_server(ssl=...)`` uses) with uvicorn's HTTP
protocol behind it, so TLS, client certificates and ``scope["scheme"] == "https"`` are as before. Any
other first byte is read up to the request line and answered ``400`` in the error shape of the route
family (TGI or OpenAI), saying to use ``https://``; then the connection is closed.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from asyncio import sslproto
from collections.abc import Callable
from typing import Any

TLS_HANDSHAKE = 0x16  # the first byte of every TLS record that opens a connection
MAX_REQUEST_LINE = 8192
DECIDE_WITHIN = 60.0  # seconds a silent client may hold a connection before it is closed


def plain_http_answer(head: bytes, render: Callable[[str, int, str], dict[str, Any]]) -> bytes:
    """The complete ``400`` HTTP/1.1 response to a plain request whose first bytes are ``head``."""
    line = head.split(b"\r\n", 1)[0].decode("latin-1", "replace")
    parts = line.split(" ")
    path = parts[1] if len(parts) >= 2 and parts[1].startswith("/") else "/"
    host = ""
    for header in head.split(b"\r\n")[1:]:
        name, _, value = header.decode("latin-1", "replace").partition(":")
        if name.strip().lower() == "host":
            host = value.strip()
    url = f"https://{host or 'HOST:PORT'}{path[:200]}"
    message = (
        f"this port serves HTTPS only, and the request came as plain HTTP. How to fix: use {url} "
        "(curl: --cacert with the internal CA, e.g. $STOCKADE_HOME/pki/ca.crt)"
    )
    body = json.dumps(render(path, 400, message), ensure_ascii=False).encode()
    return (
        b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json; charset=utf-8\r\n"
        b"content-length: " + str(len(body)).encode() + b"\r\nconnection: close\r\n\r\n" + body
    )


class TlsOrPlainHttp(asyncio.Protocol):
    """The first protocol of every connection on a TLS port: TLS goes on, plain HTTP gets a 400."""

    def __init__(
        self,
        inner: Callable[[], asyncio.BaseProtocol],
        context: ssl.SSLContext,
        render: Callable[[str, int, str], dict[str, Any]],
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self.inner, self.context, self.render, self.loop = inner, context, render, loop
        self.transport: Any = None
        self.buffer = b""
        self.decided = False
        self.timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self.timer = self.loop.call_later(DECIDE_WITHIN, transport.close)

    def data_received(self, data: bytes) -> None:
        if self.decided:
            return
        self.buffer += data
        if self.buffer[0] == TLS_HANDSHAKE:
            self._start_tls()
        elif b"\r\n" in self.buffer or len(self.buffer) >= MAX_REQUEST_LINE:
            self._finish()
            self.transport.write(plain_http_answer(self.buffer[:MAX_REQUEST_LINE], self.render))
            self.transport.close()

    def eof_received(self) -> bool:
        self._finish()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._finish()

    def _finish(self) -> None:
        self.decided = True
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _start_tls(self) -> None:
        """Hand the connection (and the bytes read so far) to asyncio's TLS layer over uvicorn's protocol."""
        self._finish()
        tls = sslproto.SSLProtocol(self.loop, self.inner(), self.context, None, server_side=True)
        self.transport.set_protocol(tls)
        tls.connection_made(self.transport)
        data, self.buffer = self.buffer, b""
        if isinstance(tls, asyncio.BufferedProtocol):
            while data:
                buffer = tls.get_buffer(len(data))
                size = min(len(buffer), len(data))
                buffer[:size] = data[:size]
                tls.buffer_updated(size)
                data = data[size:]
        else:  # Python 3.10: SSLProtocol takes data_received
            tls.data_received(data)  # type: ignore[attr-defined]
