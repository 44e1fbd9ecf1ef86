"""`stockade audit verify | tail`."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from stockade.cli.output import console, escape, new_table, print_json, status_text
from stockade.cli.state import state

app = typer.Typer(help="Read and verify the tamper-evident audit log.", no_args_is_help=True)


@app.command()
def verify(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Check the hash chain; name the first record that was edited, deleted, inserted or moved."""
    from stockade.audit import verify_chain
    from stockade.workspace.service import open_workspace

    with open_workspace(state.workspace) as context:
        result = verify_chain(context.audit)
    if as_json:
        print_json({"ok": result.ok, "checked": result.checked, "problem": result.problem, "seq": result.seq})
    elif result.ok:
        console.print(f"[green]audit log intact[/]: {result.checked} records, chain and head verified")
    else:
        console.print(f"[bold red]audit log TAMPERED[/]: {escape(result.problem or '')}")
        console.print(f"  {result.checked} records before it verified")
    raise typer.Exit(0 if result.ok else 1)


@app.command()
def tail(
    count: Annotated[int, typer.Option("--count", "-n", min=1, help="How many records.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines.")] = False,
) -> None:
    """Show the newest audit records."""
    from stockade.audit import record_as_dict
    from stockade.workspace.service import open_workspace

    with open_workspace(state.workspace) as context:
        records = [record_as_dict(record) for record in context.audit.tail(count)]
    if as_json:
        for record in records:
            print(json.dumps(record, ensure_ascii=False))
        return
    table = new_table("#", "time (UTC)", "actor", "action", "target", "result", "details")
    for record in records:
        details = ", ".join(f"{key}={value}" for key, value in record["details"].items())
        table.add_row(
            str(record["seq"]),
            record["ts"][:19].replace("T", " "),
            escape(record["actor"]),
            record["action"],
            escape(_shorten(record["target"] or "", 40)),
            status_text(record["result"]),
            escape(_shorten(details, 60)),
        )
    console.print(table)
    console.print("(full records, request ids and hashes: --json)")


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
