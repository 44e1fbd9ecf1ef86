"""The preset parsers: what they read, and what they refuse to read (which then counts as wrong)."""

from __future__ import annotations

from stockade.tasks.parsers import parse, reference_problems
from stockade.tasks.presets import load_preset


def test_verdicts() -> None:
    preset = load_preset("compliance-review")
    got = parse(preset, "好的。\n结论：不合规。\n依据：R01、R02、R01\n理由：承诺保本。")
    assert got.label == "不合规" and got.rules == ("R01", "R02")  # type: ignore[union-attr]
    assert parse(preset, "结论:需人工复核").label == "需人工复核"  # type: ignore[union-attr]
    assert parse(preset, "不合规").label is None  # type: ignore[union-attr]
    assert parse(preset, "结论：可能不合规").label is None  # type: ignore[union-attr]
    assert reference_problems(preset, "结论：合规\n依据：R99", "assistant") == [
        "cites unknown rules R99 (known: R01, R02, R03, R04, R05, R06, R07, R08)"
    ]


def test_reports() -> None:
    preset = load_preset("risk-report")
    text = "【客户概况】客户A\n【风险等级】中等偏高\n【财务状况】年收入50万【风险因素】无"
    got = parse(preset, text)
    assert got.sections == {
        "客户概况": "客户A",
        "风险等级": "中等偏高",
        "财务状况": "年收入50万",
        "风险因素": "无",
    }  # type: ignore[union-attr]
    assert got.grade == "中"  # type: ignore[union-attr]
    assert parse(preset, "【风险等级】较高").grade is None  # type: ignore[union-attr]
    assert reference_problems(preset, text, "assistant") == ["missing or empty sections: 【建议措施】"]


def test_service_answers() -> None:
    preset = load_preset("customer-service")
    call = '{"name": "query_account", "arguments": {"account": "活期", "item": "余额"}}'
    for text in (call, f"<tool_call>\n{call}\n</tool_call>", f"```json\n{call}\n```", f"[{call}]"):
        got = parse(preset, text)
        assert got.kind == "tool_call" and got.calls == (  # type: ignore[union-attr]
            ("query_account", '{"account":"活期","item":"余额"}'),
        )
    assert parse(preset, '{"name": "query_account", "arguments": {').kind == "reply"  # broken JSON
    assert parse(preset, '{"arguments": {}}').kind == "reply"  # no tool name
    assert parse(preset, " [转人工] 正在转接").kind == "handoff"
    assert parse(preset, "我帮您转人工").kind == "reply"  # the marker must open the answer
    assert reference_problems(preset, call, "assistant") == [
        "a tool call must be a function_call turn, not an assistant answer"
    ]
    assert reference_problems(preset, "好的", "function_call") == [
        'a function_call turn must be JSON {"name": ..., "arguments": {...}}'
    ]
