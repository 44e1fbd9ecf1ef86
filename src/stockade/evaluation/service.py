"""`stockade eval MODEL@V --dataset NAME@V [--baseline MODEL@V]`: evaluate, store the report, audit it.

Reports go to ``models/_eval/<report id>/report.json`` and ``report.html`` in the workspace and a row in
``eval_reports`` (with the JSON file's SHA-256); the audit event carries the headline numbers only —
never prompts, references or outputs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from stockade.audit.log import utc_now
from stockade.core.errors import StockadeError
from stockade.core.hashing import canonical_json, sha256_file
from stockade.core.ids import new_id
from stockade.data.versions import find_version
from stockade.evaluation.report import deltas, render_html, summary_of, worst_cases
from stockade.evaluation.runner import (
    DEFAULT_BATCH_SIZE,
    Example,
    Progress,
    load_model,
    read_examples,
    run_model,
)
from stockade.evaluation.task_metrics import check_references, task_scores
from stockade.models.store.integrity import verify_before_use
from stockade.models.store.resolve import model_path, resolve_model_version
from stockade.models.store.safety import load_policy
from stockade.storage.model_tables import EvalReport, ModelVersion
from stockade.tasks.presets import load_preset

REPORTS_FOLDER = "_eval"  # under models/; not a valid model name, so it never clashes with one
EVALUABLE_PRIVACY = ("passed", "desensitized")  # reports show the records: no personal data in them
DEFAULT_MAX_NEW_TOKENS = 128


@dataclass(frozen=True)
class Target:
    """A model version ready to load: its folder, and for an adapter, its base folder."""

    ref: str
    id: str
    kind: str
    manifest_sha256: str
    template: str | None
    model_dir: Path
    adapter_dir: Path | None

    def describe(self) -> dict[str, Any]:
        return {"ref": self.ref, "id": self.id, "kind": self.kind, "manifest_sha256": self.manifest_sha256}


@dataclass
class EvalOutcome:
    id: str
    json_path: Path
    html_path: Path
    summary: dict[str, Any]


def _target(context: Any, session: Session, reference: str, verify: str) -> Target:
    root = context.workspace.root

    def _intact(row: ModelVersion) -> None:
        verify_before_use(root, row, purpose="eval", mode=verify, record=context.record)

    row = resolve_model_version(session, reference)
    _intact(row)
    folder, adapter = model_path(root, row), None
    if row.kind == "adapter":
        base = session.get(ModelVersion, json.loads(row.lineage).get("base_version_id") or "")
        if base is None or base.status != "active":
            raise StockadeError(
                f"the base version of adapter {row.name}@v{row.version} is missing or removed",
                fix="evaluate a merged version instead (`stockade export RUN --merge`)",
            )
        _intact(base)
        folder, adapter = model_path(root, base), model_path(root, row)
    return Target(
        f"{row.name}@v{row.version}", row.id, row.kind, row.manifest_sha256, row.template, folder, adapter
    )


def evaluate(
    context: Any,
    model: str,
    dataset: str,
    *,
    baseline: str | None = None,
    limit: int | None = None,
    max_new_tokens: int | None = None,
    template: str | None = None,
    progress: Progress | None = None,
    verify: str = "fast",
    task: str | None = None,
    batch_size: int | None = None,
) -> EvalOutcome:
    """``task``: a preset name (stockade.tasks) whose metrics are added; ``max_new_tokens`` defaults to
    the preset's, else 128; ``batch_size``: answers generated together (continuous batching, default
    DEFAULT_BATCH_SIZE); ``progress`` is called with (answers done, answers in all, candidate and
    baseline together). With a baseline, the report lists the worst cases (report.worst_cases)."""
    batch_size = DEFAULT_BATCH_SIZE if batch_size is None else batch_size
    if batch_size < 1:
        raise StockadeError(f"batch_size must be at least 1 (got {batch_size})", fix="pass 1 or more")
    root = context.workspace.root
    preset = load_preset(task) if task else None
    if max_new_tokens is None:
        max_new_tokens = preset.eval.max_new_tokens if preset else DEFAULT_MAX_NEW_TOKENS
    with Session(context.engine) as session:
        data = find_version(session, dataset)
        data_ref = f"{data.name}@v{data.version}"
        privacy = json.loads(data.privacy).get("status")
        if data.status != "active":
            raise StockadeError(
                f"{data_ref} was removed", fix="evaluate on an active version (stockade data list)"
            )
        if privacy not in EVALUABLE_PRIVACY:
            raise StockadeError(
                f"{data_ref} did not pass the privacy gate (verdict: {privacy}); reports show its records",
                fix="evaluate on a desensitized version (re-import it with the desensitize policy)",
            )
        targets = [_target(context, session, model, verify)] + (
            [_target(context, session, baseline, verify)] if baseline else []
        )
        data_path, data_sha = root / data.path, data.content_sha256
    allow_pickle = load_policy(root).allow_pickle_weights
    examples = read_examples(data_path, limit)
    if not examples:
        raise StockadeError(f"{data_ref} has no records to evaluate", fix="check --limit")
    if preset:
        last = [(e.index, e.reference, e.conversation.messages[-1].role) for e in examples]
        check_references(preset, last, data_ref)
    results, task_rows = [], []
    done, total = [0], len(examples) * len(targets)

    def answered() -> None:
        done[0] += 1
        if progress:
            progress(done[0], total)

    if progress:
        progress(0, total)
    for target in targets:
        loaded, tokenizer = load_model(target.model_dir, target.adapter_dir, allow_pickle, merge=True)
        results.append(
            run_model(
                loaded,
                tokenizer,
                template or target.template,
                examples,
                max_new_tokens=max_new_tokens,
                batch_size=batch_size,
                on_answer=answered,
            )
        )
        del loaded
        if preset:
            scores = task_scores(preset, results[-1].outputs, [e.reference.strip() for e in examples])
            results[-1].metrics.update(scores.metrics)
            task_rows.append(scores.per_example)
    report_id = new_id("eval-")
    report = _report(report_id, context.actor.name, targets, results, examples, data_ref, data_sha, limit)
    report["settings"] = {
        "max_new_tokens": max_new_tokens,
        "limit": limit,
        "template": template,
        "task": task,
        "batch_size": batch_size,
    }
    if preset:
        _add_task(report, preset.metrics, task_rows)
    if report["baseline"]:
        report["worst"] = worst_cases(report["examples"])
    summary = summary_of(report)
    return store_report(
        context, report_id, report, render_html(report), targets, baseline, data_ref, summary,
        action="eval.report", dataset=data_ref,
    )  # fmt: skip


def store_report(
    context: Any,
    report_id: str,
    report: dict[str, Any],
    html: str,
    targets: list[ModelVersion],
    baseline: bool,
    data_ref: str,
    summary: dict[str, Any],
    *,
    action: str,
    **audit: Any,
) -> EvalOutcome:
    """Write a report's JSON and HTML under models/_eval/ID, its row (with the JSON's SHA-256, which
    release gates check) and the audit record ``action`` in one transaction."""
    root = context.workspace.root
    folder = context.workspace.folder("models") / REPORTS_FOLDER / report_id
    folder.mkdir(parents=True, mode=0o700)
    json_path, html_path = folder / "report.json", folder / "report.html"
    json_path.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    html_path.write_text(html, encoding="utf-8")
    with Session(context.engine) as session, session.begin():
        session.add(
            EvalReport(
                id=report_id,
                model_version_id=targets[0].id,
                dataset=data_ref,
                baseline_version_id=targets[1].id if baseline else None,
                created_at=report["created_at"],
                created_by=context.actor.name,
                path=json_path.relative_to(root).as_posix(),
                sha256=sha256_file(json_path),
                summary=canonical_json(summary),
            )
        )
        context.record(
            action,
            targets[0].ref,
            session=session,
            report=report_id,
            baseline=targets[1].ref if baseline else None,
            summary=summary,
            **audit,
        )
    return EvalOutcome(report_id, json_path, html_path, summary)


def _add_task(report: dict[str, Any], metrics: list[str], rows: list[list[dict[str, Any]]]) -> None:
    """The task metrics' names, their change against the baseline, and each answer's parsed details."""
    report["task_metrics"] = list(metrics)
    if report["baseline"]:
        candidate, baseline = report["candidate"]["metrics"], report["baseline"]["metrics"]
        report["delta"].update({name: candidate[name] - baseline[name] for name in metrics})
    for i, example in enumerate(report["examples"]):
        for key, side in zip(("candidate", "baseline"), rows, strict=False):
            example[key]["task"] = side[i]


def _report(
    report_id: str,
    user: str,
    targets: list[Target],
    results: list[Any],
    examples: list[Example],
    data_ref: str,
    data_sha: str,
    limit: int | None,
) -> dict[str, Any]:
    sides = [{**t.describe(), "metrics": r.metrics} for t, r in zip(targets, results, strict=True)]
    rows = []
    for i, example in enumerate(examples):
        row = {"index": example.index, "prompt": example.prompt, "reference": example.reference}
        for key, result in zip(("candidate", "baseline"), results, strict=False):
            row[key] = {"output": result.outputs[i], **result.scores[i]}
        rows.append(row)
    return {
        "id": report_id,
        "created_at": utc_now(),
        "created_by": user,
        "dataset": {"ref": data_ref, "content_sha256": data_sha, "evaluated": len(examples), "limit": limit},
        "candidate": sides[0],
        "baseline": sides[1] if len(sides) > 1 else None,
        "delta": deltas(sides[0]["metrics"], sides[1]["metrics"]) if len(sides) > 1 else {},
        "examples": rows,
    }
