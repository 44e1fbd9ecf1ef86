"""`stockade serve --tls` through the protocol sniff: TLS and client certificates (mTLS) as before, the
app sees ``https``, and a plain-HTTP request on the port gets a 400 saying to use https://."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from pathlib import Path

import httpx
import pytest

from stockade.api.server import bind_listener, uvicorn_server
from stockade.security.pki import create_ca, issue_certificate


async def _scheme(scope, receive, send) -> None:
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": scope["scheme"].encode()})


def test_mtls_still_holds_and_plain_http_gets_400(tmp_path: Path) -> None:
    pki = tmp_path / "pki"
    create_ca(pki)
    server_cert = issue_certificate(pki, hosts=["localhost"], ips=["127.0.0.1"])
    client_cert = issue_certificate(pki, hosts=["tester"], ips=[], client=True)
    listener = bind_listener("127.0.0.1", 0)
    port = listener.getsockname()[1]
    server = uvicorn_server(
        _scheme,
        host="127.0.0.1",
        port=port,
        on_drain=lambda: None,
        drain_timeout=1,
        tls_cert=str(server_cert.cert),
        tls_key=str(server_cert.key),
        tls_client_ca=str(pki / "ca.crt"),
    )
    thread = threading.Thread(target=lambda: server.run(sockets=[listener]), daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        context = ssl.create_default_context(cafile=str(pki / "ca.crt"))
        context.load_cert_chain(str(client_cert.cert), str(client_cert.key))
        assert httpx.get(f"https://127.0.0.1:{port}/", verify=context).text == "https"
        no_client_cert = ssl.create_default_context(cafile=str(pki / "ca.crt"))
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"https://127.0.0.1:{port}/", verify=no_client_cert)
        with pytest.raises(httpx.HTTPError):  # a client that does not trust the internal CA
            httpx.get(f"https://127.0.0.1:{port}/", verify=True)
        plain = httpx.get(f"http://127.0.0.1:{port}/info", timeout=5)
        assert plain.status_code == 400 and plain.headers["connection"] == "close"
        assert plain.json()["error_type"] == "validation"
        assert f"use https://127.0.0.1:{port}/info" in plain.json()["error"]
        with socket.create_connection(("127.0.0.1", port), timeout=5) as silent:  # half a line, then EOF
            silent.sendall(b"GET /")
            silent.shutdown(socket.SHUT_WR)
            assert silent.recv(100) == b""
        assert httpx.get(f"https://127.0.0.1:{port}/", verify=context).text == "https"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        listener.close()
