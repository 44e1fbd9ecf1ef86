"""The numeric detectors' speed-ups must not change a single span (issue 13, item 6).

What changed, and the plain version each is checked against here:

* ``fold_fullwidth`` finds full-width forms and spoken-numeral hints in one scan, not two;
  ``digit_window`` finds the first and last digits with byte searches on the text's ASCII shape;
  ``digit_view`` is ``fold_fullwidth`` plus ``digit_window`` in one cached call.
* ``id_card``, ``bank_card``, ``uscc``, ``passport`` and ``hk_macao_permit`` find candidate starts
  with a literal search on the text's ASCII shape and run their pattern only there, instead of
  ``pattern.finditer`` over the digit window; every digit detector returns early when the window
  is shorter than its shortest match.
* ``grouped_number`` splits a run into groups in one C call and skips start groups that can no
  longer reach a card's length.
* ``ipv6`` reads the left edge of an address with one match on the reversed text.
* Context words are looked up through ``context_finder`` (the references use ``context_before``).
* ``luhn_ok``, ``id_check_char`` and ``uscc_check_char`` sum in C (byte values, ``map``);
  ``valid_birth_date`` reads the clock only for a date after the last day it read.

``_reference_*`` below are the detectors as they were before (full scans of the digit window, the
two-scan fold, the group loop over every pair); both must give the same spans on any text.
"""

from __future__ import annotations

import datetime as dt
import random
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stockade.privacy.detectors import _base, checksums, codes, grouped, network, numbers
from stockade.privacy.detectors._base import (
    ascii_shape,
    digit_view,
    digit_window,
    fold_fullwidth,
)
from stockade.privacy.spans import PiiType, Span

# --- the plain versions ---------------------------------------------------------------------------


def context_before(text: str, start: int, words: tuple[str, ...], window: int = 16) -> bool:
    """The context look-up the detectors made before ``context_finder``: the words' regex found at
    every call."""
    return _base._words_re(words).search(text, max(0, start - window), start) is not None


def _reference_fold(text: str) -> str:
    if _base._FULLWIDTH_RE.search(text) is not None or (
        "\u3000" in text and _base._SPACED_DIGIT_RE.search(text)
    ):
        folded = text.translate(_base._FOLD_TABLE)
    else:
        folded = text
    if _base._NUMERAL_HINT_RE.search(folded) is not None:
        folded = _base._NUMERAL_RUN_RE.sub(_base._numerals_to_digits, folded)
    return folded


_DIGIT_RE = re.compile("[0-9]")
_TO_LAST_DIGIT_RE = re.compile(r".*[0-9][0-9A-Za-z \-]*", re.DOTALL)


def _reference_window(text: str) -> tuple[int, int]:
    first = _DIGIT_RE.search(text)
    return (0, 0) if first is None else (max(0, first.start() - 2), _TO_LAST_DIGIT_RE.match(text).end())


def _reference_id_card(text: str) -> list[Span]:
    text = fold_fullwidth(text)
    spans = []
    for m in numbers._ID_RE.finditer(text, *_reference_window(text)):
        raw = m.group()
        if m.group("birth") is not None:
            if m.group("s1") != m.group("s2"):
                continue
            if not checksums.valid_id18(raw.replace(" ", "").replace("-", "")):
                continue
            score = 1.0
        else:
            if not checksums.valid_id15(raw):
                continue
            score = 0.95 if context_before(text, m.start(), numbers._ID_CONTEXT) else 0.8
        spans.append(Span(m.start(), m.end(), PiiType.ID_CARD, score, "id_card"))
    return spans


def _reference_bank_card(text: str) -> list[Span]:
    text = fold_fullwidth(text)
    spans = []
    for m in numbers._CARD_RE.finditer(text, *_reference_window(text)):
        raw = m.group()
        digits = raw.replace(" ", "").replace("-", "") if m.group("sep") else raw
        if not 16 <= len(digits) <= 19 or not checksums.luhn_ok(digits):
            continue
        score = numbers.card_score(digits)
        if score is None:
            continue
        context = context_before(text, m.start(), numbers._CARD_CONTEXT, window=12)
        if (
            len(digits) == 18
            and checksums.id_card_shape(digits)
            and (checksums.valid_id18(digits) or not (context or digits.startswith("62")))
        ):
            continue
        if score < 0.95 and context:
            score = 0.95
        spans.append(Span(m.start(), m.end(), PiiType.BANK_CARD, score, "bank_card"))
    return spans


def _reference_uscc(text: str) -> list[Span]:
    text = fold_fullwidth(text)
    spans = []
    for m in codes._USCC_RE.finditer(text, *_reference_window(text)):
        code = m.group().upper()
        if not checksums.valid_uscc(code):
            continue
        context = context_before(text, m.start(), codes._USCC_CONTEXT, window=20)
        if code.isdigit():
            if checksums.id_card_shape(code) and not context:
                continue
            score = 0.97 if context else 0.9
        else:
            score = 0.99 if context else 0.97
        spans.append(Span(m.start(), m.end(), PiiType.USCC, score, "uscc"))
    return spans


def _reference_passport(text: str) -> list[Span]:
    text = fold_fullwidth(text)
    spans = []
    for m in codes._PASSPORT_RE.finditer(text, *_reference_window(text)):
        context = context_before(text, m.start(), codes._PASSPORT_CONTEXT, window=12)
        if m.group("ctx") is not None:
            if not context:
                continue
            score = 0.85
        else:
            score = 0.97 if context else 0.8
        spans.append(Span(m.start(), m.end(), PiiType.PASSPORT, score, "passport"))
    return spans


def _reference_permit(text: str) -> list[Span]:
    text = fold_fullwidth(text)
    spans = []
    for m in codes._PERMIT_RE.finditer(text, *_reference_window(text)):
        score = 0.97 if context_before(text, m.start(), codes._PERMIT_CONTEXT, window=16) else 0.8
        spans.append(Span(m.start(), m.end(), PiiType.HK_MACAO_PERMIT, score, "hk_macao_permit"))
    return spans


def _reference_grouped(text: str) -> list[Span]:
    group_re = re.compile(r"[0-9]+[Xx]?")
    text = fold_fullwidth(text)
    spans: list[Span] = []
    for m in grouped._RUN_RE.finditer(text, *_reference_window(text)):
        run = m.group()
        if len(run) < 11:
            continue
        groups = list(group_re.finditer(run))
        lengths = [len(g.group()) for g in groups]
        if len(groups) < 2 or len(groups) > grouped._MAX_GROUPS:
            continue
        if lengths[0] <= 3 and all(n == 3 for n in lengths[1:]) and ("," in run or "，" in run or "." in run):
            continue
        base = m.start()
        parts = [g.group() for g in groups]
        last = len(parts) - 1
        for i in range(len(parts)):
            digits = ""
            for j in range(i, len(parts)):
                part = parts[j]
                if j < last and not part.isdigit():
                    break
                if len(part) > 12:
                    break
                digits += part
                n = len(digits)
                if n > 19:
                    break
                if j == i:
                    continue
                whole = j == last and (i == 0 or (i == 1 and parts[0] in grouped._CC))
                if n < 16 and not (whole and n >= 10):
                    continue
                found = grouped.GroupedNumberDetector._classify(
                    text, base + groups[i].start(), digits, whole, j - i + 1
                )
                if found is not None:
                    spans.append(
                        Span(base + groups[i].start(), base + groups[j].end(), *found, "grouped_number")
                    )
    return spans


def _reference_ipv6(text: str) -> list[Span]:
    left_re = re.compile(r"[0-9A-Fa-f:]{0,45}\Z")
    text = fold_fullwidth(text)
    if ":" not in text:
        return []
    spans = []
    last_end = 0
    for seed in network._V6_SEED_RE.finditer(text):
        i = seed.start()
        if i < last_end:
            continue
        left = left_re.search(text, max(last_end, i - 45), i)
        start = left.start() if left else i
        end = network._V6_RIGHT_RE.match(text, i).end()
        found = network._trim_v6(text, start, end)
        if found is None:
            last_end = end
            continue
        spans.append(Span(*found, PiiType.IPV6, 0.95, "ipv6"))
        last_end = found[1]
    return spans


_REFERENCES = {
    "id_card": (numbers.IdCardDetector(), _reference_id_card),
    "bank_card": (numbers.BankCardDetector(), _reference_bank_card),
    "uscc": (codes.UsccDetector(), _reference_uscc),
    "passport": (codes.PassportDetector(), _reference_passport),
    "hk_macao_permit": (codes.HkMacaoPermitDetector(), _reference_permit),
    "grouped_number": (grouped.GroupedNumberDetector(), _reference_grouped),
    "ipv6": (network.Ipv6Detector(), _reference_ipv6),
}

# Identifiers at their shortest and in their grouped forms, near misses (a separator or a letter
# glued on either side, a second letter first), and the characters around them.
_PIECES = (
    "11010519900101123X", "110105199001011237", "110105 19900101 1237", "110105-19900101-1237",
    "110105900101123", "6222021234567890125", "6222 0212 3456 7890", "6222-0212-3456-7890-125",
    "4111111111111111", "1234 ", "5678901234567890", "4111 1111 1111 1111", "91350100M000100Y43",
    "9135010000000100Y4", "1135010000000100", "E12345678", "EA1234567", "G12345678", "DE1234567",
    "A123456", "C12345678", "CA1234567", "H1234567890", "M12345678", "138 1234 5678",
    "0086 138-1234-5678", "6222，0212，3456，7890，125", "1101 0519 9001 0112 3x",
    "620 123456 789 7036", "13,812,345,678", "护照", "通行证", "卡号", "信用代码", "身份证", "客户",
    "ab", "X", "x",
    "E", "C", "M", "G", "0", "1", "9", "12", "123456", " ", "-", ",", "，", "、", "/", ".", "\u3000",
    "（", "：", "号", "万", "\n", "2409:8a00:b93b:84a2:0995:86d7:1202:82db", "fe80::1", "addr", "::", ":",
    "22:19:59", "::ffff:192.168.1.1", "ab:cd:ef:", "1:2:3:4:5:6:7:8:9",
    "abcdef0123456789abcdef0123456789abcdef0123456789",
    # valid check digits: an ID ending in X, grouped 6-8-4; cards of 16, 17 and 19 digits, grouped 4-4-4-4-3
    "11010519900101007X", "110105 19900101 007x", "110105-19900101-1232", "6222021234567894",
    "62220212345678903", "6222021234567890128", "6222 0212 3456 7890 128", "6222-0212-3456-7894",
)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), min_size=1, max_size=10).map("".join))
def test_the_fast_detectors_find_what_the_plain_ones_find(text: str) -> None:
    for name, (detector, reference) in _REFERENCES.items():
        assert detector.detect(text) == reference(text), name


def test_fast_detectors_on_random_strings_of_digits_letters_and_separators() -> None:
    rng = random.Random(13)
    alphabet = "0123456789" * 6 + "ACEGHMXYaxzf" + "  --,，、/.:+（）" + "::" + "客号卡"
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 60)))
        for name, (detector, reference) in _REFERENCES.items():
            assert detector.detect(text) == reference(text), (name, text)


@pytest.mark.parametrize(
    ("name", "text"),
    [
        # The shortest match of each pattern, alone: the early "window too short" exits must not drop it.
        ("id_card", "110105900101123"),
        ("bank_card", "4111111111111111"),
        ("uscc", "91350100M000100Y43"),
        ("passport", "护照A123456"),
        ("hk_macao_permit", "C12345678"),
        ("mobile", "13812345678"),
        ("landline", "0102345678"),
        ("ipv4", "1.2.3.4"),
        ("grouped_number", "138 1234 5678"),
        # A card starting right after a first group that began another candidate (only the first
        # group of a candidate is consumed).
        ("bank_card", "1234 4111111111111111"),
        # The longest forms: a 19-digit card, one grouped 4-4-4-4-3, an ID grouped 6-8-4 ending in x.
        ("bank_card", "6222021234567890128"),
        ("bank_card", "6222 0212 3456 7890 128"),
        ("id_card", "110105 19900101 007x"),
        # A card of exactly 16 digits from the second group of a run on (the shortest a start group
        # that is not the run's first may reach).
        ("grouped_number", "1234 4111 1111 1111 1111"),
    ],
)
def test_shortest_and_longest_forms_are_found(name: str, text: str) -> None:
    from stockade.privacy.detectors import get_detector

    spans = get_detector(name).detect(text)
    assert spans, (name, text)
    assert spans[-1].end == len(text)


@pytest.mark.parametrize(
    "text",
    [
        # Hex digits and colons running far to the left of the first two colons close together:
        # the left edge is looked for at most 45 characters back.
        "abcdef0:abcdef0:abcdef0:abcdef0:abcdef0:abcdef0:1::2",
        "地址 fe80:abcdef0:abcdef0:abcdef0:abcdef0:abcdef0:1:2:3:4:5:6:7",
        "x" + "abcdef0:" * 5 + "2001:db8::1 ok",
        "12345:" * 8 + "::1",
    ],
)
def test_ipv6_left_edge_as_before(text: str) -> None:
    assert network.Ipv6Detector().detect(text) == _reference_ipv6(text)


_FOLD_ALPHABET = (
    "0123456789０１２３４５６７８９ＡＺａｚ＠．－＋\u3000 ,，、-—/Xx"
    + "一二三四五六七八九十百千〇零幺两叉"
    + "号栋幢单元室楼层组弄户客卡中"
    + "\U0001f600\ud800é"  # one code point each, whatever its width
)


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.sampled_from(_FOLD_ALPHABET), max_size=40))
def test_one_pass_fold_equals_the_two_scans(text: str) -> None:
    folded = fold_fullwidth(text)
    assert folded == _reference_fold(text)
    assert digit_window(folded) == _reference_window(folded)
    assert digit_view(text) == (folded, *_reference_window(folded))


def test_ascii_shape_keeps_offsets() -> None:
    text = "卡号６２２２ ab-C9，\U0001f600x"
    shape = ascii_shape(text)
    assert len(shape) == len(text) + 1
    assert shape == b"        aa a0  a"


# --- checksums --------------------------------------------------------------------------------------


def _plain_luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def test_luhn_and_id_check_char_agree_with_plain_loops() -> None:
    rng = random.Random(11)
    for _ in range(5000):
        digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 20)))
        assert checksums.luhn_ok(digits) == _plain_luhn(digits), digits
        first17 = "".join(rng.choice("0123456789") for _ in range(17))
        total = sum(int(d) * w for d, w in zip(first17, checksums._ID_WEIGHTS, strict=True))
        assert checksums.id_check_char(first17) == "10X98765432"[total % 11]


def test_birth_dates_after_the_last_clock_read_still_count(monkeypatch: pytest.MonkeyPatch) -> None:
    # As if the process had started long ago: a birth date since then is checked against the clock.
    monkeypatch.setattr(checksums, "_known_past", dt.date(2001, 1, 1))
    today = dt.date.today()
    assert checksums.valid_birth_date("20050607")
    assert checksums._known_past == today  # the clock was read once, and remembered
    assert checksums.valid_birth_date("19000101")
    assert not checksums.valid_birth_date("18991231")
    assert not checksums.valid_birth_date((today + dt.timedelta(days=1)).strftime("%Y%m%d"))
    assert not checksums.valid_birth_date("20050230")
    assert checksums.valid_birth_date("20050607", today=dt.date(2005, 6, 7))
    assert not checksums.valid_birth_date("20050608", today=dt.date(2005, 6, 7))


def test_uscc_check_char_agrees_with_a_plain_loop() -> None:
    rng = random.Random(5)
    alphabet = checksums.USCC_ALPHABET
    for _ in range(3000):
        first17 = "".join(rng.choice(alphabet) for _ in range(17))
        total = sum(alphabet.index(c) * pow(3, i, 31) for i, c in enumerate(first17))
        check = alphabet[(31 - total % 31) % 31]
        assert checksums.uscc_check_char(first17) == check
        code = first17 + check
        plain = code[1] in checksums._USCC_KINDS.get(code[0], "") and (
            code[2:8].isdigit() and (code[2:4] in checksums.PROVINCE_CODES or code[2:4] == "10")
        )
        assert checksums.valid_uscc(code) == plain
        assert not checksums.valid_uscc(code[:17] + ("I" if check != "I" else "O"))  # not in the alphabet
    with pytest.raises(ValueError, match="17 characters"):
        checksums.uscc_check_char("91350100M000100")
