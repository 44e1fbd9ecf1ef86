"""Slow and piled-up connections: the head and body timeouts, the cap per address, h11's head limit and
keep-alive, on the uvicorn server ``stockade serve`` runs (``stockade.api.server.uvicorn_server``)."""

from __future__ import annotations

import json
import select
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from stockade.api.connections import ConnectionLimits
from stockade.core.security_settings import SecuritySettings

LIMITS = ConnectionLimits(header_timeout=1.0, body_timeout=1.0, keep_alive=1, max_header_bytes=4096)


async def echo_app(scope, receive, send) -> None:
    """Reads the whole body, answers its length."""
    if scope["type"] != "http":
        return
    size, more = 0, True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            return
        size += len(message.get("body", b""))
        more = message.get("more_body", False)
    body = json.dumps({"bytes": size}).encode()
    headers = [(b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _serve(limits: ConnectionLimits) -> Iterator[int]:
    from stockade.api.server import uvicorn_server

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    number = sock.getsockname()[1]
    server = uvicorn_server(
        echo_app, host="127.0.0.1", port=number, on_drain=lambda: None, drain_timeout=1, limits=limits
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    yield number
    server.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    yield from _serve(LIMITS)


@pytest.fixture(scope="module")
def capped_port() -> Iterator[int]:
    """Long timeouts: the connections held open are not closed by them during the test."""
    yield from _serve(ConnectionLimits(header_timeout=60, body_timeout=60, per_address=3))


def _connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=10)


def _read_all(conn: socket.socket) -> bytes:
    """Everything until the server closes the connection."""
    data = b""
    while chunk := conn.recv(65536):
        data += chunk
    return data


def _status_and_json(raw: bytes) -> tuple[int, dict]:
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), json.loads(body)


def _request(conn: socket.socket, body: bytes = b"{}") -> bytes:
    conn.sendall(b"POST /generate HTTP/1.1\r\nhost: x\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body))
    raw = b""
    while b"\r\n\r\n" not in raw or not raw.endswith(b"}"):
        raw += conn.recv(65536)
    return raw


def test_a_head_that_trickles_in_gets_408_and_the_connection_is_closed(port: int) -> None:
    conn = _connect(port)
    started = time.monotonic()
    conn.sendall(b"POST /generate HTTP/1.1\r\n")
    for byte in b"host: slow.example\r\n":  # a byte every 0.1 s: the timer is not re-armed by each
        if select.select([conn], [], [], 0.1)[0]:  # the answer came: stop sending
            break
        conn.sendall(bytes([byte]))
    raw = _read_all(conn)
    assert time.monotonic() - started < 5
    status, body = _status_and_json(raw)
    assert status == 408 and body["error_type"] == "validation"
    assert "did not arrive within 1 s" in body["error"] and "How to fix" in body["error"]


def test_an_idle_connection_without_a_request_is_closed(port: int) -> None:
    conn = _connect(port)
    started = time.monotonic()
    status, _ = _status_and_json(_read_all(conn))
    assert status == 408 and time.monotonic() - started < 5


def test_a_body_that_trickles_in_gets_408_in_the_route_familys_shape(port: int) -> None:
    conn = _connect(port)
    started = time.monotonic()
    conn.sendall(b'POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\n{"messages"')
    raw = _read_all(conn)
    assert time.monotonic() - started < 5
    status, body = _status_and_json(raw)
    assert status == 408
    assert body["error"]["code"] == "request_timeout" and body["error"]["type"] == "timeout"
    assert "request body did not arrive within 1 s" in body["error"]["message"]


def test_requests_on_a_kept_alive_connection_are_not_cut_and_idle_ones_close(port: int) -> None:
    conn = _connect(port)
    for _ in range(3):  # together longer than the head timeout: each request has its own
        assert _request(conn, b'{"x": 1}').startswith(b"HTTP/1.1 200")
        time.sleep(0.5)
    started = time.monotonic()
    assert _read_all(conn) == b""  # keep_alive 1 s: closed without a word
    assert time.monotonic() - started < 3


def test_connections_per_address_are_capped(capped_port: int) -> None:
    port = capped_port
    held = [_connect(port) for _ in range(3)]
    time.sleep(0.2)
    extra = _connect(port)
    status, body = _status_and_json(_read_all(extra))
    assert status == 429 and body["error_type"] == "overloaded"
    assert "too many open connections from 127.0.0.1 (at most 3)" in body["error"]
    held.pop().close()
    time.sleep(0.2)
    again = _connect(port)  # a closed one frees its place
    assert _request(again).startswith(b"HTTP/1.1 200")
    for conn in [*held, again]:
        conn.close()


def test_a_head_over_the_h11_limit_gets_400(port: int) -> None:
    conn = _connect(port)  # h11 holds an unfinished head to max_header_bytes (4096 here), then refuses
    conn.sendall(b"GET / HTTP/1.1\r\nhost: x\r\nx-big: " + b"a" * 8000)
    assert _read_all(conn).startswith(b"HTTP/1.1 400")


def test_the_limits_come_from_the_security_settings() -> None:
    settings = SecuritySettings(
        header_timeout_seconds=2.5,
        body_timeout_seconds=7,
        keep_alive_seconds=3,
        max_header_bytes=8192,
        max_connections_per_address=5,
        trusted_proxies=["10.0.0.1"],
    )
    limits = ConnectionLimits.from_settings(settings)
    assert limits == ConnectionLimits(2.5, 7, 5, ("10.0.0.1",), 3, 8192)
    assert limits.exempts("10.0.0.1") and not limits.exempts("10.0.0.2")
