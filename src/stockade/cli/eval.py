"""`stockade eval MODEL@V --dataset NAME@V [--baseline MODEL@V]`: metrics and a side-by-side report."""

from __future__ import annotations

import math
from typing import Annotated

import typer

from stockade.cli.output import console, escape, new_table, print_json
from stockade.cli.specs import Verify, VerifyMode
from stockade.cli.state import state

ROWS = (
    ("rouge_l", "ROUGE-L (chars)", True),
    ("bleu4_char", "BLEU-4 (chars)", True),
    ("bleu4_word", "BLEU-4 (jieba words)", True),
    ("exact_match", "exact match", True),
    ("loss", "loss", False),
    ("perplexity", "perplexity", False),
)


def _shown(value: float | None, percent: bool) -> str:
    if value is None or math.isnan(value):
        return "–"
    return f"{100 * value:.2f}%" if percent else f"{value:.4f}"


def register(app: typer.Typer) -> None:
    @app.command("eval")
    def eval_(
        model: Annotated[str, typer.Argument(metavar="MODEL@V", help="The model version to evaluate.")],
        dataset: Annotated[str, typer.Option(help="Held-out dataset version NAME@vN.")],
        baseline: Annotated[
            str | None, typer.Option(help="A version to compare with side by side (e.g. the base).")
        ] = None,
        limit: Annotated[int | None, typer.Option(min=1, help="Evaluate only the first N records.")] = None,
        max_new_tokens: Annotated[int, typer.Option(min=1, help="Longest generated answer.")] = 128,
        template: Annotated[
            str | None, typer.Option(help="Chat template (default: the one recorded with each version).")
        ] = None,
        as_json: Annotated[
            bool, typer.Option("--json", help="Print the report's id, paths and headline metrics as JSON.")
        ] = False,
        verify: Verify = VerifyMode.fast,
    ) -> None:
        """Greedy answers scored with character ROUGE-L, BLEU-4 (chars, jieba words) and exact match, plus
        loss/perplexity; the report (JSON + self-contained HTML) is stored and audited."""
        from stockade.evaluation.service import evaluate
        from stockade.governance.roles import require
        from stockade.workspace.service import open_workspace

        with open_workspace(state.workspace) as context:
            require(context, "eval.run")
            with console.status("evaluating...") as status:
                done = [0]

                def tick() -> None:
                    done[0] += 1
                    status.update(f"evaluating... {done[0]} answers")

                outcome = evaluate(
                    context,
                    model,
                    dataset,
                    baseline=baseline,
                    limit=limit,
                    max_new_tokens=max_new_tokens,
                    template=template,
                    progress=tick,
                    verify=verify.value,
                )
        summary = outcome.summary
        if as_json:
            print_json(
                {
                    "id": outcome.id,
                    "report_json": str(outcome.json_path),
                    "report_html": str(outcome.html_path),
                    **summary,
                }
            )
            return
        columns = ["metric", model] + ([baseline, "change"] if baseline else [])
        table = new_table(*columns, title=f"{outcome.id}: {summary['examples']} examples of {dataset}")
        for key, label, percent in ROWS:
            row = [label, _shown(summary["candidate"].get(key), percent)]
            if baseline:
                delta = summary["delta"].get(key)
                row += [
                    _shown(summary["baseline"].get(key), percent),
                    "–"
                    if delta is None or math.isnan(delta)
                    else (f"{100 * delta:+.2f} pt" if percent else f"{delta:+.4f}"),
                ]
            table.add_row(*row)
        console.print(table)
        console.print(f"report: {escape(str(outcome.html_path))} (and report.json beside it)")
