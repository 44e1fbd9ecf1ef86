"""`stockade audit verify | tail | export | status | checkpoint`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from stockade.cli.output import console, escape, new_table, print_json, status_text
from stockade.cli.state import state

app = typer.Typer(help="Read, verify and export the tamper-evident audit log.", no_args_is_help=True)


@app.command()
def verify(
    public_key: Annotated[
        Path | None,
        typer.Option(
            help="The audit public key (PEM) kept outside the workspace; default: pki/audit-signing.pub."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Check the hash chain and the signed checkpoints; name the first record edited, deleted,
    inserted or moved, or the checkpoint whose signature fails."""
    from stockade.audit import verify_chain
    from stockade.audit.checkpoints import CheckpointVerifier
    from stockade.governance.roles import require
    from stockade.workspace.service import open_workspace

    with open_workspace(state.workspace) as context:
        require(context, "audit.verify")
        if public_key is not None:
            verifier = CheckpointVerifier.from_file(public_key)
        else:
            verifier = CheckpointVerifier.for_workspace(context.workspace.root)
        result = verify_chain(context.audit, verifier)
        if result.ok and result.checkpoints and verifier is None:
            result.ok, result.problem = False, "checkpoints exist but no public key to check their signatures"
    if as_json:
        print_json(
            {
                "ok": result.ok,
                "checked": result.checked,
                "checkpoints": result.checkpoints,
                "signatures_checked": result.signatures,
                "problem": result.problem,
                "seq": result.seq,
            }
        )
    elif result.ok:
        console.print(
            f"[green]audit log intact[/]: {result.checked} records, chain and head verified; "
            f"{result.checkpoints} signed checkpoints verified"
        )
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
    from stockade.governance.roles import require
    from stockade.workspace.service import open_workspace

    with open_workspace(state.workspace) as context:
        require(context, "audit.read")
        records = [record_as_dict(record) for record in context.audit.tail(count)]
    if as_json:
        for record in records:
            print(json.dumps(record, ensure_ascii=False))
        return
    table = new_table("#", "time (UTC)", "actor", "role", "action", "target", "result", "details")
    for record in records:
        details = ", ".join(f"{key}={value}" for key, value in record["details"].items())
        table.add_row(
            str(record["seq"]),
            record["ts"][:19].replace("T", " "),
            escape(record["actor"]),
            escape(record["role"] or ""),
            record["action"],
            escape(_shorten(record["target"] or "", 40)),
            status_text(record["result"]),
            escape(_shorten(details, 60)),
        )
    console.print(table)
    console.print("(full records, request ids and hashes: --json)")


@app.command()
def export(
    out: Annotated[Path, typer.Option(help="A new file to write (created 0600).")],
    since: Annotated[
        str | None, typer.Option(help="From this date/time (UTC unless an offset is given).")
    ] = None,
    until: Annotated[str | None, typer.Option(help="Up to (not including) this date/time.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="jsonl or csv.")] = "jsonl",
) -> None:
    """Export records between two times to JSONL or CSV (for a regulator or an archive)."""
    from stockade.audit.export import export_records
    from stockade.governance.roles import require
    from stockade.workspace.service import open_workspace

    with open_workspace(state.workspace) as context:
        require(context, "audit.export")
        count = export_records(context.audit, context, out, fmt=fmt, since=since, until=until)
    console.print(f"exported {count} records to {escape(str(out))}")


@app.command()
def status(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Records, oldest record, retention, last signed checkpoint and the signing key's fingerprint."""
    from stockade.audit.checkpoints import PUBLIC_KEY_FILE, CheckpointVerifier
    from stockade.governance.roles import require
    from stockade.workspace.service import open_workspace

    with open_workspace(state.workspace) as context:
        require(context, "audit.read")
        count, oldest = context.audit.count()
        checkpoints = context.audit.checkpoints()
        verifier = CheckpointVerifier.for_workspace(context.workspace.root)
        retention = context.workspace.settings.audit.retention_days
        info = {
            "records": count,
            "oldest": oldest,
            "head": context.audit.head()[0],
            "retention_days": retention,
            "retention_note": "Stockade never deletes audit records; no role can through the product",
            "checkpoints": len(checkpoints),
            "last_checkpoint": checkpoints[-1].seq if checkpoints else None,
            "public_key": str(context.workspace.root / PUBLIC_KEY_FILE),
            "key_id": verifier.key_id if verifier else None,
        }
    if as_json:
        print_json(info)
        return
    for key, value in info.items():
        console.print(f"{key:>16}: {escape(str(value))}")
    if retention < 180:
        console.print(
            "[yellow]warning[/]: retention under 180 days (Cybersecurity Law art. 21 asks >= 6 months)"
        )


@app.command()
def checkpoint() -> None:
    """Sign the current head of the chain now (checkpoints are also written every 100 records/hour)."""
    from stockade.governance.roles import require
    from stockade.workspace.service import open_workspace

    with open_workspace(state.workspace) as context:
        require(context, "audit.checkpoint")
        made = context.audit.checkpoint()
    console.print(f"signed checkpoint at record #{made.seq}" if made else "the head has a checkpoint already")


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
