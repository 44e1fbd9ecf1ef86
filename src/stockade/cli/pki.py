"""`stockade pki init | issue | nginx-config`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from stockade.cli.output import console, errors, escape
from stockade.cli.state import state

app = typer.Typer(
    help="Internal CA and TLS certificates; an nginx config for a reverse proxy.", no_args_is_help=True
)


@app.command()
def init(
    days: Annotated[int, typer.Option(min=1, help="Validity of the CA certificate in days.")] = 3650,
    force: Annotated[
        bool, typer.Option(help="Replace an existing CA (every certificate must be reissued).")
    ] = False,
) -> None:
    """Create the workspace's internal CA (pki/ca.crt, pki/ca.key 0600)."""
    from stockade.governance.roles import require
    from stockade.security.pki_service import init_ca
    from stockade.workspace.service import open_workspace

    with open_workspace(state.workspace) as context:
        require(context, "pki.manage")
        fingerprint = init_ca(context, days=days, force=force)
        where = context.workspace.folder("pki") / "ca.crt"
    console.print(f"created the internal CA {escape(str(where))} (sha256 {fingerprint})")
    console.print('clients trust it with e.g. `curl --cacert ca.crt` or httpx `verify="ca.crt"`')


@app.command()
def issue(
    host: Annotated[
        list[str] | None, typer.Option("--host", help="A DNS name for the SAN (repeatable).")
    ] = None,
    ip: Annotated[
        list[str] | None, typer.Option("--ip", help="An IP address for the SAN (repeatable).")
    ] = None,
    client: Annotated[bool, typer.Option("--client", help="A client certificate (for mTLS).")] = False,
    name: Annotated[
        str | None, typer.Option(help="File name under pki/certs/ (default: server, or the client's host).")
    ] = None,
    days: Annotated[int, typer.Option(min=1, help="Validity in days.")] = 397,
    force: Annotated[bool, typer.Option(help="Replace a certificate with the same name.")] = False,
) -> None:
    """Issue a server (default) or client certificate signed by the internal CA."""
    from stockade.governance.roles import require
    from stockade.security.pki_service import issue_cert
    from stockade.workspace.service import open_workspace

    with open_workspace(state.workspace) as context:
        require(context, "pki.manage")
        issued = issue_cert(
            context, hosts=host or [], ips=ip or [], name=name, client=client, days=days, force=force
        )
    kind = "client" if client else "server"
    console.print(
        f"issued {kind} certificate {escape(str(issued.cert))} (key {escape(str(issued.key))}, 0600)"
    )
    console.print(f"  SANs: {escape(', '.join(issued.hosts + issued.ips))}; expires {issued.not_after}")


@app.command("nginx-config")
def nginx_config(
    upstream: Annotated[str, typer.Option(help="HOST:PORT of `stockade serve`.")] = "127.0.0.1:5000",
    listen: Annotated[str, typer.Option(help="HTTPS port nginx listens on: PORT or ADDRESS:PORT.")] = "443",
    ipv6: Annotated[bool, typer.Option(help="With a bare PORT, also listen on IPv6 [::]:PORT.")] = True,
    server_name: Annotated[str, typer.Option(help="nginx server_name.")] = "_",
    mtls: Annotated[
        bool, typer.Option(help="Require client certificates signed by the internal CA.")
    ] = False,
    out: Annotated[
        Path | None, typer.Option(help="Write here (never overwritten) instead of stdout.")
    ] = None,
    standalone: Annotated[
        Path | None, typer.Option(help="Write a complete nginx.conf with its runtime files in this folder.")
    ] = None,
    force: Annotated[
        bool,
        typer.Option(help="Write it even when the server certificate does not name --server-name (warns)."),
    ] = False,
) -> None:
    """Print an nginx reverse-proxy config: HTTPS, the allowlist, body limit, forwarded headers.

    Refuses a --server-name that the server certificate does not name (clients would refuse it)."""
    from stockade.governance.roles import require
    from stockade.security.pki import default_server_tls, server_name_problem
    from stockade.security.pki_service import nginx_config as render
    from stockade.workspace.service import open_workspace

    with open_workspace(state.workspace) as context:
        require(context, "pki.manage")
        if force:
            problem = server_name_problem(
                default_server_tls(context.workspace.folder("pki")).cert, server_name
            )
            if problem:
                errors.print(f"warning: {escape(problem)} (written anyway: --force)", soft_wrap=True)
        text = render(
            context,
            upstream=upstream,
            listen=listen,
            server_name=server_name,
            mtls=mtls,
            ipv6=ipv6,
            standalone=standalone.resolve() if standalone else None,
            force=force,
        )
    if out is None:
        print(text, end="")
        return
    if out.exists():
        raise typer.BadParameter(f"{out} exists; choose a new path", param_hint="--out")
    out.write_text(text, encoding="utf-8")
    console.print(f"wrote {escape(str(out))}; add nginx's address to security.trusted_proxies")
