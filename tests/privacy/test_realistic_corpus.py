"""The realistic corpus of hard surface forms: deterministic, valid, exactly labelled, and scored right.

These tests check the corpus and its scorer only; whether the detectors reach the targets is for
``python -m stockade.bench.privacy_realistic --strict`` (the detectors are being rewritten).
"""

from __future__ import annotations

import ipaddress
import itertools
import json
import re
from dataclasses import dataclass
from functools import cache

import pytest

from stockade.privacy.corpus import checks
from stockade.privacy.corpus.realistic import (
    DECOY_KINDS,
    FORMS,
    RECORD_KINDS,
    Decoy,
    Gold,
    RealisticRecord,
    check_targets,
    generate_realistic,
    score_desensitized,
    score_realistic,
)
from stockade.privacy.corpus.realistic_values import normalize
from stockade.privacy.spans import PiiType

N_RECORDS = 300
NUMERIC = {"id_card", "mobile", "bank_card", "landline"}


@cache
def corpus() -> tuple[RealisticRecord, ...]:
    return tuple(generate_realistic(N_RECORDS, seed=11))


def test_deterministic_per_seed() -> None:
    first = [(r.text, r.gold, r.decoys) for r in generate_realistic(40, seed=5)]
    again = [(r.text, r.gold, r.decoys) for r in generate_realistic(40, seed=5)]
    other = [(r.text, r.gold, r.decoys) for r in generate_realistic(40, seed=6)]
    assert first == again
    assert first != other


def test_offsets_are_exact_and_disjoint() -> None:
    for record in corpus():
        assert len(record.gold) == len(record.values)
        spans = sorted([(g.start, g.end) for g in record.gold] + [(d.start, d.end) for d in record.decoys])
        for (_, end), (start, _) in itertools.pairwise(spans):
            assert end <= start, record.text
        for gold, value in zip(record.gold, record.values, strict=True):
            surface = record.surface(gold)
            assert 0 <= gold.start < gold.end <= len(record.text)
            assert surface == surface.strip() and surface
            if gold.type in NUMERIC:
                assert normalize(surface) == value, (surface, value)
            elif gold.type in ("uscc", "license_plate"):
                assert surface.upper() == value
            else:
                assert surface == value


def _valid(pii_type: str, value: str) -> bool:
    if pii_type == "id_card":
        return checks.id18_valid(value)
    if pii_type == "bank_card":
        return 16 <= len(value) <= 19 and value.isdigit() and checks.luhn_valid(value)
    if pii_type == "mobile":
        return checks.MOBILE_RE.fullmatch(value) is not None
    if pii_type == "ipv6":
        return isinstance(ipaddress.ip_address(value), ipaddress.IPv6Address)
    return checks.is_valid(PiiType(pii_type), value)


def test_planted_values_pass_their_checksums() -> None:
    for record in corpus():
        for gold, value in zip(record.gold, record.values, strict=True):
            assert _valid(gold.type, value), (gold, value)


def test_surface_forms_look_as_named() -> None:
    fullwidth = re.compile(r"[０-９Ｘｘ\u3000]+")
    spoken = re.compile(r"[零〇一幺二三四五六七八九叉Xx，\s]+")
    seen_yao = seen_zero_circle = False
    for record in corpus():
        for gold in record.gold:
            surface = record.surface(gold)
            if gold.form == "fullwidth":
                assert fullwidth.fullmatch(surface), surface
            elif gold.form == "spoken" and gold.type != "address":
                assert spoken.fullmatch(surface), surface
                seen_yao |= "幺" in surface
                seen_zero_circle |= "〇" in surface
            elif gold.form == "lower_x":
                assert surface.endswith("x")
            elif gold.type == "uscc" and gold.form == "lower_check":
                assert surface[-1].islower()
            elif gold.type == "license_plate" and gold.form == "lower":
                assert surface[1].islower()
            elif gold.form == "honorific":
                assert len(surface) in (1, 2)
                assert re.match("先生|女士|经理|总|阿姨|师傅|老师", record.text[gold.end :])
            elif gold.form == "uyghur":
                assert "·" in surface
            elif gold.form.startswith("romanised"):
                assert re.fullmatch(r"[A-Za-z]+ [A-Za-z]+", surface), surface
            elif gold.form == "mou":
                assert surface.endswith("某")
            elif gold.type == "ipv6" and gold.form == "compressed":
                assert "::" in surface
    assert seen_yao and seen_zero_circle


def test_every_form_kind_and_decoy_appears_in_300_records() -> None:
    forms = {(g.type, g.form) for record in corpus() for g in record.gold}
    expected = {(pii_type, form) for pii_type, names in FORMS.items() for form in names}
    assert expected - forms == set()
    assert forms - expected == set()
    assert {d.kind for record in corpus() for d in record.decoys} == set(DECOY_KINDS)
    assert {record.kind for record in corpus()} == set(RECORD_KINDS)


def test_romanised_echo_has_its_han_name_in_the_record() -> None:
    count = 0
    for record in corpus():
        han = [record.surface(g) for g in record.gold if g.form in ("trigger2", "trigger3", "bare2", "bare3")]
        for gold in record.gold:
            if gold.form == "romanised_echo":
                count += 1
                assert han, record.text
    assert count


def test_clean_records_have_no_personal_data() -> None:
    clean = [record for record in corpus() if record.clean]
    assert clean
    assert all(not record.gold for record in clean)
    assert all(record.gold for record in corpus() if not record.clean)


def test_decoys_fail_every_validator() -> None:
    for record in corpus():
        for decoy in record.decoys:
            surface = record.surface(decoy)
            assert checks.looks_like_pii(surface) is None, (decoy.kind, surface)
            if decoy.kind == "bad_id":
                assert len(surface) == 18 and not checks.id18_valid(surface)
                assert not checks.luhn_valid(surface)
            if decoy.kind == "order_no":
                assert 16 <= len(surface) <= 19 and not checks.luhn_valid(surface)


# ---------------------------------------------------------------- the scorer


@dataclass(frozen=True)
class FakeSpan:
    start: int
    end: int
    type: PiiType | str


def _record() -> RealisticRecord:
    text = "客户张伟，手机138 1234 5678，住北京市朝阳区建国路88号，金额1,234.00元，黄瓜。"
    gold = [
        Gold(2, 4, "person", "trigger2"),
        Gold(7, 20, "mobile", "g3_4_4"),
        Gold(22, 34, "address", "road_number"),
    ]
    decoys = [Decoy(37, 46, "amount"), Decoy(47, 49, "word")]
    assert text[22:34] == "北京市朝阳区建国路88号" and text[37:46] == "1,234.00元" and text[47:49] == "黄瓜"
    return RealisticRecord("test", text, gold, decoys, ["张伟", "13812345678", text[22:34]])


def _clean_record() -> RealisticRecord:
    return RealisticRecord("clean", "本行客服热线95588。", [], [Decoy(6, 11, "hotline")], [], clean=True)


def test_scorer_counts_hits() -> None:
    def perfect(text: str) -> list[FakeSpan]:
        if text.startswith("本行"):
            return []
        return [FakeSpan(2, 4, PiiType.PERSON), FakeSpan(7, 20, "mobile"), FakeSpan(22, 34, PiiType.ADDRESS)]

    result = score_realistic([_record(), _clean_record()], perfect)
    assert result["categories"]["structured"] == {"gold": 1, "found": 1, "recall": 1.0}
    assert result["forms"]["person/trigger2"]["recall"] == 1.0
    assert result["decoys"]["rate"] == 1.0
    assert result["clean"]["rate"] == 1.0
    assert all(passed for name, _, _, passed in check_targets(result) if name != "person_romanised")


def test_scorer_counts_misses() -> None:
    def partial(text: str) -> list[FakeSpan]:
        if text.startswith("本行"):
            return [FakeSpan(6, 11, "landline")]  # a hotline taken for a phone number
        return [
            FakeSpan(2, 4, PiiType.ADDRESS),  # a name found as an address: not a person hit
            FakeSpan(7, 18, PiiType.MOBILE),  # the last two digits left out
            FakeSpan(22, 32, PiiType.ADDRESS),  # 10 of 12 characters: under 90 %
            FakeSpan(47, 48, PiiType.PERSON),  # 黄 of 黄瓜
        ]

    result = score_realistic([_record(), _clean_record()], partial, misses=5)
    assert result["types"]["person"]["found"] == 0
    assert result["types"]["mobile"]["found"] == 0
    assert result["types"]["address"]["found"] == 0
    assert result["decoys"]["kinds"]["word"]["kept"] == 0
    assert result["decoys"]["kinds"]["amount"]["kept"] == 1
    assert result["decoys"]["kinds"]["hotline"]["kept"] == 0
    assert result["clean"]["rate"] == 0.0
    missed = result["examples"]["missed"]
    assert missed["mobile/g3_4_4"][0]["value"] == "138 1234 5678"
    assert "【138 1234 5678】" in missed["mobile/g3_4_4"][0]["context"]
    assert not any(passed for *_, passed in check_targets(result))


def test_scorer_coverage_rules() -> None:
    def split(text: str) -> list[FakeSpan]:
        return [
            FakeSpan(0, 4, PiiType.PERSON),  # wider than the name: still a hit
            FakeSpan(7, 14, PiiType.BANK_CARD),  # another structured type, and the union of two spans
            FakeSpan(14, 20, PiiType.MOBILE),
            FakeSpan(23, 34, PiiType.ADDRESS),  # 11 of 12 characters: at least 90 %
        ]

    result = score_realistic([_record()], split)
    assert result["categories"]["person_zh"]["recall"] == 1.0
    assert result["categories"]["structured"]["recall"] == 1.0
    assert result["categories"]["address"]["recall"] == 1.0
    assert result["spurious_spans"] == 0


def test_score_desensitized_counts_leaks() -> None:
    record = _record()
    kept = score_desensitized([record], lambda text: text)
    assert all(row["rate"] == 1.0 for row in kept["leaked"].values())
    assert kept["decoys_verbatim"]["rate"] == 1.0

    def scrub(text: str) -> str:
        for gold in sorted(record.gold, reverse=True):
            text = text[: gold.start] + "[X]" + text[gold.end :]
        return text

    scrubbed = score_desensitized([record], scrub)
    assert all(row["leaked"] == 0 for row in scrubbed["leaked"].values())
    assert scrubbed["decoys_verbatim"]["rate"] == 1.0


def test_bench_cli_runs_on_a_few_records(capsys: pytest.CaptureFixture[str]) -> None:
    from stockade.bench.privacy_realistic import main

    assert main(["--records", "20", "--seed", "3", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["records"] == 20
    assert set(result["targets"]) == {
        "structured",
        "person_zh",
        "person_romanised",
        "address",
        "decoys_kept",
        "clean_unchanged",
    }
    assert "machine" in result and "git_revision" in result
