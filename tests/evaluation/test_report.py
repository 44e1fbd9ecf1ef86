"""The report: headline summary, deltas, and a self-contained, escaped HTML page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

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


def _scored(output: str, rouge: float, task: dict | None = None) -> dict:
    row = {"output": output, "rouge_l": rouge, "bleu4_char": 0.0, "bleu4_word": 0.0, "exact_match": 0.0}
    return {**row, "task": task} if task is not None else row


def test_worst_cases_rank_the_largest_drops_first_with_a_diff() -> None:
    from stockade.evaluation.report import output_diff, worst_cases

    right, wrong = {"label_correct": True}, {"label_correct": False}
    examples = [
        {"index": 0, "candidate": _scored("合规", 0.9, right), "baseline": _scored("合规", 0.9, right)},
        {"index": 1, "candidate": _scored("违规 A", 0.5, wrong), "baseline": _scored("合规 A", 0.6, right)},
        {"index": 2, "candidate": _scored("x", 0.1, right), "baseline": _scored("y", 0.7, right)},
        {"index": 3, "candidate": _scored("z", 0.2, right), "baseline": _scored("w", 0.1, wrong)},
        {"index": 4, "candidate": _scored("q", 0.3, right), "baseline": _scored("q", 0.5, right)},
    ]
    worst = worst_cases(examples, limit=2)
    # the verdict that flipped (task score 1 → 0) comes first, then the largest ROUGE-L drop
    assert [case["index"] for case in worst] == [1, 2]
    assert worst[0]["drop"]["task"] == 1.0 and worst[0]["drop"]["rouge_l"] == pytest.approx(0.1)
    assert worst[0]["diff"] == [["-", "合"], ["+", "违"], ["=", "规 A"]]
    assert [case["index"] for case in worst_cases(examples)] == [1, 2, 4]  # improved or equal: not listed
    assert output_diff("abc", "abc") == [["=", "abc"]]


def test_the_html_shows_the_worst_cases_side_by_side_escaped() -> None:
    from stockade.evaluation.report import worst_cases

    report = _report()
    example = report["examples"][0]
    example["baseline"] = {**example["baseline"], "output": "不良率 1.27%", "rouge_l": 0.9}
    example["candidate"] = {**example["candidate"], "output": "<i>不良率</i> 2%", "rouge_l": 0.1}
    report["worst"] = worst_cases(report["examples"])
    html = render_html(report)
    section = html.split("Worst cases against the baseline")[1].split("<h2>")[0]
    assert "<ins>&lt;i&gt;</ins>" in section and "<del>" in section and "<i>" not in section
    assert "ROUGE-L (characters) -80.0 pt" in section
    assert section.index("不良率 1.27%") < section.index(
        "&lt;i&gt;不良率&lt;/i&gt; 2%"
    )  # baseline | candidate
    report["worst"] = []
    assert "No example scored lower than the baseline." in render_html(report)
    assert "Worst cases" not in render_html(_report(with_baseline=False))


def test_batch_size_applies_to_dataset_evaluations_only() -> None:
    import typer

    from stockade.cli.eval import _check_combination

    _check_combination("d@v1", None, None, None, None, None, None, 8)  # accepted with --dataset
    with pytest.raises(typer.BadParameter, match="--batch-size do not apply"):
        _check_combination(None, "ceval", Path("x"), None, None, None, None, 8)
