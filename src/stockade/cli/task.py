"""`stockade task list | show NAME | init NAME [--out DIR] | check NAME FILE`: the business task presets
(stockade.tasks)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from stockade.cli.output import console, errors, escape, new_table, print_json

app = typer.Typer(
    help="Business task presets: compliance review, risk reports, customer service.", no_args_is_help=True
)


def _output_format(preset: Any) -> list[str]:
    parser = preset.parser
    if parser.kind == "verdict":
        lines = [
            f"verdict line: {parser.verdict_prefix}<one of: {', '.join(parser.labels)}>",
            f"rules line: {parser.rules_prefix}<rule ids matching {parser.rule_pattern}, or 无>",
        ]
        lines += [f"  {rule} {text}" for rule, text in preset.rules.items()]
        return lines
    if parser.kind == "report":
        return [
            "sections, in order: " + "".join(f"【{name}】" for name in parser.sections),
            f"【{parser.grade_section}】 starts with one of: {', '.join(parser.grades)}",
        ]
    return [
        'tool call: a function_call turn, JSON {"name": ..., "arguments": {...}}; tools: '
        + ", ".join(preset.tool_names),
        f"hand-off: an answer that starts with {parser.handoff_marker}",
    ]


@app.command("list")
def list_(
    as_json: Annotated[bool, typer.Option("--json", help="Print the presets as JSON.")] = False,
) -> None:
    """The task presets shipped with Stockade."""
    from stockade.tasks.presets import load_preset, preset_names

    presets = [load_preset(name) for name in preset_names()]
    if as_json:
        print_json([{"name": p.name, "title": p.title, "metrics": p.metrics} for p in presets])
        return
    table = new_table("name", "title", "format", "metrics")
    for preset in presets:
        table.add_row(preset.name, escape(preset.title), preset.format, ", ".join(preset.metrics))
    console.print(table)


@app.command()
def show(
    name: Annotated[str, typer.Argument(help="The preset (stockade task list).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the whole preset as JSON.")] = False,
) -> None:
    """A preset's output format, system prompt, template, training settings and metrics."""
    from stockade.tasks.presets import load_preset

    preset = load_preset(name)
    if as_json:
        print_json(preset.model_dump())
        return
    console.print(f"[bold]{escape(preset.name)}[/] — {escape(preset.title)}")
    console.print(escape(preset.description))
    console.print(f"\nrecord format: {preset.format} · chat template: {preset.template}")
    console.print(f"system prompt: {escape(preset.system)}")
    console.print("\noutput format:")
    for line in _output_format(preset):
        console.print(f"  {escape(line)}")
    console.print(f"\nmetrics (stockade eval --task {preset.name}): {', '.join(preset.metrics)}")
    console.print(f"default --max-new-tokens: {preset.eval.max_new_tokens}")
    console.print("recommended training settings (train.yaml):")
    for key, value in preset.train.items():
        console.print(f"  {key}: {escape(json.dumps(value, ensure_ascii=False))}")
    records = preset.sample_records()
    console.print(f"\nsample set: {len(records)} synthetic records; the first:")
    console.print(escape(json.dumps(records[0], ensure_ascii=False, indent=1)))


@app.command()
def init(
    name: Annotated[str, typer.Argument(help="The preset (stockade task list).")],
    out: Annotated[Path | None, typer.Option(help="The folder to write (default: ./NAME).")] = None,
    model: Annotated[
        str | None, typer.Option(help="Base model NAME@vN to write into train.yaml (else set it later).")
    ] = None,
) -> None:
    """Write sample data, dataset_info.json, train.yaml and a README into a new folder (never overwrites)."""
    from stockade.core.paths import user_path
    from stockade.tasks.scaffold import init_task

    scaffold = init_task(name, user_path(out or name), model=model)
    console.print(
        f"wrote {escape(str(scaffold.folder))}: {scaffold.train_records} training and "
        f"{scaffold.test_records} held-out records, dataset_info.json, train.yaml, README.md"
    )
    console.print(
        f"next: cd {escape(str(scaffold.folder))} && stockade data import --dataset-dir . "
        f"--dataset {name},{name}-test  (then see README.md)"
    )


@app.command()
def check(
    name: Annotated[str, typer.Argument(help="The preset (stockade task list).")],
    file: Annotated[Path, typer.Argument(help="A dataset file (JSON, JSONL, CSV or Parquet).")],
    format_: Annotated[
        str | None,
        typer.Option("--format", help="alpaca, sharegpt or messages (default: the preset's format)."),
    ] = None,
    max_problems: Annotated[int, typer.Option(min=1, help="List at most N problems.")] = 20,
) -> None:
    """Check that every record of FILE follows the preset's schema and output format (exit 1 if not)."""
    from stockade.core.paths import user_path
    from stockade.tasks.validate import check_file

    result = check_file(name, user_path(file), formatting=format_)
    if result.problems:
        for problem in result.problems[:max_problems]:
            errors.print(escape(problem))
        more = len(result.problems) - max_problems
        errors.print(
            f"{len(result.problems)} problems in {escape(str(file))}"
            + (f" ({more} not listed)" if more > 0 else "")
            + f"; `stockade task show {name}` prints the format"
        )
        raise typer.Exit(1)
    console.print(f"{result.records} records of {escape(str(file))} follow the {name} format")
