"""An nginx reverse-proxy configuration for sites that put nginx in front of ``stockade serve``.

HTTPS with the internal CA's server certificate (optionally client certificates), the same
allowlist as the app, a body size limit, and forwarded headers that a client cannot forge:
``X-Forwarded-For`` is *set* to the peer address, never appended to what the client sent.
Add the nginx host to ``security.trusted_proxies`` so the app believes that header.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from stockade.core.errors import ConfigError
from stockade.security.allowlist import parse_networks

UPSTREAM = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):[0-9]{1,5}$")
LISTEN = re.compile(r"^((\[[0-9A-Fa-f:]+\]|[0-9.]+):)?([0-9]{1,5})$")
SERVER_NAME = re.compile(r"^[A-Za-z0-9_.*-]{1,253}$")


@dataclass(frozen=True)
class NginxSite:
    upstream: str  # host:port of `stockade serve`
    listen: str  # PORT, or ADDRESS:PORT to bind one address
    cert: Path
    key: Path
    allowlist: list[str] = field(default_factory=list)
    max_body_bytes: int = 1_048_576
    server_name: str = "_"
    client_ca: Path | None = None  # verify client certificates (mTLS) against this CA
    ipv6: bool = True  # with a bare PORT, also listen on [::]:PORT


def _quote(path: Path) -> str:
    text = str(path)
    if any(ch in text for ch in "\"';{}\n\r\\$"):
        raise ConfigError(f"path {text!r} cannot be written into an nginx config", fix="use a plainer path")
    return f'"{text}"'


def render_site(site: NginxSite) -> str:
    """The ``server { ... }`` block (include it in /etc/nginx/conf.d/)."""
    if not UPSTREAM.match(site.upstream):
        raise ConfigError(
            f"{site.upstream!r} is not HOST:PORT", where="--upstream", fix="e.g. 127.0.0.1:5000"
        )
    if not SERVER_NAME.match(site.server_name):
        raise ConfigError(f"{site.server_name!r} is not a server name", where="--server-name")
    listen = LISTEN.match(site.listen)
    if listen is None or not 1 <= int(listen.group(3)) <= 65535:
        raise ConfigError(f"{site.listen!r} is not PORT or ADDRESS:PORT", where="--listen", fix="e.g. 443")
    networks = parse_networks(site.allowlist)
    lines = [
        "# Written by `stockade pki nginx-config`. HTTPS, allowlist, body limit, forwarded headers.",
        "server {",
        f"    listen {site.listen} ssl;",
        *([f"    listen [::]:{site.listen} ssl;"] if site.ipv6 and listen.group(1) is None else []),
        f"    server_name {site.server_name};",
        "    server_tokens off;",
        f"    ssl_certificate {_quote(site.cert)};",
        f"    ssl_certificate_key {_quote(site.key)};",
        "    ssl_protocols TLSv1.2 TLSv1.3;",
        "    ssl_prefer_server_ciphers off;",
        "    ssl_session_tickets off;",
    ]
    if site.client_ca is not None:
        lines += [f"    ssl_client_certificate {_quote(site.client_ca)};", "    ssl_verify_client on;"]
    lines += [f"    allow {network};" for network in networks]
    lines += [
        "    deny all;",
        f"    client_max_body_size {site.max_body_bytes};",
        '    add_header Strict-Transport-Security "max-age=31536000" always;',
        "    location / {",
        f"        proxy_pass http://{site.upstream};",
        "        proxy_http_version 1.1;",
        "        proxy_set_header Host $host;",
        "        proxy_set_header X-Forwarded-For $remote_addr;",
        "        proxy_set_header X-Real-IP $remote_addr;",
        "        proxy_set_header X-Forwarded-Proto $scheme;",
        "        proxy_buffering off;",
        "        proxy_read_timeout 300s;",
        "    }",
        "}",
    ]
    return "\n".join(lines) + "\n"


def render_standalone(site: NginxSite, runtime: Path) -> str:
    """A complete nginx.conf that runs unprivileged with every file under ``runtime`` (tests, demos)."""
    root = _quote(runtime)[1:-1]
    body = "\n".join("    " + line if line else line for line in render_site(site).splitlines())
    return (
        "worker_processes 1;\n"
        f'pid "{root}/nginx.pid";\n'
        f'error_log "{root}/error.log" warn;\n'
        "events { worker_connections 64; }\n"
        "http {\n"
        f'    access_log "{root}/access.log";\n'
        f'    client_body_temp_path "{root}/body";\n'
        f'    proxy_temp_path "{root}/proxy";\n'
        f'    fastcgi_temp_path "{root}/fastcgi";\n'
        f'    uwsgi_temp_path "{root}/uwsgi";\n'
        f'    scgi_temp_path "{root}/scgi";\n'
        f"{body}\n"
        "}\n"
    )
