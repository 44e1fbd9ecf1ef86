"""`stockade model import | list | show | verify | rm`: the model store."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from stockade.cli.output import console, escape, new_table, print_json
from stockade.cli.state import state
from stockade.core.errors import StockadeError

app = typer.Typer(
    help="The model store: import local model folders with a SHA-256 manifest, list, show, verify, remove.",
    no_args_is_help=True,
)


@contextmanager
def byte_progress() -> Iterator[Callable[[str, int], Callable[[int], None]]]:
    """A rich progress bar per phase (hashing, copying, verifying), advanced by bytes."""
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    bar = Progress(
        TextColumn("[bold]{task.description:<9}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )

    def phase(name: str, total: int) -> Callable[[int], None]:
        task = bar.add_task(name, total=total)
        return lambda done: bar.advance(task, done)

    with bar:
        yield phase


@app.command("import")
def import_(
    path: Annotated[
        str,
        typer.Argument(
            help="A local model folder (config.json, weights, tokenizer); a hub id is refused with how to "
            "bring the folder in."
        ),
    ],
    name: Annotated[str, typer.Option(help="Model name; versions become NAME@v1, @v2, ...")],
    copy: Annotated[
        bool, typer.Option("--copy/--no-copy", help="Copy into the workspace's models/NAME/vN (default).")
    ] = True,
    tag: Annotated[list[str] | None, typer.Option(help="A tag to record (repeatable).")] = None,
    trusted_key: Annotated[
        Path | None,
        typer.Option(help="For a model bundle (`stockade bundle model`): the organisation's public key."),
    ] = None,
    allow_unsigned: Annotated[
        bool,
        typer.Option("--allow-unsigned", help="For a model bundle: check file hashes only, no signature."),
    ] = False,
) -> None:
    """Check the folder is a complete, safely loadable model, hash every file, detect the architecture
    and register it as NAME@vN. A model bundle is verified (signature, every file) before copying."""
    from stockade.governance.roles import require
    from stockade.models.store.service import import_model
    from stockade.operations.model_bundle import is_model_bundle, open_model_bundle
    from stockade.workspace.service import open_workspace

    expected = None
    if is_model_bundle(Path(path).expanduser()):
        bundle = open_model_bundle(
            Path(path).expanduser(), trusted_key=trusted_key, allow_unsigned=allow_unsigned
        )
        path, expected = str(bundle.model_folder), bundle.manifest_sha256
        signer = bundle.signed_by or "(not checked: --allow-unsigned)"
        console.print(f"bundle verified: {bundle.files} files, signed by {signer}")
    elif trusted_key is not None or allow_unsigned:
        raise StockadeError(
            "--trusted-key and --allow-unsigned apply to model bundles only; this folder has no "
            "bundle manifest",
            where=path,
            fix="drop them to import a plain model folder, or give the folder `stockade bundle model` wrote",
        )
    with open_workspace(state.workspace) as context:
        require(context, "model.import")
        with byte_progress() as progress:
            outcome = import_model(
                context, path, name, copy=copy, tags=tag or [], progress=progress,
                expected_manifest_sha256=expected,
            )  # fmt: skip
    view = outcome.view
    if not outcome.created:
        console.print(f"unchanged: identical to {view.ref} (manifest sha256 {view.manifest_sha256[:16]}…)")
        return
    size = view.manifest["total_bytes"] / 1024**2
    console.print(
        f"[green]registered[/] {view.ref}: {view.architecture}, suggested template "
        f"{view.template or '(none: pass --template when training)'}, {len(view.manifest['files'])} files, "
        f"{size:,.1f} MiB, manifest sha256 {view.manifest_sha256[:16]}… — {escape(view.path)}"
    )


@app.command("list")
def list_(
    name: Annotated[str | None, typer.Argument(help="Only this model's versions.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List model versions."""
    from stockade.governance.roles import require
    from stockade.models.store.service import list_models
    from stockade.workspace.service import open_workspace

    with open_workspace(state.workspace) as context:
        require(context, "model.read")
        views = list_models(context, name)
    if as_json:
        print_json([view.as_dict() for view in views])
        return
    table = new_table(
        "version", "kind", "status", "stage", "architecture", "template", "created (UTC)", "sha256"
    )
    for view in views:
        table.add_row(
            view.ref,
            view.kind,
            view.status,
            view.stage,
            view.architecture,
            view.template or "",
            view.created_at[:19].replace("T", " "),
            view.manifest_sha256[:16],
        )
    console.print(table)


@app.command()
def show(reference: Annotated[str, typer.Argument(help="NAME@vN, or NAME for the latest version.")]) -> None:
    """Show one version: manifest, lineage, stage (JSON)."""
    from stockade.governance.roles import require
    from stockade.models.store.service import show_model
    from stockade.workspace.service import open_workspace

    with open_workspace(state.workspace) as context:
        require(context, "model.read")
        print_json(show_model(context, reference).as_dict())


@app.command()
def verify(
    reference: Annotated[str, typer.Argument(help="NAME@vN, or NAME for the latest version.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Re-hash every file and name each one that changed, appeared or disappeared (exit 1 if any)."""
    from stockade.governance.roles import require
    from stockade.models.store.service import verify_model
    from stockade.workspace.service import open_workspace

    with open_workspace(state.workspace) as context:
        require(context, "model.read")
        with byte_progress() as progress:
            result = verify_model(context, reference, progress=progress)
    if as_json:
        print_json({"ref": result.view.ref, "ok": result.ok, **result.diff.as_dict()})
    elif result.ok:
        console.print(f"[green]ok[/] {result.view.ref}: every file matches its manifest")
    else:
        console.print(f"[red]changed[/] {result.view.ref}:")
        for label, names in result.diff.as_dict().items():
            for file_name in names:
                console.print(f"  {label:<8} {escape(file_name)}")
    if not result.ok:
        raise typer.Exit(1)


@app.command()
def rm(
    reference: Annotated[str, typer.Argument(help="NAME@vN (a version must be named exactly).")],
    reason: Annotated[str | None, typer.Option(help="Why; kept in the audit log.")] = None,
) -> None:
    """Delete a version's files from the store. Its manifest, lineage and audit records stay."""
    from stockade.governance.roles import require
    from stockade.models.store.service import remove_model
    from stockade.workspace.service import open_workspace

    with open_workspace(state.workspace) as context:
        require(context, "model.remove")
        view = remove_model(context, reference, reason=reason)
    console.print(f"removed {view.ref}; its manifest, lineage and audit records stay")
