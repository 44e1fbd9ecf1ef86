"""`stockade token issue | list | revoke | rotate-key`."""

from __future__ import annotations

from typing import Annotated

import typer

from stockade.cli.output import console, escape, new_table, print_json
from stockade.cli.state import state

app = typer.Typer(help="API credentials: JWTs and API keys (issue, list, revoke).", no_args_is_help=True)

KINDS = ("jwt", "api-key")


@app.command()
def issue(
    role: Annotated[list[str], typer.Option("--role", help="A role the token carries (repeatable).")],
    ttl: Annotated[
        int | None,
        typer.Option(
            min=1, help="Lifetime in seconds (default: security.jwt_ttl_seconds / api_key_ttl_days)."
        ),
    ] = None,
    model: Annotated[
        list[str] | None, typer.Option("--model", help="Only this model version NAME@vN (repeatable).")
    ] = None,
    kind: Annotated[str, typer.Option(help="jwt (short-lived) or api-key (long-lived, revocable).")] = "jwt",
    user: Annotated[
        str | None, typer.Option(help="The user the token acts as (default: you); needs the roles.")
    ] = None,
) -> None:
    """Issue a token. It is printed once, alone on the last line of stdout; only its hash is stored."""
    from stockade.governance.roles import require
    from stockade.security.service import issue_credential
    from stockade.workspace.service import open_workspace

    if kind not in KINDS:
        raise typer.BadParameter(f"choose one of {', '.join(KINDS)}", param_hint="--kind")
    with open_workspace(state.workspace) as context:
        require(context, "token.manage")
        issued = issue_credential(
            context,
            kind="jwt" if kind == "jwt" else "api_key",
            subject=user or context.actor.name,
            roles=role,
            models=model,
            ttl_seconds=ttl,
        )
    view = issued.credential
    scope = ", ".join(view.models) if view.models else "any model"
    console.print(
        f"issued {view.kind} {view.id} for {escape(view.subject)} (roles {', '.join(view.roles)}; {scope}); "
        f"expires {view.expires_at}. Shown once:",
        soft_wrap=True,
    )
    print(issued.token, flush=True)


@app.command("list")
def list_(
    show_all: Annotated[bool, typer.Option("--all", help="Include expired and revoked credentials.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List issued credentials (ids and scopes; never a secret)."""
    from stockade.governance.roles import require
    from stockade.security.service import list_credentials
    from stockade.workspace.service import open_workspace

    with open_workspace(state.workspace) as context:
        require(context, "token.manage")
        views = list_credentials(context, include_inactive=show_all)
    if as_json:
        print_json([view.as_dict() for view in views])
        return
    table = new_table("id", "kind", "user", "roles", "models", "expires (UTC)", "status")
    for view in views:
        table.add_row(
            view.id,
            view.kind,
            escape(view.subject),
            ", ".join(view.roles),
            ", ".join(view.models or ["any"]),
            view.expires_at[:19].replace("T", " "),
            view.status,
        )
    console.print(table)


@app.command()
def revoke(
    credential_id: Annotated[str, typer.Argument(help="The id shown by `token issue` / `token list`.")],
    reason: Annotated[str | None, typer.Option(help="Why; kept in the audit log.")] = None,
) -> None:
    """Revoke a JWT or API key at once (the API refuses it from the next request on)."""
    from stockade.governance.roles import require
    from stockade.security.service import revoke_credential
    from stockade.workspace.service import open_workspace

    with open_workspace(state.workspace) as context:
        require(context, "token.manage")
        view = revoke_credential(context, credential_id, reason=reason)
    console.print(f"revoked {view.kind} {view.id} of {escape(view.subject)}")


@app.command("rotate-key")
def rotate_key() -> None:
    """Add a new JWT signing key; new tokens use it, older tokens verify until their key file is removed."""
    from stockade.governance.roles import require
    from stockade.security.service import rotate_signing_key
    from stockade.workspace.service import open_workspace

    with open_workspace(state.workspace) as context:
        require(context, "token.manage")
        kid = rotate_signing_key(context)
    console.print(f"new JWT signing key {kid} in pki/jwt/ (older keys still verify until you remove them)")
