"""The server runner serves HTTPS with the given certificate (the security layer's PKI issues it)."""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import build_app

pytest.importorskip("cryptography")


def _self_signed(folder: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "server.pem", folder / "server.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_file, key_file


def test_serves_https_with_the_given_certificate(tiny, tmp_path: Path) -> None:
    from stockade.api.server import drain_hook, uvicorn_server

    cert, key = _self_signed(tmp_path)
    app, engine = build_app(tiny)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn_server(
        app,
        host="127.0.0.1",
        port=port,
        on_drain=drain_hook(app),
        drain_timeout=5,
        tls_cert=str(cert),
        tls_key=str(key),
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        trust = ssl.create_default_context(cafile=str(cert))
        assert httpx.get(f"https://127.0.0.1:{port}/health", verify=trust).json() == {"status": "ok"}
        # plain HTTP on the HTTPS port: a 400 that says to use https:// (not an empty reply)
        for path in ("/generate", "/v1/chat/completions"):
            plain = httpx.post(f"http://127.0.0.1:{port}{path}", json={}, timeout=5)
            assert plain.status_code == 400, plain.text
            body = plain.json()
            message = body["error"]["message"] if path.startswith("/v1/") else body["error"]
            assert f"use https://127.0.0.1:{port}{path}" in message, body
            assert set(body) == ({"error"} if path.startswith("/v1/") else {"error", "error_type"})
        raw = socket.create_connection(("127.0.0.1", port), timeout=5)  # not HTTP at all: closed
        raw.sendall(b"\x00\x01garbage\r\n")
        assert raw.recv(100).startswith(b"HTTP/1.1 400")
        raw.close()
        # TLS still works after the plain requests
        assert httpx.get(f"https://127.0.0.1:{port}/health", verify=trust).json() == {"status": "ok"}
    finally:
        server.should_exit = True
        thread.join(10)
        engine.stop()


def test_tls_flag_uses_the_workspace_certificate_or_says_how_to_make_one(workspace_dir) -> None:
    from stockade.api.launch import with_tls_paths
    from stockade.core.errors import StockadeError
    from stockade.core.specs import ServeSpec
    from stockade.workspace.service import open_workspace
    from tests.conftest import run_cli

    spec = ServeSpec(model="m@v1", tls=True)
    with open_workspace(workspace_dir) as context:
        with pytest.raises(StockadeError, match="no server certificate") as missing:
            with_tls_paths(context, spec)
        assert "stockade pki issue" in missing.value.fix
    assert run_cli("-w", str(workspace_dir), "pki", "init").returncode == 0
    issued = run_cli("-w", str(workspace_dir), "pki", "issue", "--host", "localhost", "--ip", "127.0.0.1")
    assert issued.returncode == 0, issued.stderr
    with open_workspace(workspace_dir) as context:
        resolved = with_tls_paths(context, spec)
        named = with_tls_paths(context, spec.model_copy(update={"tls_cert": "/x.pem", "tls_key": "/x.key"}))
    assert Path(resolved.tls_cert).is_file() and Path(resolved.tls_key).is_file()
    assert named.tls_cert == "/x.pem"  # a named certificate wins
