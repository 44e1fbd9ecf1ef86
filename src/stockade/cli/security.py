"""`stockade security lockouts | unlock`: see and lift the lockouts that repeated failures started."""

from __future__ import annotations

from typing import Annotated

import typer

from stockade.cli.output import console, escape, new_table, print_json
from stockade.cli.state import state

app = typer.Typer(
    help="Lockouts after repeated failures: list them, lift an API address's lockout.", no_args_is_help=True
)


@app.command()
def lockouts(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """List running lockouts: users (wrong passwords) and API client addresses (failed credentials)."""
    from stockade.governance.roles import require
    from stockade.security.lockout import list_lockouts
    from stockade.workspace.service import open_workspace

    with open_workspace(state.workspace) as context:
        require(context, "user.read")
        views = list_lockouts(context)
    if as_json:
        print_json(
            [{"key": v.key, "locked_until": v.locked_until, "seconds_left": v.seconds_left} for v in views]
        )
        return
    if not views:
        console.print("no lockouts")
        return
    table = new_table("locked", "until (UTC)", "seconds left", "lift with")
    for view in views:
        kind, _, name = view.key.partition(":")
        lift = (
            f"stockade security unlock --address {name}"
            if kind == "address"
            else f"stockade user unlock {name}"
        )
        table.add_row(
            escape(view.key), view.locked_until[:19].replace("T", " "), str(view.seconds_left), escape(lift)
        )
    console.print(table)


@app.command()
def unlock(
    address: Annotated[str, typer.Option("--address", help="The client IP address the API locked out.")],
    reason: Annotated[str | None, typer.Option(help="Why (kept in the audit log).")] = None,
) -> None:
    """Lift an API client address's lockout now (a running server sees it at the next request; needs
    token.manage). Check the audit log first: `stockade audit tail` shows its auth.failure records."""
    from stockade.governance.roles import require
    from stockade.security.lockout import address_key, clear_lockout
    from stockade.workspace.service import open_workspace

    key = address_key(address)
    with open_workspace(state.workspace) as context:
        require(context, "token.manage")
        was_locked = clear_lockout(context, key, action="security.unlock", reason=reason)
    shown = key.partition(":")[2]
    if was_locked:
        console.print(f"unlocked {escape(shown)}: the API accepts its credentials again")
    else:
        console.print(f"{escape(shown)} was not locked out (nothing to lift)")
