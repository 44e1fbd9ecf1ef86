"""Byte-level JSON rewriting: only string values with personal data change; keys and layout stay."""

from __future__ import annotations

import json

import pytest

from stockade.privacy.engine import PrivacyEngine
from stockade.privacy.lines import STRING_LITERAL, process_raw_line, process_record_line
from stockade.privacy.policy import PrivacyPolicy
from stockade.privacy.report import ScanReport, masked_sample
from stockade.privacy.spans import PiiType

MOBILE = "13812345678"


@pytest.fixture(scope="module")
def engine() -> PrivacyEngine:
    return PrivacyEngine(PrivacyPolicy(), secret=b"test-key-0123456789abcdef0123456")


@pytest.mark.parametrize("value", ['x"y\\', "", "中文\n换行", "\\u4e2d", 'a\\"b"c', "tab\there"])
def test_string_literal_pattern_finds_exact_literals(value: str) -> None:
    line = json.dumps({"k": value, "k2": 1}, ensure_ascii=False)
    literals = [json.loads(m.group()) for m in STRING_LITERAL.finditer(line)]
    assert literals == ["k", value, "k2"]


def test_only_values_with_pii_change_and_layout_stays(engine: PrivacyEngine) -> None:
    line = f'{{ "input" :  "手机{MOBILE}" ,"note":"无", "{MOBILE}": "key kept"}}\n'
    report = ScanReport()
    out = process_raw_line(line, engine, report, transform=True)
    assert out == f'{{ "input" :  "手机<手机号>" ,"note":"无", "{MOBILE}": "key kept"}}\n'
    assert report.counts["mobile"] == {"input": 1}


def test_escaped_style_is_preserved(engine: PrivacyEngine) -> None:
    line = json.dumps({"output": f"电话{MOBILE}"}, ensure_ascii=True) + "\n"
    out = process_raw_line(line, engine, ScanReport(), transform=True)
    assert out.isascii() and json.loads(out) == {"output": "电话<手机号>"}


def test_scan_only_leaves_the_line_alone(engine: PrivacyEngine) -> None:
    line = json.dumps({"input": f"手机{MOBILE}"}, ensure_ascii=False) + "\n"
    report = ScanReport()
    assert process_raw_line(line, engine, report, transform=False) == line
    assert report.total == 1 and report.strings_with_pii == 1


def test_record_lines_count_by_role(engine: PrivacyEngine) -> None:
    record = {
        "messages": [
            {"role": "user", "content": f"我的手机{MOBILE}"},
            {"role": "assistant", "content": "好的"},
        ]
    }
    report = ScanReport()
    out = process_record_line(json.dumps(record, ensure_ascii=False) + "\n", engine, report, transform=True)
    assert json.loads(out)["messages"][0]["content"] == "我的手机<手机号>"
    assert report.counts["mobile"] == {"user": 1}


@pytest.mark.parametrize(
    ("value", "pii_type"),
    [
        ("110105199003072813", PiiType.ID_CARD),
        (MOBILE, PiiType.MOBILE),
        ("张伟", PiiType.PERSON),
        ("6222021234567890128", PiiType.BANK_CARD),
        ("zhangwei@example.com", PiiType.EMAIL),
        ("北京市朝阳区建国路88号", PiiType.ADDRESS),
        ("1.2.3.4", PiiType.IPV4),
    ],
)
def test_masked_samples_reveal_at_most_a_quarter(value: str, pii_type: PiiType) -> None:
    sample = masked_sample(value, pii_type)
    revealed = sum(1 for char in sample if char not in "*…")
    allowed = (
        3
        if pii_type is PiiType.ADDRESS
        else max(1, len(value) // 4)
        if pii_type is PiiType.PERSON
        else len(value) // 4
    )
    assert sample != value and revealed <= allowed
    assert value not in sample
