"""The evaluation report: one JSON document and one self-contained HTML page (inline CSS, no scripts,
no external assets), candidate and baseline side by side. Every text is HTML-escaped."""

from __future__ import annotations

import math
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
LOWER_IS_BETTER = {"loss", "perplexity"}
CSS = """
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
