"""Task metrics of the business presets (stockade.tasks), from model answers and reference answers.

Answers and references are read with the preset's parser (stockade.tasks.parsers); an answer that does
not follow the format counts as wrong. Scores are fractions in [0, 1]; a metric with nothing to
measure (e.g. hand-off precision when the model never hands off) is NaN, shown as "–".

* verdicts: ``label_accuracy`` (parsed label == reference label), ``macro_f1`` (the mean over the
  preset's labels that occur in the references or the parsed answers of F1 = 2TP / (2TP + FP + FN);
  an unparsable answer is a false negative of its reference label), ``rule_recall`` (over records
  whose reference cites rules: the share of those rules the answer cites, averaged).
* reports: ``section_completeness`` (the share of required sections present and non-empty, averaged)
  and ``grade_accuracy`` (parsed grade == reference grade).
* customer service: ``tool_call_accuracy`` (over records whose reference is a tool call: the answer is
  a tool call with the same names and arguments), ``handoff_precision`` (of the answers that hand
  off, the share whose reference hands off) and ``handoff_recall`` (of the references that hand off,
  the share the answer hands off).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from stockade.core.errors import StockadeError
from stockade.tasks.parsers import Report, ServiceAnswer, Verdict, parse, reference_problems
from stockade.tasks.presets import ReportParser, TaskPreset, VerdictParser

LABELS = {
    "label_accuracy": "label accuracy",
    "macro_f1": "macro-F1 (labels)",
    "rule_recall": "rules cited (recall)",
    "section_completeness": "section completeness",
    "grade_accuracy": "grade accuracy",
    "tool_call_accuracy": "tool-call accuracy",
    "handoff_precision": "hand-off precision",
    "handoff_recall": "hand-off recall",
}
MAX_LISTED = 5


@dataclass
class TaskScores:
    metrics: dict[str, float]
    per_example: list[dict[str, Any]]


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else math.nan


def _ratio(hits: int, total: int) -> float:
    return hits / total if total else math.nan


def check_references(preset: TaskPreset, references: list[tuple[int, str, str]], dataset: str) -> None:
    """Refuse a dataset whose reference answers (index, text, role) do not follow the preset's format."""
    bad = [
        (index, problems)
        for index, text, role in references
        if (problems := reference_problems(preset, text, role))
    ]
    if bad:
        listed = "; ".join(f"record {index}: {', '.join(problems)}" for index, problems in bad[:MAX_LISTED])
        more = f" (and {len(bad) - MAX_LISTED} more)" if len(bad) > MAX_LISTED else ""
        raise StockadeError(
            f"{len(bad)} of {len(references)} reference answers of {dataset} do not follow the "
            f"{preset.name} output format: {listed}{more}",
            fix=f"evaluate --task {preset.name} on data in that format (stockade task show {preset.name}), "
            "or leave out --task",
        )


def verdict_scores(config: VerdictParser, predicted: list[Verdict], expected: list[Verdict]) -> TaskScores:
    rows, correct, recalls = [], [], []
    for got, want in zip(predicted, expected, strict=True):
        hit = got.label is not None and got.label == want.label
        correct.append(1.0 if hit else 0.0)
        row: dict[str, Any] = {"label": got.label, "label_correct": hit}
        if want.rules:
            recall = len(set(got.rules) & set(want.rules)) / len(want.rules)
            recalls.append(recall)
            row["rule_recall"] = recall
        rows.append(row)
    f1s = []
    for label in config.labels:
        tp = sum(1 for g, w in zip(predicted, expected, strict=True) if g.label == label == w.label)
        fp = sum(1 for g, w in zip(predicted, expected, strict=True) if g.label == label != w.label)
        fn = sum(1 for g, w in zip(predicted, expected, strict=True) if w.label == label != g.label)
        if tp + fp + fn:
            f1s.append(2 * tp / (2 * tp + fp + fn))
    metrics = {"label_accuracy": _mean(correct), "macro_f1": _mean(f1s), "rule_recall": _mean(recalls)}
    return TaskScores(metrics, rows)


def report_scores(config: ReportParser, predicted: list[Report], expected: list[Report]) -> TaskScores:
    rows, complete, grades = [], [], []
    for got, want in zip(predicted, expected, strict=True):
        present = sum(1 for name in config.sections if got.sections.get(name))
        completeness = present / len(config.sections)
        hit = got.grade is not None and got.grade == want.grade
        complete.append(completeness)
        grades.append(1.0 if hit else 0.0)
        rows.append({"section_completeness": completeness, "grade": got.grade, "grade_correct": hit})
    return TaskScores({"section_completeness": _mean(complete), "grade_accuracy": _mean(grades)}, rows)


def service_scores(predicted: list[ServiceAnswer], expected: list[ServiceAnswer]) -> TaskScores:
    rows, calls_right, calls_total = [], 0, 0
    handoff_both = predicted_handoffs = expected_handoffs = 0
    for got, want in zip(predicted, expected, strict=True):
        row: dict[str, Any] = {"answer": got.kind}
        if want.kind == "tool_call":
            calls_total += 1
            hit = got.kind == "tool_call" and got.calls == want.calls
            calls_right += hit
            row["tool_call_correct"] = hit
        predicted_handoffs += got.kind == "handoff"
        expected_handoffs += want.kind == "handoff"
        handoff_both += got.kind == want.kind == "handoff"
        rows.append(row)
    metrics = {
        "tool_call_accuracy": _ratio(calls_right, calls_total),
        "handoff_precision": _ratio(handoff_both, predicted_handoffs),
        "handoff_recall": _ratio(handoff_both, expected_handoffs),
    }
    return TaskScores(metrics, rows)


def task_scores(preset: TaskPreset, outputs: list[str], references: list[str]) -> TaskScores:
    """The preset's metrics (only those it lists) and per-example details."""
    predicted = [parse(preset, text) for text in outputs]
    expected = [parse(preset, text) for text in references]
    config = preset.parser
    if isinstance(config, VerdictParser):
        scores = verdict_scores(config, predicted, expected)  # type: ignore[arg-type]
    elif isinstance(config, ReportParser):
        scores = report_scores(config, predicted, expected)  # type: ignore[arg-type]
    else:
        scores = service_scores(predicted, expected)  # type: ignore[arg-type]
    scores.metrics = {name: scores.metrics[name] for name in preset.metrics}
    return scores
