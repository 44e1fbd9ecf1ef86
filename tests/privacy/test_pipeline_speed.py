"""The fast paths around the detectors give exactly what the plain code they replaced gave.

Each test runs a reference (the straightforward version the pipeline used before it was tuned for
speed, kept here as the oracle) and the pipeline's own code on the same inputs, many of them
generated to reach the corner cases: ties, nested and chained overlaps, self-overlapping values,
escapes and control characters, custom types whose label is part of the placeholder.
"""

from __future__ import annotations

import bisect
import itertools
import json
import random
import re
from collections import defaultdict
from typing import Any

import pytest

from stockade.privacy.detectors import resolve_overlaps
from stockade.privacy.engine import PrivacyEngine
from stockade.privacy.lines import _decode, _encode_like, process_raw_line
from stockade.privacy.operators import apply_operator
from stockade.privacy.policy import PrivacyPolicy
from stockade.privacy.record import spread_values
from stockade.privacy.report import ScanReport, masked_sample
from stockade.privacy.spans import CustomType, PiiType, Span, type_name

SECRET = b"test-key-0123456789abcdef0123456"
TYPES = [PiiType.PERSON, PiiType.MOBILE, PiiType.ADDRESS, CustomType("customer_no", "客户号")]


# --- references ------------------------------------------------------------------------------


def reference_resolve(spans: list[Span]) -> list[Span]:
    spans = sorted(spans, key=lambda s: (s.start, s.end))
    if all(b.start >= a.end for a, b in itertools.pairwise(spans)):
        return spans
    ranked = sorted(spans, key=lambda s: (-s.score, s.start - s.end, s.start, s.type.value, s.detector))
    kept: list[Span] = []
    starts: list[int] = []
    for span in ranked:
        i = bisect.bisect_left(starts, span.start)
        if i > 0 and kept[i - 1].end > span.start:
            continue
        if i < len(kept) and kept[i].start < span.end:
            continue
        starts.insert(i, span.start)
        kept.insert(i, span)
    return kept


def reference_spread(texts: list[str], spans: list[list[Span]]) -> list[list[Span]]:
    values: dict[str, Span] = {}
    for text, found in zip(texts, spans, strict=True):
        for span in found:
            value = text[span.start : span.end]
            if len(value) >= 2 and value not in values:
                values[value] = span
    if not values:
        return spans
    out = []
    for text, found in zip(texts, spans, strict=True):
        extra = []
        for value in sorted(values, key=len, reverse=True):
            at = text.find(value)
            while at >= 0:
                end = at + len(value)
                if not any(s.start <= at and end <= s.end for s in found):
                    origin = values[value]
                    extra.append(Span(at, end, origin.type, origin.score, origin.detector))
                at = text.find(value, end)
        out.append(reference_resolve([*found, *extra]) if extra else found)
    return out


def reference_add(report: ScanReport, text: str, spans: list[Span], field_name: str) -> None:
    report.strings += 1
    if not spans:
        return
    report.strings_with_pii += 1
    for span in spans:
        kind = type_name(span.type)
        report.counts[kind][field_name] += 1
        if len(report.samples[kind]) < 3:
            report.samples[kind].append(masked_sample(text[span.start : span.end], span.type))
        if isinstance(span.type, CustomType):
            report.labels[kind] = span.type.label


def reference_raw_line(line: str, engine: PrivacyEngine, report: ScanReport) -> str:
    literal_pattern = re.compile(r'"[^"\\\n]*(?:\\.[^"\\\n]*)*"')
    literals: list[tuple[re.Match[str], str, str]] = []
    field = "(value)"
    for match in literal_pattern.finditer(line):
        if re.compile(r"\s*:").match(line, match.end()):
            field = json.loads(match.group())
            continue
        literals.append((match, json.loads(match.group()), field))
    if not literals:
        return line
    values = [value for _, value, _ in literals]
    all_spans = reference_spread(values, [engine.scan(value) for value in values])
    out, last = [], 0
    for (match, value, field), spans in zip(literals, all_spans, strict=True):
        reference_add(report, value, spans, field)
        if spans:
            pieces, at = [], 0
            for span in spans:
                pieces += [value[at : span.start], apply_operator("replace", "", span.type, None, SECRET)]
                at = span.end
            escaped = "\\u" in match.group() and match.group().isascii()
            out += [
                line[last : match.start()],
                json.dumps("".join(pieces) + value[at:], ensure_ascii=escaped),
            ]
            last = match.end()
    return "".join([*out, line[last:]]) if out else line


def random_spans(rng: random.Random, length: int, count: int) -> list[Span]:
    spans = []
    for _ in range(count):
        start = rng.randrange(0, length - 1)
        end = rng.randrange(start + 1, min(length, start + 8) + 1)
        score = rng.choice([0.5, 0.7, 0.9, 1.0])
        spans.append(Span(start, end, rng.choice(TYPES), score, rng.choice(["a", "b"])))
    return spans


# --- tests -----------------------------------------------------------------------------------


def test_resolve_overlaps_keeps_what_ranking_every_span_together_keeps() -> None:
    rng = random.Random(13)
    for _ in range(3000):
        spans = random_spans(rng, rng.randrange(2, 40), rng.randrange(0, 12))
        spans += rng.sample(spans, min(2, len(spans)))  # exact duplicates as well
        rng.shuffle(spans)
        assert resolve_overlaps(spans) == reference_resolve(spans), spans
    # two clusters, a span in each that a global ranking would have compared with the other
    chained = [
        Span(0, 4, PiiType.PERSON, 0.9, "a"),
        Span(3, 6, PiiType.MOBILE, 1.0, "b"),
        Span(6, 9, PiiType.PERSON, 1.0, "a"),
        Span(8, 12, PiiType.ADDRESS, 0.5, "c"),
    ]
    assert resolve_overlaps(chained) == [chained[1], chained[2]] == reference_resolve(chained)


def test_spread_values_matches_the_plain_search_even_for_self_overlapping_values() -> None:
    rng = random.Random(7)
    for _ in range(2000):
        # a two-letter alphabet: values such as "aa" or "aba" overlap themselves in "aaab..."
        texts = ["".join(rng.choice("ab") for _ in range(rng.randrange(2, 30))) for _ in range(3)]
        spans = [resolve_overlaps(random_spans(rng, len(t), rng.randrange(0, 4))) for t in texts]
        assert spread_values(texts, spans) == reference_spread(texts, spans), (texts, spans)


def test_report_add_counts_and_samples_as_before() -> None:
    rng = random.Random(3)
    fast, slow = ScanReport(), ScanReport()
    for index in range(500):
        text = "".join(rng.choice("张伟13800aKH") for _ in range(30))
        spans = resolve_overlaps(random_spans(rng, len(text), rng.randrange(0, 6)))
        # the same custom type name with another label: the last one seen is kept, as before
        if index == 499:
            spans = [Span(0, 3, CustomType("customer_no", "客户编号"), 0.9, "x")]
        fast.add(text, spans, f"field{index % 3}")
        reference_add(slow, text, spans, f"field{index % 3}")
    assert fast.to_dict() == slow.to_dict()
    assert fast.labels == {"customer_no": "客户编号"}


@pytest.mark.parametrize(
    "rules",
    [
        {},  # replace everywhere, the default
        {"mobile": {"operator": "replace", "params": {"placeholder": "[{type}/{label}]"}}},
        {"person": {"operator": "redact"}, "customer_no": {"operator": "replace"}},
        {"mobile": {"operator": "mask", "params": {"keep_last": 4}}, "customer_no": {"operator": "hash"}},
    ],
)
def test_transform_renders_fixed_outputs_once_and_equal_to_applying_the_operator(rules: dict) -> None:
    policy = PrivacyPolicy(
        custom_types={"customer_no": {"label": "客户号", "pattern": "KH[0-9]{10}"}}, rules=rules
    )
    engine = PrivacyEngine(policy, SECRET)
    custom = next(kind for kind in engine._rules if isinstance(kind, CustomType))
    text = "客户张伟，手机13812345678，客户号KH0123456789，住址北京市西城区金融大街8号"
    spans = engine.scan(text)
    assert {span.type for span in spans} >= {PiiType.PERSON, PiiType.MOBILE, custom}

    def expected(spans: list[Span]) -> str:
        pieces, at = [], 0
        for span in spans:
            operator, params = engine._rules[span.type]
            value = text[span.start : span.end]
            pieces += [text[at : span.start], apply_operator(operator, value, span.type, params, SECRET)]
            at = span.end
        return "".join(pieces) + text[at:]

    assert engine.transform(text, spans) == expected(spans)
    # a span of an equal custom type with another label shows its own label, as the operator would
    relabelled = [
        s._replace(type=CustomType("customer_no", "编号")) if s.type == custom else s for s in spans
    ]
    assert engine.transform(text, relabelled) == expected(relabelled)
    if not rules:
        assert "<编号>" in engine.transform(text, relabelled)


@pytest.mark.parametrize(
    "value",
    ["", "plain 中文", 'q"uote', "back\\slash", "新\n行\t制表", "\u2028", "😀", "\x00\x1f\x7f", "\\u4e2d"],
)
def test_literals_decode_and_encode_as_json_does(value: str) -> None:
    for ascii_only in (False, True):
        literal = json.dumps(value, ensure_ascii=ascii_only)
        assert _decode(literal) == json.loads(literal) == value
        escaped_style = "\\u" in literal and literal.isascii()  # the style the literal was written in
        assert _encode_like(literal, value + "x") == json.dumps(value + "x", ensure_ascii=escaped_style)


@pytest.mark.parametrize("literal", ['"tab\there"', '"bad \\q escape"', '"\\ud83d"', '"cr\rhere"'])
def test_literal_decoding_accepts_and_refuses_what_json_does(literal: str) -> None:
    try:
        expected: Any = json.loads(literal)
    except json.JSONDecodeError as exc:
        with pytest.raises(json.JSONDecodeError) as got:
            _decode(literal)
        assert got.value.msg == exc.msg and got.value.pos == exc.pos
    else:
        assert _decode(literal) == expected


def test_raw_lines_come_out_as_the_plain_implementation_wrote_them() -> None:
    engine = PrivacyEngine(PrivacyPolicy(), SECRET)
    person = "客户张伟来电，手机13812345678"
    lines = [
        json.dumps(
            {"instruction": "请总结", "input": person, "output": f"张伟说{person}"}, ensure_ascii=False
        ),
        json.dumps({"input": person, "nested": {"k": [person, 1, "无"]}}, ensure_ascii=True),
        f'{{ "input" :  "{person}" ,"note":"无", "13812345678"  :\t"key kept"}}',
        '["13812345678", "张伟", {"a": "b"}]',
        '"just a string with 13812345678"',
        "{}",
        '{"escaped": "line\\nbreak 13812345678 \\"quoted\\" \\u5f20\\u4f1f"}',
    ]
    fast, slow = ScanReport(), ScanReport()
    for line in lines:
        assert process_raw_line(line + "\n", engine, fast, transform=True) == reference_raw_line(
            line + "\n", engine, slow
        )
    assert fast.to_dict() == slow.to_dict() and fast.total > 0
    assert dict(fast.counts["mobile"]) == dict(slow.counts["mobile"]) != defaultdict(int)
