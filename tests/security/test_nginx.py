"""A real nginx (the generated config) in front of the real API on loopback, HTTPS through it."""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from stockade.security.nginx import NginxSite, render_site
from stockade.security.pki import PkiError, create_ca, issue_certificate
from stockade.security.pki_service import nginx_config
from tests.security.conftest import Served, audit_rows


def _nginx() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("nginx is not installed; CI installs it in .ci/run (Debian package nginx)")
        pytest.skip("nginx is not installed (apt-get install nginx)")
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize(
    ("site", "message"),
    [
        (NginxSite("127.0.0.1:5000; evil", "443", Path("/c"), Path("/k")), "HOST:PORT"),
        (NginxSite("127.0.0.1:5000", "443", Path("/c;x"), Path("/k")), "cannot be"),
        (NginxSite("127.0.0.1:5000", "a:b", Path("/c"), Path("/k")), "PORT"),
        (NginxSite("127.0.0.1:5000", "443", Path("/c"), Path("/k"), server_name="x; evil"), "server name"),
    ],
)
def test_config_refuses_injection(site: NginxSite, message: str) -> None:
    from stockade.core.errors import ConfigError

    with pytest.raises(ConfigError, match=message):
        render_site(site)


def test_config_has_tls_allowlist_limit_and_unforgeable_forwarding() -> None:
    site = NginxSite(
        upstream="127.0.0.1:5000",
        listen="443",
        cert=Path("/w/pki/certs/server.crt"),
        key=Path("/w/pki/certs/server.key"),
        allowlist=["10.0.0.0/8", "fd00::/8"],
        max_body_bytes=2048,
        client_ca=Path("/w/pki/ca.crt"),
    )
    text = render_site(site)
    for line in (
        "listen 443 ssl;",
        "listen [::]:443 ssl;",
        "allow 10.0.0.0/8;",
        "allow fd00::/8;",
        "deny all;",
        "client_max_body_size 2048;",
        "ssl_verify_client on;",
        "proxy_set_header X-Forwarded-For $remote_addr;",
        "ssl_protocols TLSv1.2 TLSv1.3;",
    ):
        assert line in text
    assert "$proxy_add_x_forwarded_for" not in text  # appending would pass a client's forged header on
    assert text.index("allow 10.0.0.0/8;") < text.index("deny all;")


def test_https_through_a_real_nginx(served: Served, tmp_path: Path) -> None:
    nginx = _nginx()
    pki = served.context.workspace.folder("pki")
    try:
        create_ca(pki)
        issue_certificate(pki, hosts=["localhost"], ips=["127.0.0.1"])
    except PkiError:
        pass  # another test made them
    runtime = tmp_path / "nginx"
    runtime.mkdir()
    port = _free_port()
    config = runtime / "nginx.conf"
    config.write_text(
        nginx_config(
            served.context,
            upstream=served.url.removeprefix("http://"),
            listen=f"127.0.0.1:{port}",
            server_name="localhost",
            mtls=False,
            ipv6=False,
            standalone=runtime,
        )
    )
    arguments = [nginx, "-p", str(runtime), "-c", str(config), "-e", str(runtime / "error.log")]
    checked = subprocess.run([*arguments, "-t"], capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stderr
    process = subprocess.Popen([*arguments, "-g", "daemon off;"], stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert process.poll() is None, process.stderr.read() if process.stderr else ""
                assert time.monotonic() < deadline, "nginx did not start"
                time.sleep(0.05)
        url = f"https://127.0.0.1:{port}"
        trust = ssl.create_default_context(cafile=str(pki / "ca.crt"))
        with httpx.Client(verify=trust, timeout=30) as client:
            assert client.get(url + "/health").status_code == 200
            assert client.get(url + "/info").status_code == 401
            bearer = {"Authorization": f"Bearer {served.api_key}"}
            spoofed = {**bearer, "X-Forwarded-For": "192.0.2.66"}  # nginx replaces it: not refused
            info = client.get(url + "/info", headers=spoofed)
            assert info.status_code == 200, info.text
            assert audit_rows(served.context, "auth.success")[-1].source == "api:127.0.0.1"
            generated = client.post(
                url + "/generate",
                json={"inputs": "你好", "parameters": {"max_new_tokens": 3}},
                headers=bearer,
            )
            assert generated.status_code == 200 and "generated_text" in generated.json()
            too_big = client.post(url + "/generate", content=b"x" * 70_000, headers=bearer)
            assert too_big.status_code == 413
            assert "strict-transport-security" in {k.lower() for k in info.headers}
        with pytest.raises(httpx.HTTPError):  # a client that does not trust the internal CA
            httpx.get(url + "/health", verify=True)
    finally:
        process.terminate()
        process.wait(timeout=10)
