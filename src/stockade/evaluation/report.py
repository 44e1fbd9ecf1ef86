"""The evaluation report: one JSON document and one self-contained HTML page (inline CSS, no scripts,
no external assets), candidate and baseline side by side. Every text is HTML-escaped.

With a baseline, ``worst`` lists the examples whose score fell most against it (at most
``WORST_CASES``): ranked by the drop of the task score (with ``--task``: the mean of the example's
task checks, e.g. label right, rules cited, grade right) and then of ROUGE-L, each with both answers'
scores and a character diff from the baseline's answer to the candidate's.
"""

from __future__ import annotations

import math
from difflib import SequenceMatcher
from html import escape
from typing import Any

from stockade.evaluation.task_metrics import LABELS as TASK_LABELS

HEADLINE = ("rouge_l", "bleu4_char", "bleu4_word", "exact_match", "loss", "perplexity")
LABELS = {
    "rouge_l": "ROUGE-L (characters)",
    "bleu4_char": "BLEU-4 (characters)",
    "bleu4_word": "BLEU-4 (jieba words)",
    "exact_match": "Exact match",
    "loss": "Loss (nats/token)",
    "perplexity": "Perplexity",
}
PERCENT = {"rouge_l", "bleu4_char", "bleu4_word", "exact_match"}
WORST_CASES = 10
EXAMPLE_SCORES = ("rouge_l", "bleu4_char", "bleu4_word", "exact_match")
TASK_CHECKS = ("label_correct", "rule_recall", "section_completeness", "grade_correct", "tool_call_correct")
LOWER_IS_BETTER = {"loss", "perplexity"}
CSS = """
ins{background:#dafbe1;text-decoration:none}del{background:#ffebe9}
body{font-family:system-ui,"PingFang SC","Microsoft YaHei",sans-serif;margin:2rem;color:#1b1f24}
h1{font-size:1.4rem}table{border-collapse:collapse;margin:1rem 0;width:100%}
th,td{border:1px solid #d0d7de;padding:.35rem .6rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}.num{text-align:right;font-variant-numeric:tabular-nums}
.better{color:#1a7f37;font-weight:600}.worse{color:#cf222e;font-weight:600}
.meta{color:#57606a;font-size:.9rem}pre{white-space:pre-wrap;margin:0;font-family:inherit}
"""


def summary_of(report: dict[str, Any]) -> dict[str, Any]:
    """The headline numbers kept in the database (and in the audit event)."""
    summary: dict[str, Any] = {
        "examples": len(report["examples"]),
        "candidate": report["candidate"]["metrics"],
    }
    if report.get("baseline"):
        summary["baseline"] = report["baseline"]["metrics"]
        summary["delta"] = report["delta"]
    return summary


def task_score(task: dict[str, Any] | None) -> float | None:
    """One example's task score: the mean of the task checks its parser made (None if it made none)."""
    values = [float(task[key]) for key in TASK_CHECKS if task and task.get(key) is not None]
    return sum(values) / len(values) if values else None


def output_diff(before: str, after: str) -> list[list[str]]:
    """Character diff from ``before`` to ``after``: [["=", text] | ["-", text] | ["+", text], ...]."""
    parts: list[list[str]] = []
    for op, a1, a2, b1, b2 in SequenceMatcher(None, before, after, autojunk=False).get_opcodes():
        if op == "equal":
            parts.append(["=", before[a1:a2]])
            continue
        if a2 > a1:
            parts.append(["-", before[a1:a2]])
        if b2 > b1:
            parts.append(["+", after[b1:b2]])
    return parts


def worst_cases(examples: list[dict[str, Any]], limit: int = WORST_CASES) -> list[dict[str, Any]]:
    """The examples that scored lower than the baseline, largest drop first (task score, then
    ROUGE-L): index, each score's drop (baseline minus candidate) and the answers' diff."""
    ranked = []
    for position, example in enumerate(examples):
        candidate, baseline = example["candidate"], example.get("baseline")
        if baseline is None:
            continue
        drop = {name: baseline[name] - candidate[name] for name in EXAMPLE_SCORES}
        before, after = task_score(baseline.get("task")), task_score(candidate.get("task"))
        if before is not None and after is not None:
            drop["task"] = before - after
        key = (drop.get("task", 0.0), drop["rouge_l"])
        if key > (0.0, 0.0):
            ranked.append((key, position, drop))
    ranked.sort(key=lambda item: (-item[0][0], -item[0][1], item[1]))
    return [
        {
            "index": examples[position]["index"],
            "drop": drop,
            "diff": output_diff(
                examples[position]["baseline"]["output"], examples[position]["candidate"]["output"]
            ),
        }
        for _, position, drop in ranked[:limit]
    ]


def deltas(candidate: dict[str, float], baseline: dict[str, float]) -> dict[str, float]:
    return {
        name: candidate[name] - baseline[name] for name in HEADLINE if name in candidate and name in baseline
    }


def _number(name: str, value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{100 * value:.2f}%" if name in PERCENT or name in TASK_LABELS else f"{value:.4f}"


def _delta_cell(name: str, delta: float | None) -> str:
    if delta is None or math.isnan(delta):
        return '<td class="num">–</td>'
    better = delta < 0 if name in LOWER_IS_BETTER else delta > 0
    css = "better" if better and delta else ("worse" if delta else "")
    shown = f"{100 * delta:+.2f} pt" if name in PERCENT or name in TASK_LABELS else f"{delta:+.4f}"
    return f'<td class="num {css}">{escape(shown)}</td>'


def render_html(report: dict[str, Any]) -> str:
    candidate, baseline = report["candidate"], report.get("baseline")
    title = f"Evaluation of {candidate['ref']} on {report['dataset']['ref']}"
    head = ["metric", escape(candidate["ref"])]
    if baseline:
        head += [escape(baseline["ref"]) + " (baseline)", "change"]
    rows = []
    for name in (*HEADLINE, *report.get("task_metrics", ())):
        row = f"<tr><td>{escape(LABELS.get(name) or TASK_LABELS[name])}</td>"
        row += f'<td class="num">{_number(name, candidate["metrics"].get(name))}</td>'
        if baseline:
            row += f'<td class="num">{_number(name, baseline["metrics"].get(name))}</td>'
            row += _delta_cell(name, report["delta"].get(name))
        rows.append(row + "</tr>")
    ex_head = ["#", "prompt", "reference", escape(candidate["ref"])] + (
        [escape(baseline["ref"])] if baseline else []
    )
    ex_rows = []
    for item in report["examples"]:
        cells = [str(item["index"]), item["prompt"], item["reference"], _answer(item["candidate"])]
        if baseline:
            cells.append(_answer(item["baseline"]))
        ex_rows.append(
            "<tr>"
            + "".join(f"<td>{c if i in (0, 3, 4) else _pre(c)}</td>" for i, c in enumerate(cells))
            + "</tr>"
        )
    worst = _worst_section(report) if baseline else []
    settings, dataset = report["settings"], report["dataset"]
    meta = " · ".join(
        [
            f"report {escape(report['id'])}",
            escape(report["created_at"]),
            f"by {escape(report['created_by'])}",
            f"dataset content sha256 {escape(dataset['content_sha256'][:16])}…",
            f"{len(report['examples'])} examples",
            f"greedy decoding, at most {settings['max_new_tokens']} new tokens",
        ]
    )
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="zh-CN"><head><meta charset="utf-8">',
            f"<title>{escape(title)}</title><style>{CSS}</style></head><body>",
            f"<h1>{escape(title)}</h1>",
            f'<p class="meta">{meta}</p>',
            "<h2>Metrics</h2><table><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr>",
            *rows,
            "</table>",
            *worst,
            "<h2>Examples</h2><table><tr>" + "".join(f"<th>{h}</th>" for h in ex_head) + "</tr>",
            *ex_rows,
            "</table></body></html>",
        ]
    )


def _pre(text: str) -> str:
    return f"<pre>{escape(text)}</pre>"


def _answer(result: dict[str, Any]) -> str:
    scores = f"ROUGE-L {100 * result['rouge_l']:.1f} · BLEU-4 {100 * result['bleu4_char']:.1f}"
    return f'{_pre(result["output"])}<div class="meta">{escape(scores)}</div>'


def _worst_section(report: dict[str, Any]) -> list[str]:
    """Worst cases against the baseline: both answers, their drops, and the diff between them."""
    worst = report.get("worst") or []
    head = f"<h2>Worst cases against the baseline (at most {WORST_CASES})</h2>"
    if not worst:
        return [head, '<p class="meta">No example scored lower than the baseline.</p>']
    by_index = {item["index"]: item for item in report["examples"]}
    candidate, baseline = report["candidate"]["ref"], report["baseline"]["ref"]
    names = ["#", "prompt", "reference", escape(baseline), escape(candidate), "drop", "change of the answer"]
    rows = [head, "<table><tr>" + "".join(f"<th>{n}</th>" for n in names) + "</tr>"]
    for case in worst:
        item = by_index[case["index"]]
        drops = [
            f"{'task score' if k == 'task' else LABELS[k]} {-100 * v:+.1f} pt"
            for k, v in case["drop"].items()
            if v
        ]
        diff = "".join(
            escape(text)
            if op == "="
            else f"<{'del' if op == '-' else 'ins'}>{escape(text)}</{'del' if op == '-' else 'ins'}>"
            for op, text in case["diff"]
        )
        cells = [
            str(case["index"]),
            _pre(item["prompt"]),
            _pre(item["reference"]),
            _answer(item["baseline"]),
            _answer(item["candidate"]),
            "<br>".join(escape(d) for d in drops),
            f"<pre>{diff}</pre>",
        ]
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return [*rows, "</table>"]


def _diff_part(op: str, text: str) -> str:
    tag = {"-": "del", "+": "ins"}.get(op)
    return f"<{tag}>{escape(text)}</{tag}>" if tag else escape(text)
