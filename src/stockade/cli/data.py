"""`stockade data import | list | show | rm`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from stockade.cli.output import console, escape, new_table, print_json
from stockade.cli.state import state

app = typer.Typer(
    help="Import, validate and version datasets (alpaca, sharegpt, OpenAI messages).", no_args_is_help=True
)

FORMATS = ("auto", "alpaca", "sharegpt", "messages")


@app.command("import")
def import_(
    path: Annotated[Path | None, typer.Argument(help="A JSON, JSONL, CSV or Parquet file.")] = None,
    name: Annotated[str | None, typer.Option(help="Dataset name; versions become NAME@v1, @v2, ...")] = None,
    data_format: Annotated[
        str, typer.Option("--format", help="auto, alpaca, sharegpt or messages.")
    ] = "auto",
    encoding: Annotated[
        str, typer.Option(help="Source encoding: utf-8 (default) or gbk to convert.")
    ] = "utf-8",
    dataset_dir: Annotated[
        Path | None, typer.Option("--dataset-dir", help="A LLaMA-Factory data folder with dataset_info.json.")
    ] = None,
    dataset: Annotated[str | None, typer.Option(help="Entries of dataset_info.json: NAME[,NAME].")] = None,
    skip_invalid: Annotated[bool, typer.Option(help="Store the valid records, count the rest.")] = False,
    max_problems: Annotated[int, typer.Option(min=1, help="Problems listed at most.")] = 20,
    tokenizer: Annotated[
        Path | None, typer.Option(help="A model folder whose tokenizer.json gives token statistics.")
    ] = None,
) -> None:
    """Validate every record, then store a normalized, versioned copy in the workspace."""
    from stockade.data.imports import plan_imports, run_imports
    from stockade.workspace.service import open_workspace

    if data_format not in FORMATS:
        raise typer.BadParameter(f"choose one of {', '.join(FORMATS)}", param_hint="--format")
    plans = plan_imports(
        path=path,
        name=name,
        formatting=data_format,
        encoding=encoding,
        dataset_dir=dataset_dir,
        datasets=dataset,
    )
    context = open_workspace(state.workspace)
    try:
        with console.status("importing...") as status:
            outcomes = run_imports(
                context,
                plans,
                skip_invalid=skip_invalid,
                max_problems=max_problems,
                tokenizer=tokenizer,
                progress=lambda rows: status.update(f"importing... {rows:,} records"),
            )
    finally:
        context.close()
    for outcome in outcomes:
        view = outcome.version
        if outcome.created:
            console.print(
                f"[green]stored[/] {view.ref}: {view.rows:,} records, content sha256 "
                f"{view.content_sha256[:16]}…, privacy: {view.privacy['status']}"
            )
        else:
            console.print(f"unchanged: identical to {view.ref}; nothing stored")
        if outcome.skipped:
            console.print(f"[yellow]skipped {outcome.skipped} invalid records[/] (recorded in provenance)")


@app.command("list")
def list_(
    name: Annotated[str | None, typer.Argument(help="Only this dataset's versions.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List dataset versions."""
    from stockade.data.catalog import list_versions
    from stockade.workspace.service import open_workspace

    context = open_workspace(state.workspace)
    try:
        views = list_versions(context, name)
    finally:
        context.close()
    if as_json:
        print_json([view.as_dict() for view in views])
        return
    table = new_table("version", "status", "records", "privacy", "created (UTC)", "by", "content sha256")
    for view in views:
        table.add_row(
            view.ref,
            view.status,
            f"{view.rows:,}",
            view.privacy.get("status", ""),
            view.created_at[:19].replace("T", " "),
            escape(view.created_by),
            view.content_sha256[:16],
        )
    console.print(table)


@app.command()
def show(
    reference: Annotated[str, typer.Argument(help="NAME@vN, or NAME for the latest version.")],
) -> None:
    """Show one version: hashes, statistics, provenance, privacy verdict (JSON)."""
    from stockade.data.catalog import show_version
    from stockade.workspace.service import open_workspace

    context = open_workspace(state.workspace)
    try:
        print_json(show_version(context, reference).as_dict())
    finally:
        context.close()


@app.command()
def rm(
    reference: Annotated[str, typer.Argument(help="NAME@vN (a version must be named exactly).")],
    reason: Annotated[str | None, typer.Option(help="Why; kept in the audit log.")] = None,
) -> None:
    """Delete a version's data. Its manifest, hashes and audit records stay: lineage needs them."""
    from stockade.data.catalog import remove_version
    from stockade.workspace.service import open_workspace

    context = open_workspace(state.workspace)
    try:
        view = remove_version(context, reference, context.workspace.root, reason=reason)
    finally:
        context.close()
    console.print(
        f"removed the data of {view.ref}; kept its manifest, hashes and audit records (lineage needs them)"
    )


@app.command()
def preview(
    reference: Annotated[str, typer.Argument(help="NAME@vN, or NAME for the latest version.")],
    model: Annotated[Path, typer.Option(help="A model folder whose tokenizer renders the records.")],
    template: Annotated[
        str | None,
        typer.Option(help="Built-in template (qwen, qwen3, llama3, glm4, ...); default: the model's."),
    ] = None,
    count: Annotated[int, typer.Option("--count", "-n", min=1, help="Records to show.")] = 3,
    cutoff_len: Annotated[int, typer.Option(min=8, help="Token budget, as in training.")] = 2048,
) -> None:
    """Show records as the model sees them: template applied, trained text highlighted, tokens counted."""
    from stockade.data.preview import preview_records
    from stockade.workspace.service import open_workspace

    context = open_workspace(state.workspace)
    try:
        previews = preview_records(
            context.engine,
            context.workspace.root,
            reference,
            model,
            template=template,
            count=count,
            cutoff_len=cutoff_len,
        )
    finally:
        context.close()
    for item in previews:
        tokens = f"{item.tokens} tokens, {item.trainable_tokens} trained" if item.tokens is not None else ""
        console.rule(f"record {item.index} · template {item.template} · {tokens} {item.note or ''}".strip())
        for segment in item.segments:
            style = "bold green" if segment.trainable else "dim"
            console.print(escape(segment.text), style=style, end="")
        console.print()
    console.print("[bold green]green[/]: trained on (labels); [dim]dim[/]: context only (labels -100)")
