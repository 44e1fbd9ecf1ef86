"""`stockade eval MODEL@V --dataset NAME@V [--baseline MODEL@V] [--task NAME]`: metrics and a side-by-side
report; `stockade eval MODEL@V --benchmark ceval --data DIR`: multiple-choice accuracy per subject."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

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


def _check_combination(
    dataset: str | None,
    benchmark: str | None,
    data: Path | None,
    task: str | None,
    max_new_tokens: int | None,
    shots: int | None,
    split: str | None,
    batch_size: int | None = None,
) -> None:
    if benchmark is None:
        if dataset is None:
            raise typer.BadParameter("give --dataset NAME@vN, or --benchmark NAME with --data DIR")
        extra = [n for n, v in (("--data", data), ("--shots", shots), ("--split", split)) if v is not None]
        if extra:
            raise typer.BadParameter(f"{', '.join(extra)} only apply with --benchmark")
        return
    if dataset is not None:
        raise typer.BadParameter("--dataset and --benchmark exclude each other: one evaluation at a time")
    if data is None:
        raise typer.BadParameter("--benchmark needs --data DIR (the benchmark's local files)")
    extra = [
        n
        for n, v in (("--task", task), ("--max-new-tokens", max_new_tokens), ("--batch-size", batch_size))
        if v is not None
    ]
    if extra:
        raise typer.BadParameter(f"{', '.join(extra)} do not apply to a multiple-choice --benchmark")


@contextmanager
def _progress_bar(unit: str) -> Iterator[Callable[[int, int], None]]:
    """A bar advanced by the evaluation's (done, total) calls; gone when the evaluation ends."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    bar = Progress(
        TextColumn("[bold]evaluating"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(unit),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )
    task = bar.add_task("eval", total=None)

    def update(done: int, total: int) -> None:
        bar.update(task, completed=done, total=total)

    with bar:
        yield update


def register(app: typer.Typer) -> None:
    @app.command("eval")
    def eval_(
        model: Annotated[str, typer.Argument(metavar="MODEL@V", help="The model version to evaluate.")],
        config: Annotated[
            Path | None,
            typer.Option(
                "--config",
                help="An eval.yaml (stockade task init writes one) whose keys are these options "
                "(max_new_tokens for --max-new-tokens); options given here win.",
            ),
        ] = None,
        dataset: Annotated[str | None, typer.Option(help="Held-out dataset version NAME@vN.")] = None,
        baseline: Annotated[
            str | None, typer.Option(help="A version to compare with side by side (e.g. the base).")
        ] = None,
        task: Annotated[
            str | None,
            typer.Option(
                help="A task preset (stockade task list) whose metrics are added; its output format is "
                "checked on the references."
            ),
        ] = None,
        benchmark: Annotated[
            str | None,
            typer.Option(help="Multiple-choice benchmark: ceval, cmmlu or mmlu (files from --data)."),
        ] = None,
        data: Annotated[
            Path | None, typer.Option(help="The benchmark's folder (dev/ and val/ or test/ inside).")
        ] = None,
        shots: Annotated[
            int | None, typer.Option(min=0, help="Benchmark: few-shot examples from dev/ (default 5).")
        ] = None,
        split: Annotated[
            str | None, typer.Option(help="Benchmark: the scored split folder (default: val/, else test/).")
        ] = None,
        limit: Annotated[
            int | None,
            typer.Option(min=1, help="Evaluate only the first N records (benchmark: N per subject)."),
        ] = None,
        max_new_tokens: Annotated[
            int | None,
            typer.Option(min=1, help="Longest generated answer (default: the task preset's, else 128)."),
        ] = None,
        template: Annotated[
            str | None, typer.Option(help="Chat template (default: the one recorded with each version).")
        ] = None,
        batch_size: Annotated[
            int | None,
            typer.Option(
                min=1,
                help="Answers generated together (continuous batching; default 32). Lower it if the device "
                "runs out of memory.",
            ),
        ] = None,
        as_json: Annotated[
            bool, typer.Option("--json", help="Print the report's id, paths and headline metrics as JSON.")
        ] = False,
        verify: Verify = VerifyMode.fast,
    ) -> None:
        """Greedy answers scored with character ROUGE-L, BLEU-4 (chars, jieba words) and exact match, plus
        loss/perplexity and, with --task, the task's metrics; or with --benchmark, multiple-choice accuracy
        by next-token likelihood of the option letters. The report (JSON + self-contained HTML) is stored
        and audited."""
        from stockade.evaluation.benchmark import evaluate_benchmark
        from stockade.evaluation.service import evaluate
        from stockade.governance.roles import require
        from stockade.workspace.service import open_workspace

        if config is not None:
            from stockade.evaluation.config import load_eval_config

            saved = load_eval_config(config)
            dataset = dataset if dataset is not None else saved.dataset
            baseline = baseline if baseline is not None else saved.baseline
            task = task if task is not None else saved.task
            benchmark = benchmark if benchmark is not None else saved.benchmark
            data = data if data is not None else (Path(saved.data) if saved.data else None)
            shots = shots if shots is not None else saved.shots
            split = split if split is not None else saved.split
            limit = limit if limit is not None else saved.limit
            max_new_tokens = max_new_tokens if max_new_tokens is not None else saved.max_new_tokens
            template = template if template is not None else saved.template
            batch_size = batch_size if batch_size is not None else saved.batch_size
        _check_combination(dataset, benchmark, data, task, max_new_tokens, shots, split, batch_size)
        with open_workspace(state.workspace) as context:
            require(context, "eval.run")
            with _progress_bar("questions" if benchmark else "answers") as tick:
                if benchmark is not None:
                    assert data is not None
                    outcome = evaluate_benchmark(
                        context,
                        model,
                        benchmark,
                        data,
                        baseline=baseline,
                        split=split,
                        shots=5 if shots is None else shots,
                        limit=limit,
                        template=template,
                        progress=tick,
                        verify=verify.value,
                    )
                else:
                    assert dataset is not None
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
                        task=task,
                        batch_size=batch_size,
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
        if benchmark is not None:
            title = f"{outcome.id}: {summary['questions']} questions of {summary['benchmark']}"
            rows: Any = (
                ("accuracy", "accuracy (all questions)", True),
                ("subject_average", "mean of subjects", True),
            )
        else:
            from stockade.evaluation.task_metrics import LABELS as TASK_LABELS

            title = f"{outcome.id}: {summary['examples']} examples of {dataset}"
            task_rows = [(k, TASK_LABELS[k], True) for k in summary["candidate"] if k in TASK_LABELS]
            rows = (*ROWS, *task_rows)
        columns = ["metric", model] + ([baseline, "change"] if baseline else [])
        table = new_table(*columns, title=title)
        for key, label, percent in rows:
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
