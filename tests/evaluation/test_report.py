"""The report: headline summary, deltas, and a self-contained, escaped HTML page."""

from __future__ import annotations

import re

from stockade.evaluation.report import deltas, render_html, summary_of


def _report(with_baseline: bool = True) -> dict:
    candidate = {
        "rouge_l": 0.5,
        "bleu4_char": 0.25,
        "bleu4_word": 0.2,
        "exact_match": 0.5,
        "loss": 1.0,
        "perplexity": 2.7,
    }
    baseline = {
        "rouge_l": 0.25,
        "bleu4_char": 0.3,
        "bleu4_word": 0.2,
        "exact_match": 0.0,
        "loss": 2.0,
        "perplexity": 7.4,
    }
    answer = {
        "output": "<b>不良率</b>",
        "rouge_l": 0.5,
        "bleu4_char": 0.2,
        "bleu4_word": 0.1,
        "exact_match": 0.0,
    }
    return {
        "id": "eval-1",
        "created_at": "2026-11-26T10:00:00Z",
        "created_by": "alice",
        "dataset": {"ref": "finance@v1", "content_sha256": "ab" * 32, "evaluated": 1, "limit": None},
        "settings": {"max_new_tokens": 16, "limit": None, "template": None},
        "candidate": {"ref": "fin@v2", "metrics": candidate},
        "baseline": {"ref": "base@v1", "metrics": baseline} if with_baseline else None,
        "delta": deltas(candidate, baseline) if with_baseline else {},
        "examples": [
            {
                "index": 0,
                "prompt": "<script>alert('x')</script>不良率是多少？",
                "reference": "1.27%",
                "candidate": answer,
                **({"baseline": answer} if with_baseline else {}),
            }
        ],
    }


def test_deltas_and_summary() -> None:
    report = _report()
    assert report["delta"]["rouge_l"] == 0.25 and report["delta"]["loss"] == -1.0
    summary = summary_of(report)
    assert summary["examples"] == 1 and summary["delta"]["exact_match"] == 0.5
    assert summary["baseline"]["loss"] == 2.0
    assert "baseline" not in summary_of(_report(with_baseline=False))


def test_html_is_self_contained_and_escaped() -> None:
    html = render_html(_report())
    assert "<script" not in html and "&lt;script&gt;" in html and "&lt;b&gt;不良率&lt;/b&gt;" in html
    assert not re.search(r"https?://|<link|src=|@import|url\(", html)
    assert "fin@v2" in html and "base@v1 (baseline)" in html
    assert "+25.00 pt" in html and "50.00%" in html
    # loss went down (better), BLEU-4 chars went down (worse)
    assert '<td class="num better">-1.0000</td>' in html and '<td class="num worse">-5.00 pt</td>' in html
    single = render_html(_report(with_baseline=False))
    assert "(baseline)" not in single and "fin@v2" in single
