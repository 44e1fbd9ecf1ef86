"""Task metrics on hand-made answers, every expected number computed by hand in the comments."""

from __future__ import annotations

import json
import math

import pytest

from stockade.core.errors import StockadeError
from stockade.evaluation.task_metrics import check_references, task_scores
from stockade.tasks.presets import load_preset


def test_verdicts_accuracy_macro_f1_and_rule_recall() -> None:
    preset = load_preset("compliance-review")
    references = [
        "结论：合规\n依据：无\n理由：已揭示风险。",
        "结论：不合规\n依据：R01、R02\n理由：承诺保本。",
        "结论：不合规\n依据：R03\n理由：夸大业绩。",
        "结论：需人工复核\n依据：R05\n理由：资金来源不明。",
        "结论：合规\n依据：无\n理由：费率已披露。",
    ]
    outputs = [
        "结论：合规\n依据：无\n理由：x",  # right
        "结论：不合规\n依据：R01\n理由：y",  # right; cites 1 of 2 rules
        "结论：合规\n依据：无",  # wrong label; 0 of 1 rule
        "我认为需要人工复核。",  # no verdict line: unparsable, wrong; 0 of 1 rule
        "结论: 合规。",  # ASCII colon and a full stop still parse: right
    ]
    scores = task_scores(preset, outputs, references)
    # accuracy 3/5. F1 = 2TP/(2TP+FP+FN): 合规 TP2 FP1 FN0 -> 4/5; 不合规 TP1 FP0 FN1 -> 2/3;
    # 需人工复核 TP0 FP0 FN1 -> 0. Macro: (4/5 + 2/3 + 0)/3 = 22/45. Rule recall: (1/2 + 0 + 0)/3 = 1/6.
    assert scores.metrics["label_accuracy"] == pytest.approx(3 / 5)
    assert scores.metrics["macro_f1"] == pytest.approx(22 / 45)
    assert scores.metrics["rule_recall"] == pytest.approx(1 / 6)
    assert [row["label"] for row in scores.per_example] == ["合规", "不合规", "合规", None, "合规"]
    assert list(scores.metrics) == ["label_accuracy", "macro_f1", "rule_recall"]


def test_a_label_outside_the_fixed_set_counts_as_wrong() -> None:
    preset = load_preset("compliance-review")
    scores = task_scores(preset, ["结论：基本合规"], ["结论：合规\n依据：无"])
    # 合规: TP0 FP0 FN1 -> F1 0; no other label occurs
    assert scores.metrics["label_accuracy"] == 0.0 and scores.metrics["macro_f1"] == 0.0
    assert math.isnan(scores.metrics["rule_recall"])  # no reference cites a rule


def _report(grade: str, *, drop: str | None = None) -> str:
    sections = {
        "客户概况": "客户A，35岁。",
        "财务状况": "年收入50万。",
        "风险因素": "无。",
        "风险等级": grade,
        "建议措施": "正常审批。",
    }
    return "\n".join(f"【{name}】{text}" for name, text in sections.items() if name != drop)


def test_reports_section_completeness_and_grade_accuracy() -> None:
    preset = load_preset("risk-report")
    references = [_report("中"), _report("高"), _report("低")]
    outputs = [
        _report("中"),  # 5/5 sections, grade right
        _report("高风险", drop="建议措施"),  # 4/5 sections, grade "高" right
        "【客户概况】客户C\n【风险等级】",  # 1/5 (an empty section does not count), no grade: wrong
    ]
    scores = task_scores(preset, outputs, references)
    # completeness (1 + 4/5 + 1/5)/3 = 2/3; grades 2/3
    assert scores.metrics["section_completeness"] == pytest.approx(2 / 3)
    assert scores.metrics["grade_accuracy"] == pytest.approx(2 / 3)
    assert [row["grade"] for row in scores.per_example] == ["中", "高", None]


def _call(account: str) -> str:
    return json.dumps(
        {"name": "query_account", "arguments": {"account": account, "item": "余额"}}, ensure_ascii=False
    )


def test_service_tool_calls_and_hand_offs() -> None:
    preset = load_preset("customer-service")
    references = [
        _call("活期"),
        _call("定期"),
        "[转人工] 正在转接。",
        "[转人工] 正在转接。",
        "营业时间为9点到17点。",
    ]
    outputs = [
        '<tool_call>{"arguments": {"item": "余额", "account": "活期"}, "name": "query_account"}</tool_call>',
        json.dumps({"name": "query_account", "arguments": json.dumps({"account": "活期", "item": "余额"})}),
        "[转人工] 请稍候。",
        "请稍候。",
        "[转人工] 马上为您转接。",
    ]
    scores = task_scores(preset, outputs, references)
    # tool calls: 1 of the 2 references (argument order does not matter; the second has the wrong account)
    # hand-offs: answers 3 and 5 hand off, 3 rightly -> precision 1/2; references 3, 4 -> recall 1/2
    assert scores.metrics == pytest.approx(
        {"tool_call_accuracy": 0.5, "handoff_precision": 0.5, "handoff_recall": 0.5}
    )
    never = task_scores(preset, ["好的"], ["[转人工] 转接"])
    assert math.isnan(never.metrics["handoff_precision"]) and never.metrics["handoff_recall"] == 0.0
    assert math.isnan(never.metrics["tool_call_accuracy"])


def test_references_in_another_format_are_refused_by_record() -> None:
    preset = load_preset("risk-report")
    with pytest.raises(StockadeError) as error:
        check_references(preset, [(0, _report("中"), "assistant"), (1, "随便写的回答", "assistant")], "x@v1")
    message = str(error.value)
    assert "1 of 2 reference answers of x@v1" in message and "record 1: missing or empty sections" in message
    service = load_preset("customer-service")
    with pytest.raises(StockadeError, match="calls unknown tools transfer"):
        check_references(service, [(0, '{"name": "transfer", "arguments": {}}', "function_call")], "y@v1")
