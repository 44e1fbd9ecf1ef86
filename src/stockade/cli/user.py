"""`stockade user add | list | disable | enable | unlock | passwd | roles`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from stockade.cli.login import PasswordFileOption, read_password
from stockade.cli.output import console, escape, new_table, print_json
from stockade.cli.state import state

app = typer.Typer(help="Users and roles (admin, data_steward, trainer, reviewer, auditor, api_client).")

ReasonOption = Annotated[str, typer.Option(help="Why (kept in the audit log).")]


@app.command()
def add(
    name: Annotated[str, typer.Argument(help="User name (letters, digits, _ . @ -).")],
    role: Annotated[
        list[str] | None,
        typer.Option(
            "--role",
            "-r",
            help="A role; repeat for several: admin, data_steward, trainer, reviewer, auditor, api_client. "
            "Default with --service: api_client.",
            show_default=False,
        ),
    ] = None,
    password_file: PasswordFileOption = None,
    service: Annotated[
        bool,
        typer.Option(
            "--service",
            help="A service account for an application: no password, never logs in, API tokens only "
            "(`stockade token issue --user NAME`).",
        ),
    ] = False,
) -> None:
    """Add a user with one or more roles, or a service account with --service (needs user.manage)."""
    from stockade.governance.roles import require
    from stockade.governance.users import add_user
    from stockade.workspace.service import open_workspace

    if not role and not service:
        raise typer.BadParameter(
            "a user needs at least one role (or --service for an API client)", param_hint="--role"
        )
    with open_workspace(state.workspace) as context:
        require(context, "user.manage")
        if service:
            if password_file is not None:
                raise typer.BadParameter("a service account has no password", param_hint="--password-file")
            view = add_user(context, name, role or ["api_client"], None, service=True)
        else:
            password = read_password(password_file, prompt=f"password for {name}", confirm=True)
            view = add_user(context, name, role or [], password)
    if view.kind == "service":
        console.print(
            f"added service account [bold]{escape(view.name)}[/] (roles: {', '.join(view.roles)}; "
            f"no password, no login). Issue it a token: stockade token issue --user {escape(view.name)} "
            f"--role {view.roles[0]}",
            soft_wrap=True,
        )
        return
    console.print(f"added user [bold]{escape(view.name)}[/] (roles: {', '.join(view.roles)})")


@app.command("list")
def list_(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """List users, their roles and status (needs user.read)."""
    from stockade.governance.roles import require
    from stockade.governance.users import list_users
    from stockade.workspace.service import open_workspace

    with open_workspace(state.workspace) as context:
        require(context, "user.read")
        views = list_users(context)
    if as_json:
        print_json([view.as_dict() for view in views])
        return
    table = new_table("user", "kind", "roles", "status", "created (UTC)", "by")
    for view in views:
        table.add_row(
            escape(view.name),
            view.kind,
            ", ".join(view.roles),
            view.status,
            view.created_at[:19].replace("T", " "),
            escape(view.created_by),
        )
    console.print(table)


def _set_status(name: str, status: str, reason: str) -> None:
    from stockade.governance.roles import require
    from stockade.governance.users import set_status
    from stockade.workspace.service import open_workspace

    with open_workspace(state.workspace) as context:
        require(context, "user.manage")
        set_status(context, name, status, reason=reason)
    console.print(f"{escape(name)}: {status}")


@app.command()
def disable(name: Annotated[str, typer.Argument(help="User name.")], reason: ReasonOption) -> None:
    """Disable a user: no more logins, its sessions end (users are never deleted)."""
    _set_status(name, "disabled", reason)


@app.command()
def enable(name: Annotated[str, typer.Argument(help="User name.")], reason: ReasonOption) -> None:
    """Enable a disabled user again."""
    _set_status(name, "active", reason)


@app.command()
def unlock(
    name: Annotated[str, typer.Argument(help="User name.")],
    reason: Annotated[str | None, typer.Option(help="Why (kept in the audit log).")] = None,
) -> None:
    """Lift a user's login lockout after repeated wrong passwords (needs user.manage)."""
    from stockade.governance.users import unlock_user
    from stockade.workspace.service import open_workspace

    with open_workspace(state.workspace) as context:
        was_locked = unlock_user(context, name, reason=reason)
    if was_locked:
        console.print(f"unlocked {escape(name)}: they can log in again")
    else:
        console.print(f"{escape(name)} was not locked out (wrong-password count reset)")


@app.command()
def passwd(
    name: Annotated[str | None, typer.Argument(help="User name; default: yourself.")] = None,
    password_file: PasswordFileOption = None,
    current_password_file: Annotated[
        Path | None, typer.Option(help="Your current password (changing your own); default: prompt.")
    ] = None,
) -> None:
    """Change your password, or reset another user's (needs user.manage; ends their sessions)."""
    from stockade.governance.users import change_password
    from stockade.workspace.service import open_workspace

    with open_workspace(state.workspace) as context:
        target = name or context.actor.name
        current = None
        if target == context.actor.name:
            current = read_password(current_password_file, prompt="current password")
        new = read_password(password_file, prompt=f"new password for {target}", confirm=True)
        change_password(context, target, new, current_password=current)
    console.print(f"password of {escape(target)} changed")


@app.command()
def roles(
    name: Annotated[str, typer.Argument(help="User name.")],
    role: Annotated[
        list[str] | None, typer.Option("--role", "-r", help="The complete new set of roles; repeat.")
    ] = None,
    reason: Annotated[str | None, typer.Option(help="Why (needed when changing roles).")] = None,
) -> None:
    """Show a user's roles, or replace them with --role ... --reason ... (needs user.manage)."""
    from stockade.core.errors import StockadeError
    from stockade.governance.roles import require
    from stockade.governance.users import list_users, set_roles
    from stockade.workspace.service import open_workspace

    with open_workspace(state.workspace) as context:
        if not role:
            require(context, "user.read")
            found = [view for view in list_users(context) if view.name == name]
            if not found:
                raise StockadeError(f"no user named {name!r}", fix="see `stockade user list`")
            console.print(f"{escape(name)}: {', '.join(found[0].roles)}")
            return
        require(context, "user.manage")
        if not reason:
            raise typer.BadParameter("changing roles needs a reason", param_hint="--reason")
        view = set_roles(context, name, role, reason=reason)
    console.print(f"{escape(view.name)}: {', '.join(view.roles)}")
