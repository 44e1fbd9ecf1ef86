"""The labeled corpus: planted values are valid, decoys are not, labels are exact, scoring is right.

The validators here are written again, independently of ``stockade.privacy.corpus.checks``, so a bug
in the generator's own checks cannot hide itself.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import itertools
import json
import re
from collections import Counter
from functools import cache

import pytest

from stockade.privacy.corpus import (
    Decoy,
    GoldSpan,
    LabeledDoc,
    covers,
    evaluate,
    evaluate_desensitized,
    generate_corpus,
    iter_alpaca_labels,
    read_corpus_jsonl,
    write_alpaca_corpus,
    write_corpus_jsonl,
)
from stockade.privacy.corpus import values as corpus_values
from stockade.privacy.corpus.lexicon import COMPOUND_SURNAMES, SURNAMES
from stockade.privacy.spans import STRUCTURED_TYPES, PiiType, Span

N_DOCS = 400


@cache
def corpus() -> tuple[LabeledDoc, ...]:
    return tuple(generate_corpus(N_DOCS, seed=7))


# --- independent validators ---------------------------------------------------------------------

PROVINCES = {11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46}
PROVINCES |= {50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82}


def real_date(year: int, month: int, day: int) -> bool:
    try:
        born = dt.date(year, month, day)
    except ValueError:
        return False
    return dt.date(1900, 1, 1) <= born <= dt.date.today()


def gb11643_ok(value: str) -> bool:
    if not re.fullmatch(r"\d{17}[\dXx]", value):
        return False
    if int(value[:2]) not in PROVINCES:
        return False
    if not real_date(int(value[6:10]), int(value[10:12]), int(value[12:14])):
        return False
    weights = [pow(2, 17 - i, 11) for i in range(17)]  # 2^(n-1) mod 11, the standard's definition
    remainder = sum(int(d) * w for d, w in zip(value[:17], weights, strict=True)) % 11
    return value[17].upper() == "10X98765432"[remainder]


def legacy_id_ok(value: str) -> bool:
    return (
        re.fullmatch(r"\d{15}", value) is not None
        and int(value[:2]) in PROVINCES
        and real_date(1900 + int(value[6:8]), int(value[8:10]), int(value[10:12]))
    )


def luhn_ok(number: str) -> bool:
    digits = [int(c) for c in number]
    odd = digits[-1::-2]
    even = [sum(divmod(2 * d, 10)) for d in digits[-2::-2]]
    return (sum(odd) + sum(even)) % 10 == 0


USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def gb32100_ok(value: str) -> bool:
    if len(value) != 18 or any(c not in USCC_CHARS for c in value):
        return False
    weights = [pow(3, i, 31) for i in range(17)]  # 1 3 9 27 19 26 16 17 20 29 25 13 8 24 10 30 28
    total = sum(USCC_CHARS.index(c) * w for c, w in zip(value[:17], weights, strict=True))
    return USCC_CHARS.index(value[17]) == (31 - total % 31) % 31


def compact(value: str) -> str:
    return re.sub(r"[\s\-()（）·]", "", value)


def valid(pii_type: PiiType, value: str) -> bool:
    c = compact(value)
    if pii_type is PiiType.ID_CARD:
        return gb11643_ok(c) if len(c) == 18 else legacy_id_ok(c)
    if pii_type is PiiType.MOBILE:
        return re.fullmatch(r"1[3-9]\d{9}", c) is not None
    if pii_type is PiiType.LANDLINE:
        return re.fullmatch(r"0\d{2,3}[2-8]\d{6,7}", c) is not None and 10 <= len(c) <= 12
    if pii_type is PiiType.BANK_CARD:
        return c.isdigit() and 16 <= len(c) <= 19 and luhn_ok(c)
    if pii_type is PiiType.USCC:
        return gb32100_ok(value)
    if pii_type is PiiType.PASSPORT:
        return re.fullmatch(r"E\d{8}", value) is not None
    if pii_type is PiiType.HK_MACAO_PERMIT:
        return re.fullmatch(r"C\d{8}|[HM]\d{8}|[HM]\d{10}", value) is not None
    if pii_type is PiiType.EMAIL:
        return re.fullmatch(r"[\w.+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+", value, re.ASCII) is not None
    if pii_type is PiiType.IPV4:
        return isinstance(ipaddress.ip_address(value), ipaddress.IPv4Address)
    if pii_type is PiiType.IPV6:
        return isinstance(ipaddress.ip_address(value), ipaddress.IPv6Address)
    if pii_type is PiiType.LICENSE_PLATE:
        return re.fullmatch(r"[\u4e00-\u9fff][A-HJ-NP-Z][·\s]?[A-HJ-NP-Z0-9]{5,6}", value) is not None
    if pii_type is PiiType.PERSON:
        surnames = {s for s, _ in SURNAMES + COMPOUND_SURNAMES}
        pinyin = re.fullmatch(r"[A-Z][a-z]+ [A-Z][a-z]+", value) is not None
        return pinyin or (any(value.startswith(s) for s in surnames) and len(value) <= 4)
    if pii_type is PiiType.ADDRESS:
        return re.search(r"[省市区县]", value) is not None and re.search(r"\d+(号|组)", value) is not None
    raise AssertionError(pii_type)


def passes_any_validator(value: str) -> bool:
    for run in re.findall(r"\d[\dXx]*", value):
        if len(run) == 18 and gb11643_ok(run):
            return True
        if len(run) == 15 and legacy_id_ok(run):
            return True
        if 16 <= len(run) <= 19 and luhn_ok(run):
            return True
        if re.fullmatch(r"1[3-9]\d{9}", run):
            return True
    return any(gb32100_ok(token) for token in re.findall(r"[0-9A-Z]{18}", value))


def test_validators_know_real_examples() -> None:
    assert gb11643_ok("11010519491231002X")  # the standard's own example
    assert not gb11643_ok("110105194912310021")
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")
    assert gb32100_ok("91350100M000100Y43") and not gb32100_ok("91350100M000100Y44")


# --- the planted values and decoys --------------------------------------------------------------


def test_every_planted_value_passes_an_independent_validator() -> None:
    seen: Counter[PiiType] = Counter()
    for doc in corpus():
        for span in doc.spans:
            value = doc.value(span)
            assert valid(span.type, value), (span.type, value)
            seen[span.type] += 1
    assert set(seen) == set(PiiType), f"types never planted: {set(PiiType) - set(seen)}"
    ids = [doc.value(s) for doc in corpus() for s in doc.spans if s.type is PiiType.ID_CARD]
    assert any(len(v) == 15 for v in ids) and any(len(v) == 18 for v in ids)
    persons = [doc.value(s) for doc in corpus() for s in doc.spans if s.type is PiiType.PERSON]
    assert any(v[:2] in {s for s, _ in COMPOUND_SURNAMES} for v in persons)
    assert any(len(v) == 1 for v in persons)  # 王先生: the surname alone is the name


def test_variants_are_present() -> None:
    """Grouped cards, +86 prefixes, area codes in parentheses, new-energy plates, IPv6 compression."""
    texts = "\n".join(doc.text for doc in corpus())
    values = {t: [doc.value(s) for doc in corpus() for s in doc.spans if s.type is t] for t in PiiType}
    assert any(re.fullmatch(r"\d{4}( \d{4}){3,4}", v) for v in values[PiiType.BANK_CARD])
    assert any(v.startswith("62") for v in values[PiiType.BANK_CARD])
    assert any(v.startswith("4") for v in values[PiiType.BANK_CARD])
    assert {len(compact(v)) for v in values[PiiType.BANK_CARD]} >= {16, 19}
    assert re.search(r"\+86 ?1\d{2}", texts) and "0086" in texts
    assert any(re.fullmatch(r"\d{3}-\d{4}-\d{4}", v) for v in values[PiiType.MOBILE])
    assert any(")" in v or "）" in v for v in values[PiiType.LANDLINE]) and "转" in texts
    assert any(re.search(r"[DF][A-Z0-9]\d{4}$", v) for v in values[PiiType.LICENSE_PLATE])
    assert any("::" in v for v in values[PiiType.IPV6])
    assert any(v[0] in "HM" for v in values[PiiType.HK_MACAO_PERMIT])
    assert any(v[0] == "C" for v in values[PiiType.HK_MACAO_PERMIT])


def test_decoys_fail_every_validator() -> None:
    kinds: Counter[str] = Counter()
    for doc in corpus():
        for decoy in doc.decoys:
            value = doc.value(decoy)
            kinds[decoy.kind] += 1
            assert not passes_any_validator(value), (decoy.kind, value)
            if decoy.kind == "order_no":
                assert re.fullmatch(r"\d{16}", value) and not luhn_ok(value)
            if decoy.kind == "bad_id":
                # shaped like an ID (province, real birth date) but the check digit is wrong
                assert re.fullmatch(r"\d{18}", value) and int(value[:2]) in PROVINCES
                assert real_date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
                assert not gb11643_ok(value)
    expected = {"order_no", "bad_id", "amount", "date", "time", "rate", "stock_code", "branch_no", "bank_no"}
    expected |= {"version", "contract_no"}
    assert expected <= set(kinds), expected - set(kinds)
    amounts = [doc.value(d) for doc in corpus() for d in doc.decoys if d.kind == "amount"]
    assert any(a.startswith("¥") for a in amounts) and any(a.endswith("万元") for a in amounts)
    dates = [doc.value(d) for doc in corpus() for d in doc.decoys if d.kind == "date"]
    assert any(re.fullmatch(r"\d{8}", d) for d in dates) and any("年" in d for d in dates)


def test_gold_offsets_point_at_the_planted_strings() -> None:
    at_start = at_end = glued_to_cjk = 0
    for doc in corpus():
        labeled = sorted([(s.start, s.end) for s in doc.spans] + [(d.start, d.end) for d in doc.decoys])
        for (_, end), (start, _) in itertools.pairwise(labeled):
            assert end <= start, "labels overlap"
        for span in doc.spans:
            value = doc.value(span)
            assert value and value == value.strip(), (span, value)
            at_start += span.start == 0
            at_end += span.end == len(doc.text)
            if span.type in STRUCTURED_TYPES:
                before = doc.text[span.start - 1] if span.start else ""
                after = doc.text[span.end] if span.end < len(doc.text) else ""
                # a number never runs on into other digits/letters (+8613800138000 is the one exception)
                if not (span.type is PiiType.MOBILE and doc.text[: span.start].endswith("86")):
                    assert not re.fullmatch(r"[0-9A-Za-z]", before), (before, value)
                assert not re.fullmatch(r"[0-9A-Za-z@]", after), (value, after)
                if span.type in {PiiType.EMAIL, PiiType.IPV4, PiiType.IPV6}:
                    assert after != ".", value  # never ambiguous with one more label / octet
                glued_to_cjk += bool(re.fullmatch(r"[\u4e00-\u9fff]", before)) and bool(
                    re.fullmatch(r"[\u4e00-\u9fff]", after)
                )
    assert at_start >= 5 and at_end >= 5
    assert glued_to_cjk >= 50  # 卡号6222…已冻结: no spaces around


def test_labels_survive_jsonl_and_match_their_values(tmp_path) -> None:
    path = write_corpus_jsonl(tmp_path / "corpus.jsonl", 30, seed=3)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 30
    for line in lines:
        data = json.loads(line)
        for item in data["spans"] + data["decoys"]:
            assert data["text"][item["start"] : item["end"]] == item["value"]
    assert list(read_corpus_jsonl(path)) == list(generate_corpus(30, seed=3))


def test_alpaca_corpus_with_sidecar_labels(tmp_path) -> None:
    data = tmp_path / "pii.jsonl"
    labels = write_alpaca_corpus(data, 12, seed=5)
    assert labels == tmp_path / "pii.labels.jsonl"
    records = [json.loads(line) for line in data.read_text(encoding="utf-8").splitlines()]
    sidecar = list(iter_alpaca_labels(data))
    assert len(records) == len(sidecar) == 12
    docs = list(generate_corpus(24, seed=5))
    for i, (record, entry) in enumerate(zip(records, sidecar, strict=True)):
        assert set(record) == {"instruction", "input", "output"} and entry["index"] == i
        assert record["input"] == docs[2 * i].text and record["output"] == docs[2 * i + 1].text
        for field in ("input", "output"):
            for item in entry[field]["spans"] + entry[field]["decoys"]:
                assert record[field][item["start"] : item["end"]] == item["value"]
        assert not any(c.isdigit() for c in record["instruction"])


def test_deterministic_by_seed() -> None:
    first = list(generate_corpus(40, seed=11))
    assert first == list(generate_corpus(40, seed=11))
    assert first[:10] == list(generate_corpus(10, seed=11))  # document i depends only on (seed, i)
    assert [d.text for d in first] != [d.text for d in generate_corpus(40, seed=12)]


# --- scoring -----------------------------------------------------------------------------------


def oracle(doc: LabeledDoc):
    return lambda text: [Span(s.start, s.end, s.type, 1.0, "oracle") for s in doc.spans]


def run_per_doc(docs, make_detector):
    """evaluate() with a detector that knows which document it is given."""
    by_text = {doc.text: make_detector(doc) for doc in docs}
    return evaluate(docs, lambda text: by_text[text](text))


def test_perfect_detector_scores_100() -> None:
    report = run_per_doc(corpus(), oracle)
    assert report.structured_recall == 1.0 and report.names_addresses_recall == 1.0
    assert report.decoys_kept == 1.0
    for pii_type, score in report.types.items():
        assert score.recall == 1.0 and score.precision == 1.0, pii_type
    assert report.passed and all(check.passed for check in report.checks())


def test_empty_detector_scores_0_and_keeps_every_decoy() -> None:
    report = evaluate(corpus(), lambda text: [])
    assert report.structured_recall == 0.0 and report.names_addresses_recall == 0.0
    assert all(score.recall == 0.0 and score.precision is None for score in report.types.values())
    assert report.decoys_kept == 1.0
    assert not report.passed
    assert report.examples["missed id_card"]


def test_digit_runs_detector_destroys_decoys() -> None:
    """Flagging every long digit run as a card finds cards but fails the decoys and the precision."""
    pattern = re.compile(r"\d{4,}")

    def digits(text: str) -> list[Span]:
        return [Span(m.start(), m.end(), PiiType.BANK_CARD, 0.5, "digits") for m in pattern.finditer(text)]

    report = evaluate(corpus(), digits)
    assert report.types[PiiType.BANK_CARD].recall < 0.7  # grouped cards are split into four-digit runs
    assert report.types[PiiType.BANK_CARD].precision < 0.5
    assert report.decoys_kept < 0.7
    assert report.decoys["order_no"].kept == 0 and report.decoys["bad_id"].kept == 0


def test_covering_rules() -> None:
    card = GoldSpan(10, 26, PiiType.BANK_CARD)
    assert covers(10, 26, card) and covers(8, 30, card)
    assert not covers(11, 26, card) and not covers(10, 25, card)
    address = GoldSpan(0, 20, PiiType.ADDRESS)
    assert covers(0, 18, address)  # 90 % of the characters
    assert not covers(0, 17, address)
    name = GoldSpan(5, 7, PiiType.PERSON)
    assert covers(5, 7, name) and not covers(5, 6, name)  # a two-character name needs both


def test_wrong_type_does_not_count() -> None:
    doc = LabeledDoc("卡号6222021234567890123已冻结", [GoldSpan(2, 21, PiiType.BANK_CARD)], [])
    report = evaluate([doc], lambda text: [Span(2, 21, PiiType.ID_CARD, 1.0, "x")])
    assert report.types[PiiType.BANK_CARD].recall == 0.0
    assert report.types[PiiType.ID_CARD].precision == 0.0


def test_desensitized_check_finds_leaks_and_damaged_decoys() -> None:
    docs = corpus()[:80]

    def replace_gold(doc: LabeledDoc):
        def run(text: str) -> str:
            out = text
            for span in sorted(doc.spans, reverse=True):
                out = out[: span.start] + f"[{span.type.value}]" + out[span.end :]
            return out

        return run

    by_text = {doc.text: replace_gold(doc) for doc in docs}
    perfect = evaluate_desensitized(docs, lambda text: by_text[text](text))
    assert perfect.leaked == 0 and perfect.decoys_intact == 1.0 and perfect.passed

    nothing = evaluate_desensitized(docs, lambda text: text)
    assert nothing.removed(PiiType) == 0.0 and nothing.decoys_intact == 1.0 and not nothing.passed

    scorched = evaluate_desensitized(docs, lambda text: re.sub(r"\d", "*", by_text[text](text)))
    assert scorched.leaked == 0 and scorched.decoys_intact < 0.2


def test_decoy_inside_a_leaked_number_is_not_counted_intact() -> None:
    text = "网点号1023，卡号6222102300000000001"
    card = text.index("6222")
    doc = LabeledDoc(text, [GoldSpan(card, card + 19, PiiType.BANK_CARD)], [Decoy(3, 7, "branch_no")])
    assert doc.value(doc.spans[0]) == "6222102300000000001"
    report = evaluate_desensitized([doc], lambda t: t.replace("网点号1023", "网点号****"))
    assert report.decoys["branch_no"].kept == 0 and report.types[PiiType.BANK_CARD].leaked == 1


# --- the benchmark harness -----------------------------------------------------------------------


def test_benchmark_runs_with_a_stand_in_detector(monkeypatch, capsys) -> None:
    from stockade.bench import privacy as bench

    pattern = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")

    def mobiles(text: str) -> list[Span]:
        return [Span(m.start(), m.end(), PiiType.MOBILE, 1.0, "re") for m in pattern.finditer(text)]

    monkeypatch.setattr(bench, "load_detect", lambda: (mobiles, None))
    monkeypatch.setattr(bench, "load_desensitize", lambda: (lambda t: pattern.sub("[手机号]", t), "sub"))
    assert bench.main(["--docs", "60", "--mb", "0.05"]) == 0
    out, err = capsys.readouterr()
    result = json.loads(out[: out.rindex("}") + 1])
    assert result["accuracy"]["types"]["mobile"]["gold"] > 0
    for corpus_name in ("dense", "typical"):
        speed = result["speed"][corpus_name]
        assert speed["scan"]["mb_per_s"] > 0 and speed["baseline_digit_regex"]["mb_per_s"] > 0
        assert "scan_desensitize" in speed
    assert "desensitized" in result
    assert "FAIL" in err and "decoys kept" in err
    assert out.rstrip().splitlines()[-1].startswith("structured recall")


def test_speed_texts_reach_the_size() -> None:
    from stockade.bench.privacy import speed_texts

    texts, size = speed_texts(0.02, 1)
    assert size >= 20_000 and sum(len(t.encode()) for t in texts) == size
    diluted, diluted_size = speed_texts(0.05, 1, dilution=6)
    assert diluted_size >= 50_000 and texts[0] in diluted[0] and len(diluted[0]) > 3 * len(texts[0])


@pytest.mark.parametrize("seed", [0, 1])
def test_values_module_never_generates_ambiguous_ids_or_cards(seed: int) -> None:
    import random

    rng = random.Random(seed)
    for _ in range(300):
        number = corpus_values.bank_card_number(rng)
        assert luhn_ok(number) and not (len(number) == 18 and gb11643_ok(number))
        ident = corpus_values.id_card18(rng)
        assert gb11643_ok(ident) and not (ident.isdigit() and luhn_ok(ident))
