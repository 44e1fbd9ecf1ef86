"""`stockade data import | list | show | rm`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from stockade.cli.output import console, escape, new_table, print_json
from stockade.cli.state import state
from stockade.governance.roles import require

if TYPE_CHECKING:
    from stockade.privacy.report import ScanReport

app = typer.Typer(
    help="Import, validate and version datasets (alpaca, sharegpt, OpenAI messages).", no_args_is_help=True
)

FORMATS = ("auto", "alpaca", "sharegpt", "messages", "text")
GATE_MODES = ("desensitize", "block", "allow")
PolicyOption = Annotated[
    Path | None, typer.Option(help="A privacy policy YAML (default: replace every type with a placeholder).")
]


@app.command("import")
def import_(
    path: Annotated[
        Path | None, typer.Argument(help="A JSON, JSONL, CSV or Parquet file (.txt/.md: plain text).")
    ] = None,
    name: Annotated[str | None, typer.Option(help="Dataset name; versions become NAME@v1, @v2, ...")] = None,
    data_format: Annotated[
        str,
        typer.Option("--format", help="auto, alpaca, sharegpt, messages or text (plain text, for stage pt)."),
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
    policy: PolicyOption = None,
    privacy: Annotated[
        str | None,
        typer.Option(help="Gate mode, overriding the policy's: desensitize (default), block or allow."),
    ] = None,
    reason: Annotated[str | None, typer.Option(help="Why personal data may stay (needed by allow).")] = None,
) -> None:
    """Validate every record, run the privacy gate, then store a normalized, versioned copy."""
    from stockade.data.importer import PrivacyBlocked
    from stockade.data.imports import plan_imports, run_imports
    from stockade.privacy.policy import load_policy
    from stockade.privacy.report import ScanReport
    from stockade.privacy.service import import_gate
    from stockade.workspace.service import open_workspace

    if data_format not in FORMATS:
        raise typer.BadParameter(f"choose one of {', '.join(FORMATS)}", param_hint="--format")
    if privacy not in (None, *GATE_MODES):
        raise typer.BadParameter(f"choose one of {', '.join(GATE_MODES)}", param_hint="--privacy")
    privacy_policy = load_policy(policy, mode=privacy)
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
        require(context, "data.import")
        gate = import_gate(context.privacy_key(), privacy_policy)
        with console.status("importing...") as status:
            outcomes = run_imports(
                context,
                plans,
                gate=gate,
                allow_reason=reason,
                skip_invalid=skip_invalid,
                max_problems=max_problems,
                tokenizer=tokenizer,
                progress=lambda rows: status.update(f"importing... {rows:,} records"),
            )
    except PrivacyBlocked as blocked:
        print_report(
            ScanReport.from_dict(blocked.verdict.report), title="personal data found (import blocked)"
        )
        raise
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
        findings = view.privacy.get("report", {}).get("by_type", {})
        if findings:
            listed = ", ".join(f"{kind} {count}" for kind, count in findings.items())
            console.print(
                f"  privacy gate: {view.privacy['status']} ({listed}); report in "
                f"{escape(str(Path(view.path).parent))}/privacy-report.html"
            )
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

    with open_workspace(state.workspace) as context:
        require(context, "data.read")
        views = list_versions(context, name)
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

    with open_workspace(state.workspace) as context:
        require(context, "data.read")
        print_json(show_version(context, reference).as_dict())


@app.command()
def rm(
    reference: Annotated[str, typer.Argument(help="NAME@vN (a version must be named exactly).")],
    reason: Annotated[str | None, typer.Option(help="Why; kept in the audit log.")] = None,
) -> None:
    """Delete a version's data. Its manifest, hashes and audit records stay: lineage needs them."""
    from stockade.data.catalog import remove_version
    from stockade.workspace.service import open_workspace

    with open_workspace(state.workspace) as context:
        require(context, "data.remove")
        view = remove_version(context, reference, context.workspace.root, reason=reason)
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

    with open_workspace(state.workspace) as context:
        require(context, "data.read")
        previews = preview_records(
            context.engine,
            context.workspace.root,
            reference,
            model,
            template=template,
            count=count,
            cutoff_len=cutoff_len,
        )
    for item in previews:
        tokens = f"{item.tokens} tokens, {item.trainable_tokens} trained" if item.tokens is not None else ""
        console.rule(f"record {item.index} · template {item.template} · {tokens} {item.note or ''}".strip())
        for segment in item.segments:
            style = "bold green" if segment.trainable else "dim"
            console.print(escape(segment.text), style=style, end="")
        console.print()
    console.print("[bold green]green[/]: trained on (labels); [dim]dim[/]: context only (labels -100)")


def print_report(report: ScanReport, *, title: str) -> None:
    fields = report.fields()
    table = new_table("type", *fields, "total", "masked samples", "operator", title=title)
    for kind, total in report.by_type().items():
        table.add_row(
            kind,
            *(str(report.counts[kind].get(name, 0)) for name in fields),
            str(total),
            escape(", ".join(report.samples.get(kind, []))),
            report.operators.get(kind, ""),
        )
    console.print(table)
    console.print(
        f"{report.strings:,} strings scanned, {report.strings_with_pii:,} with personal data; "
        f"policy {escape(report.policy)}"
    )


@app.command()
def scan(
    path: Annotated[Path, typer.Argument(help="A JSON or JSONL file (alpaca, sharegpt, messages).")],
    policy: PolicyOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    html: Annotated[Path | None, typer.Option(help="Also write a self-contained HTML report here.")] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, help="Processes (default: all cores for big files).")
    ] = None,
) -> None:
    """Report personal data by type and field, with masked samples (never a raw value)."""
    from stockade.privacy.policy import load_policy
    from stockade.privacy.service import scan_file, write_report

    report = scan_file(path, load_policy(policy), workers=workers)
    if html:
        write_report(report, html, title=f"Privacy scan of {path.name}")
    if as_json:
        print_json(report.to_dict())
    else:
        print_report(report, title=f"privacy scan of {path.name}")


@app.command()
def desensitize(
    source: Annotated[Path, typer.Argument(help="A JSON or JSONL file.")],
    output: Annotated[Path, typer.Option(help="The new file (same format; never overwritten).")],
    policy: PolicyOption = None,
    report: Annotated[Path | None, typer.Option(help="Write the report here (.html or .json).")] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, help="Processes (default: all cores for big files).")
    ] = None,
) -> None:
    """Write a copy with personal data transformed by the policy and every other byte unchanged."""
    from stockade.privacy.policy import load_policy
    from stockade.privacy.service import desensitize_file, write_report
    from stockade.workspace.service import open_workspace

    chosen = load_policy(policy)
    with open_workspace(state.workspace) as context:
        require(context, "data.desensitize")
        result = desensitize_file(context, context.privacy_key(), source, output, chosen, workers=workers)
    if report:
        write_report(result, report, title=f"Desensitization of {source.name}")
    print_report(result, title=f"desensitized {source.name} -> {output.name}")
