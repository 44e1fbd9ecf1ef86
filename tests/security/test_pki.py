"""The internal CA: certificates with the right SANs and usages that verify against the CA, keys 0600,
names that cannot leave pki/certs/, and a TLS (and mutual-TLS) handshake with them."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
import threading
import time
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.verification import PolicyBuilder, Store

from stockade.security.pki import PkiError, create_ca, default_server_tls, issue_certificate


@pytest.fixture
def pki(tmp_path: Path) -> Path:
    folder = tmp_path / "pki"
    create_ca(folder)
    return folder


def _load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificates(path.read_bytes())[0]


def test_server_certificate_has_sans_and_verifies_against_the_ca(pki: Path) -> None:
    issued = issue_certificate(pki, hosts=["llm.bank.internal", "localhost"], ips=["10.0.0.5", "::1"])
    cert = _load(issued.cert)
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["llm.bank.internal", "localhost"]
    assert sans.get_values_for_type(x509.IPAddress) == [
        ipaddress.ip_address("10.0.0.5"),
        ipaddress.ip_address("::1"),
    ]
    usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    ca = _load(pki / "ca.crt")
    verifier = PolicyBuilder().store(Store([ca])).build_server_verifier(x509.DNSName("llm.bank.internal"))
    assert verifier.verify(cert, [])[-1] == ca
    for key in (pki / "ca.key", issued.key):
        assert key.stat().st_mode & 0o777 == 0o600
    assert default_server_tls(pki).cert == issued.cert


def test_client_certificate_is_for_client_auth(pki: Path) -> None:
    issued = issue_certificate(pki, hosts=["batch-job"], ips=[], client=True)
    assert issued.cert.name == "batch-job.crt"
    usage = _load(issued.cert).extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.CLIENT_AUTH]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"name": "../../etc/evil"}, "not a certificate name"),
        ({"name": "..", "hosts": ["a"]}, "not a certificate name"),
        ({"name": "a/b"}, "not a certificate name"),
        ({"hosts": ["bad host/../x"]}, "not a host name"),
        ({"ips": ["10.0.0.300"]}, "not an IP address"),
        ({"hosts": [], "ips": []}, "at least one"),
    ],
)
def test_bad_names_are_refused_and_nothing_is_written_outside(pki: Path, options, message) -> None:
    arguments = {"hosts": ["ok.internal"], "ips": [], **options}
    with pytest.raises(PkiError, match=message):
        issue_certificate(pki, **arguments)
    assert not (pki.parent / "etc").exists() and not list(pki.parent.glob("*.crt"))


def test_existing_ca_and_certificate_are_not_replaced_without_force(pki: Path) -> None:
    with pytest.raises(PkiError, match="exists"):
        create_ca(pki)
    issue_certificate(pki, hosts=["a.internal"], ips=[])
    with pytest.raises(PkiError, match="exists"):
        issue_certificate(pki, hosts=["b.internal"], ips=[])
    issue_certificate(pki, hosts=["b.internal"], ips=[], force=True)


def test_missing_server_certificate_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(PkiError, match="pki issue"):
        default_server_tls(tmp_path)


async def _hello(scope, receive, send) -> None:
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"hello over tls"})


def test_mutual_tls_handshake_with_issued_certificates(pki: Path) -> None:
    import uvicorn

    server_cert = issue_certificate(pki, hosts=["localhost"], ips=["127.0.0.1"])
    client_cert = issue_certificate(pki, hosts=["tester"], ips=[], client=True)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        _hello,
        lifespan="off",
        log_level="warning",
        ssl_certfile=str(server_cert.cert),
        ssl_keyfile=str(server_cert.key),
        ssl_ca_certs=str(pki / "ca.crt"),
        ssl_cert_reqs=ssl.CERT_REQUIRED,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        context = ssl.create_default_context(cafile=str(pki / "ca.crt"))
        context.load_cert_chain(str(client_cert.cert), str(client_cert.key))
        response = httpx.get(f"https://127.0.0.1:{port}/", verify=context)
        assert response.text == "hello over tls"
        no_client_cert = ssl.create_default_context(cafile=str(pki / "ca.crt"))
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"https://127.0.0.1:{port}/", verify=no_client_cert)
        with pytest.raises(httpx.HTTPError):  # a client that does not trust the internal CA
            httpx.get(f"https://127.0.0.1:{port}/", verify=True)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
