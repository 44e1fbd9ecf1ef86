"""`stockade eval MODEL@V --benchmark ceval --data DIR`: multiple-choice accuracy per subject, stored
and audited like a dataset evaluation (``models/_eval/<id>/report.json`` + ``report.html``, an
``eval_reports`` row whose dataset reads ``ceval@sha256:<first 12 hex digits of the files' hash>``)."""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from stockade.audit.log import utc_now
from stockade.core.ids import new_id
from stockade.evaluation.choice import Benchmark, ChoiceResult, read_benchmark, run_choices
from stockade.evaluation.report import CSS
from stockade.evaluation.runner import Progress, load_model
from stockade.evaluation.service import EvalOutcome, _target, store_report
from stockade.models.store.safety import load_policy


def evaluate_benchmark(
    context: Any,
    model: str,
    benchmark: str,
    data: Path,
    *,
    baseline: str | None = None,
    split: str | None = None,
    shots: int = 5,
    limit: int | None = None,
    template: str | None = None,
    progress: Progress | None = None,
    verify: str = "fast",
) -> EvalOutcome:
    """``progress`` is called with (questions done, questions in all, candidate and baseline together)."""
    root = context.workspace.root
    bench = read_benchmark(benchmark, data, split=split, shots=shots, limit=limit)
    with Session(context.engine) as session:
        targets = [_target(context, session, model, verify)] + (
            [_target(context, session, baseline, verify)] if baseline else []
        )
    allow_pickle = load_policy(root).allow_pickle_weights
    results = []
    done, total = [0], bench.questions * len(targets)

    def answered() -> None:
        done[0] += 1
        if progress:
            progress(done[0], total)

    if progress:
        progress(0, total)
    for target in targets:
        loaded, tokenizer = load_model(target.model_dir, target.adapter_dir, allow_pickle)
        results.append(run_choices(loaded, tokenizer, template or target.template, bench, progress=answered))
        del loaded
    report_id = new_id("eval-")
    data_ref = f"{bench.name}@sha256:{bench.content_sha256[:12]}"
    sides = [
        {**t.describe(), "metrics": r.metrics, "subjects": r.subjects}
        for t, r in zip(targets, results, strict=True)
    ]
    report: dict[str, Any] = {
        "id": report_id,
        "kind": "benchmark",
        "created_at": utc_now(),
        "created_by": context.actor.name,
        "benchmark": {
            "name": bench.name,
            "ref": data_ref,
            "folder": str(bench.folder),
            "split": bench.split,
            "shots": bench.shots,
            "content_sha256": bench.content_sha256,
            "subjects": [s.name for s in bench.subjects],
            "questions": bench.questions,
        },
        "settings": {"limit": limit, "template": template, "shots": shots, "split": bench.split},
        "candidate": sides[0],
        "baseline": sides[1] if baseline else None,
        "delta": (
            {k: sides[0]["metrics"][k] - sides[1]["metrics"][k] for k in sides[0]["metrics"]}
            if baseline
            else {}
        ),
        "questions": _questions(results),
    }
    summary: dict[str, Any] = {
        "benchmark": data_ref,
        "questions": bench.questions,
        "candidate": report["candidate"]["metrics"],
    }
    if baseline:
        summary["baseline"], summary["delta"] = report["baseline"]["metrics"], report["delta"]
    return store_report(
        context, report_id, report, render_benchmark_html(report, bench), targets, baseline, data_ref,
        summary, action="eval.benchmark", benchmark=data_ref,
    )  # fmt: skip


def _questions(results: list[ChoiceResult]) -> list[dict[str, Any]]:
    rows = []
    for i, first in enumerate(results[0].predictions):
        row = {"subject": first["subject"], "index": first["index"], "answer": first["answer"]}
        for key, result in zip(("candidate", "baseline"), results, strict=False):
            prediction = result.predictions[i]
            row[key] = {"predicted": prediction["predicted"], "probabilities": prediction["probabilities"]}
        rows.append(row)
    return rows


def _pct(value: float) -> str:
    return "–" if value != value else f"{100 * value:.2f}%"


def render_benchmark_html(report: dict[str, Any], bench: Benchmark) -> str:
    candidate, baseline = report["candidate"], report.get("baseline")
    title = f"{bench.name} ({bench.split}, {bench.shots}-shot) of {candidate['ref']}"
    head = ["subject", "questions", escape(candidate["ref"])] + (
        [escape(baseline["ref"])] if baseline else []
    )
    rows = []
    for subject in bench.subjects:
        cells = [
            escape(f"{subject.title} ({subject.name})"),
            str(len(subject.questions)),
            _pct(candidate["subjects"][subject.name]),
        ]
        if baseline:
            cells.append(_pct(baseline["subjects"][subject.name]))
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    for key, label in (("accuracy", "all questions"), ("subject_average", "mean of subjects")):
        cells = [label, str(bench.questions), _pct(candidate["metrics"][key])]
        if baseline:
            cells.append(_pct(baseline["metrics"][key]))
        rows.append("<tr><th>" + "</th><th>".join(cells) + "</th></tr>")
    meta = (
        f"report {escape(report['id'])} · {escape(report['created_at'])} · by {escape(report['created_by'])}"
        f" · files sha256 {escape(bench.content_sha256[:16])}… · next-token likelihood of the option letters"
    )
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="zh-CN"><head><meta charset="utf-8">',
            f"<title>{escape(title)}</title><style>{CSS}</style></head><body>",
            f"<h1>{escape(title)}</h1>",
            f'<p class="meta">{meta}</p>',
            "<table><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr>",
            *rows,
            "</table></body></html>",
        ]
    )
