"""`stockade login | logout | whoami`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from stockade.cli.output import console, escape, print_json
from stockade.cli.state import state

PasswordFileOption = Annotated[
    Path | None,
    typer.Option(help="Read the password from line 1 of this file (for scripts); default: prompt."),
]


def read_password(path: Path | None, *, prompt: str, confirm: bool = False) -> str:
    """A password from ``path``, or typed at a terminal (never an argument: it would show in `ps`)."""
    from stockade.core.errors import StockadeError
    from stockade.security.passwords import read_password_file

    if path is not None:
        return read_password_file(path)
    if not sys.stdin.isatty():
        raise StockadeError(
            "no password given and no terminal to type one",
            fix="pass --password-file FILE (the password on line 1, file mode 0600)",
        )
    return typer.prompt(prompt, hide_input=True, confirmation_prompt=confirm)


def first_admin_password(root: Path, path: Path | None) -> str | None:
    """For `init`: the file's password; else a prompt at a terminal when a new workspace is made and
    $STOCKADE_ADMIN_PASSWORD is unset; else None (init then uses the variable or generates one)."""
    from stockade.core import environment
    from stockade.core.workspace import Workspace
    from stockade.governance.users import ADMIN_PASSWORD_VARIABLE

    if path is not None:
        return read_password(path, prompt="")
    fresh = not Workspace.is_workspace(root.expanduser().resolve())
    if fresh and sys.stdin.isatty() and not environment.read_variable(ADMIN_PASSWORD_VARIABLE):
        return typer.prompt("password for the first admin", hide_input=True, confirmation_prompt=True)
    return None


def login(
    name: Annotated[str, typer.Argument(help="User name.")],
    password_file: PasswordFileOption = None,
) -> None:
    """Log in: later commands in this terminal (or $STOCKADE_SESSION) act as NAME, with NAME's roles,
    until logout or expiry; other terminals keep their own user."""
    from stockade.governance.sessions import login as start
    from stockade.workspace.service import open_workspace

    password = read_password(password_file, prompt=f"password for {name}")
    with open_workspace(state.workspace) as context:
        actor = start(context, name, password)
        hours = context.workspace.settings.governance.session_hours
    console.print(
        f"logged in as [bold]{escape(actor.name)}[/] (roles: {escape(actor.role or '')}) for {hours:g} h"
    )


def logout() -> None:
    """End this terminal's (or $STOCKADE_SESSION's) session: commands here act as nobody until a login."""
    from stockade.governance.sessions import logout as end
    from stockade.workspace.service import open_workspace

    with open_workspace(state.workspace) as context:
        ended = end(context)
    console.print("logged out" if ended else "nobody was logged in")


def whoami(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Show the acting user and roles (the OS user without roles when nobody is logged in)."""
    from stockade.governance.roles import actor_roles
    from stockade.governance.sessions import session_key
    from stockade.workspace.service import open_workspace

    with open_workspace(state.workspace) as context:
        actor = context.actor
    roles = list(actor_roles(actor))
    if as_json:
        print_json(
            {
                "name": actor.name,
                "roles": roles,
                "source": actor.source,
                "logged_in": bool(roles),
                "session": session_key(),
            }
        )
    elif roles:
        console.print(f"{escape(actor.name)} (roles: {', '.join(roles)})")
    else:
        console.print(f"not logged in (OS user {escape(actor.name)}); run `stockade login NAME`")


def register(app: typer.Typer) -> None:
    app.command()(login)
    app.command()(logout)
    app.command()(whoami)
