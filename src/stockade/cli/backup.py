"""`stockade backup create | verify | restore`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from stockade.cli.login import PasswordFileOption, read_password
from stockade.cli.model import byte_progress
from stockade.cli.output import console, escape, new_table, print_json
from stockade.cli.state import state

app = typer.Typer(
    help="Back up a workspace into one checksummed archive (keys sealed with a passphrase), verify an "
    "archive, restore it into a new folder. See docs/operations.md.",
    no_args_is_help=True,
)

PassphraseFileOption = Annotated[
    Path | None,
    typer.Option(
        help="Read the backup passphrase from line 1 of this file (for scripts and timers); default: prompt. "
        "It seals the workspace keys and is never stored."
    ),
]


@app.command()
def create(
    out: Annotated[Path, typer.Option(help="The archive to write (a new file outside the workspace; 0600).")],
    include_weights: Annotated[
        bool,
        typer.Option(
            "--include-weights", help="Also archive model and run weight files (default: manifests only)."
        ),
    ] = False,
    passphrase_file: PassphraseFileOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Write a consistent archive of the workspace while it may be in use (needs `backup.create`)."""
    from stockade.governance.roles import require
    from stockade.operations.backup import create_backup
    from stockade.workspace.service import open_workspace

    with open_workspace(state.workspace) as context:
        require(context, "backup.create")
        passphrase = read_password(passphrase_file, prompt="backup passphrase", confirm=True)
        if as_json:
            result = create_backup(context, out, passphrase=passphrase, include_weights=include_weights)
        else:
            with byte_progress() as progress:
                result = create_backup(
                    context, out, passphrase=passphrase, include_weights=include_weights, progress=progress
                )
    summary = {
        "archive": str(result.path),
        "members": result.members,
        "bytes": result.bytes,
        "database": result.database,
        "counts": result.counts,
        "audit_head": {"seq": result.head_seq, "hash": result.head_hash},
        "manifest_sha256": result.manifest_sha256,
        "omitted": result.omitted,
    }
    if as_json:
        print_json(summary)
        return
    console.print(
        f"[green]backup written[/]: {escape(str(result.path))} ({result.members} members, "
        f"{result.bytes / 1e6:.1f} MB, {result.database} database, audit head #{result.head_seq})"
    )
    weights = sum(1 for item in result.omitted if item["reason"].startswith("weights"))
    if weights:
        console.print(f"{weights} weight file(s) left out (add --include-weights to archive them)")
    others = len(result.omitted) - weights
    if others:
        console.print(f"{others} file(s) left out (see --json for each and why)")


@app.command()
def verify(
    archive: Annotated[Path, typer.Argument(help="The backup archive.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Check every member's SHA-256 and size against MANIFEST.json, and that no member was added or
    removed. Needs no workspace and no passphrase."""
    from stockade.operations.restore import verify_backup

    if as_json:
        result = verify_backup(archive)
    else:
        with byte_progress() as progress:
            result = verify_backup(archive, progress)
    manifest = result.manifest
    info = {
        "ok": True,
        "archive": str(result.path),
        "members": result.members,
        "bytes": result.bytes,
        "created_at": manifest.get("created_at"),
        "stockade_version": manifest.get("stockade_version"),
        "workspace_id": manifest.get("workspace_id"),
        "source_workspace": manifest.get("source_workspace"),
        "database": manifest["database"]["kind"],
        "include_weights": manifest.get("include_weights"),
        "counts": manifest.get("counts"),
        "audit_head": manifest.get("audit_head"),
    }
    if as_json:
        print_json(info)
        return
    console.print(f"[green]backup intact[/]: {result.members} members verified ({result.bytes / 1e6:.1f} MB)")
    for key in ("created_at", "source_workspace", "database", "include_weights", "counts", "audit_head"):
        console.print(f"{key:>17}: {escape(str(info[key]))}")


@app.command()
def restore(
    archive: Annotated[Path, typer.Argument(help="The backup archive.")],
    into: Annotated[Path, typer.Option(help="An empty or new folder for the restored workspace.")],
    user: Annotated[
        str, typer.Option(help="An admin of the backed-up workspace; logged in to the restored one.")
    ],
    password_file: PasswordFileOption = None,
    passphrase_file: PassphraseFileOption = None,
    database_url: Annotated[
        str | None,
        typer.Option(
            help="Restore the database into this empty PostgreSQL database (from a SQLite or PostgreSQL "
            "backup); default: SQLite inside the folder (SQLite backups only)."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Restore into a new folder, then verify it: audit chain and signed checkpoints, audit head and
    counts, every dataset hash and model manifest. USER must hold `backup.restore` there."""
    from stockade.governance.roles import require
    from stockade.governance.sessions import login
    from stockade.operations.restore import restore_backup

    passphrase = read_password(passphrase_file, prompt="backup passphrase")
    password = read_password(password_file, prompt=f"password for {user} (in the backed-up workspace)")

    def authorize(context) -> None:
        login(context, user, password)
        require(context, "backup.restore")

    if as_json:
        result = restore_backup(
            archive, into, passphrase=passphrase, authorize=authorize, database_url=database_url
        )
    else:
        with byte_progress() as progress:
            result = restore_backup(
                archive,
                into,
                passphrase=passphrase,
                authorize=authorize,
                database_url=database_url,
                progress=progress,
            )
    if as_json:
        print_json(
            {
                "ok": True,
                "workspace": str(result.root),
                "database": result.database,
                "checks": dict(result.checks),
                "weights_not_in_backup": result.weights_not_in_backup,
            }
        )
        return
    table = new_table("check", "result")
    for what, outcome in result.checks:
        table.add_row(what, f"[green]ok[/] {escape(outcome)}")
    console.print(table)
    console.print(
        f"[green]restored and verified[/]: {escape(str(result.root))} ({result.database}); "
        f"{escape(user)} is logged in there"
    )
    if result.weights_not_in_backup:
        console.print(
            f"[yellow]{len(result.weights_not_in_backup)} weight file(s) were not in this backup[/]: copy "
            "them back into the model folders, then `stockade model verify NAME@vN`"
        )
