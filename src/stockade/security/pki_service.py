"""Audited PKI operations for the CLI: create the CA, issue certificates, write the nginx config."""

from __future__ import annotations

from pathlib import Path

from stockade.security.nginx import NginxSite, render_site, render_standalone
from stockade.security.pki import (
    IssuedCertificate,
    PkiError,
    create_ca,
    default_server_tls,
    issue_certificate,
    server_name_problem,
)
from stockade.workspace.service import WorkspaceContext


def init_ca(context: WorkspaceContext, *, days: int = 3650, force: bool = False) -> str:
    pki = context.workspace.folder("pki")
    fingerprint = create_ca(pki, days=days, force=force)
    context.record("pki.ca.create", "pki/ca.crt", sha256=fingerprint, days=days, replaced=force)
    return fingerprint


def issue_cert(
    context: WorkspaceContext,
    *,
    hosts: list[str],
    ips: list[str],
    name: str | None,
    client: bool,
    days: int,
    force: bool,
) -> IssuedCertificate:
    issued = issue_certificate(
        context.workspace.folder("pki"),
        hosts=hosts,
        ips=ips,
        name=name,
        client=client,
        days=days,
        force=force,
    )
    context.record(
        "pki.cert.issue",
        f"pki/certs/{issued.name}.crt",
        kind="client" if client else "server",
        hosts=hosts,
        ips=ips,
        serial=format(issued.serial, "x"),
        sha256=issued.sha256,
        not_after=issued.not_after,
    )
    return issued


def nginx_config(
    context: WorkspaceContext,
    *,
    upstream: str,
    listen: str,
    server_name: str,
    mtls: bool,
    ipv6: bool = True,
    standalone: Path | None = None,
    force: bool = False,
) -> str:
    """The nginx configuration for this workspace's allowlist, body limit and server certificate.

    A ``server_name`` the certificate's names do not cover is refused (clients would refuse the
    certificate), unless ``force``: then the caller warns."""
    security = context.workspace.settings.security
    paths = default_server_tls(context.workspace.folder("pki"))
    site = NginxSite(
        upstream=upstream,
        listen=listen,
        server_name=server_name,
        cert=paths.cert,
        key=paths.key,
        client_ca=paths.client_ca if mtls else None,
        allowlist=list(security.allowlist),
        max_body_bytes=security.max_body_bytes,
        ipv6=ipv6,
    )
    text = render_standalone(site, standalone) if standalone else render_site(site)  # checks the names first
    problem = server_name_problem(paths.cert, server_name)
    if problem and not force:
        raise PkiError(
            problem,
            where=str(paths.cert),
            fix=f"issue a certificate that names it: `stockade pki issue --host {server_name} --force` "
            "(add --ip ADDRESS for clients that connect by address), or pass --force to write it anyway",
        )
    return text
