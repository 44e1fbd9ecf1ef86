"""Second pass at the numeric detectors' speed (issue 13, item 6): not a single span may change.

What changed, and the plain version each is checked against here:

* ``grouped_number`` scans runs with possessive digit repeats (``[0-9]*+``, ``[0-9]++``) and looks
  for card context only where it can change the score;
* ``bank_card`` looks for card context only where it can change the result (held to
  ``_reference_bank_card`` of test_numbers_speed.py, which always looks);
* ``uscc`` finds candidates on the shape with one lookbehind instead of two;
* ``id_card``, ``bank_card``, ``uscc``, ``passport`` and ``hk_macao_permit`` get the shape with the
  folded text and its digit window in one cached call (``shape_view``);
* ``mobile`` calls ``_mobile_start`` only after a character that may end a country code or is a digit;
* ``email`` reads the local part with one match on the reversed text instead of a search;
* ``luhn_ok`` sums the byte values without a reversed copy;
* ``id_card`` removes a grouped ID's separators with one ``replace`` (held to the plain scan by
  ``_reference_id_card`` in test_numbers_speed.py); ``license_plate`` and ``ipv4`` count letters and
  check octets with ``map`` instead of generator expressions (same values).

The checks of the first pass (tests/privacy/test_numbers_speed.py) still hold the shape-driven
scans to full ``finditer`` scans; the references here are the code as it was before this pass.
"""

from __future__ import annotations

import random
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from stockade.privacy.detectors import _base, checksums, codes, grouped, network, numbers
from stockade.privacy.detectors._base import (
    ascii_shape,
    digit_view,
    fold_fullwidth,
    shape_view,
)
from stockade.privacy.spans import PiiType, Span
from tests.privacy.test_numbers_speed import _plain_luhn, _reference_bank_card, context_before

# --- the code as it was -----------------------------------------------------------------------------

# The run pattern with ordinary (backtracking) repeats.
_OLD_RUN_RE = re.compile(
    r"[0-9](?<![0-9A-Za-z.][0-9])[0-9]*(?:"
    + grouped._SEP
    + r"[0-9]+)+(?:[Xx])?(?![0-9A-Za-z]|\.[0-9]|[万亿元千百%％])"
)
_OLD_USCC_AT = re.compile(rb"000000(?<=[0a][0a]000000)(?<![0a][0a][0a]000000)[0a]{10}(?![0a])")
_OLD_LOCAL_RE = re.compile(r"[A-Za-z0-9_%+\-](?:[A-Za-z0-9._%+\-]{0,63})\Z")


def _old_classify(
    text: str, start: int, digits: str, whole: bool, parts: int
) -> tuple[PiiType, float] | None:
    n = len(digits)
    if n == 18 and checksums.valid_id18(digits):
        return PiiType.ID_CARD, 1.0
    if not digits.isdigit():
        return None
    if 16 <= n <= 19 and checksums.luhn_ok(digits) and not (n == 18 and checksums.id_card_shape(digits)):
        score = numbers.card_score(digits)
        if score is not None:
            if context_before(text, start, numbers._CARD_CONTEXT, window=12):
                score = max(score, 0.95)
            if score >= 0.88:
                return PiiType.BANK_CARD, score
    if not whole:
        return None
    if n == 11 and digits[0] == "1" and digits[1] in "3456789":
        return PiiType.MOBILE, 0.9
    if n == 13 and digits.startswith("86") and digits[2] == "1" and digits[3] in "3456789":
        return PiiType.MOBILE, 0.9
    area = grouped._AREA_RE.match(digits)
    if area is not None and 10 <= n <= 12 and parts <= 3 and digits[area.end()] in "23456789":
        return PiiType.LANDLINE, 0.85
    return None


def _old_mobile(text: str) -> list[Span]:
    text, lo, hi = digit_view(text)
    spans = []
    for m in numbers._MOBILE_RE.finditer(text, lo, hi):
        start = numbers._mobile_start(text, m.start())
        if start is not None:
            spans.append(Span(start, m.end(), PiiType.MOBILE, 0.95, "mobile"))
    return spans


def _old_email(text: str) -> list[Span]:
    text = fold_fullwidth(text)
    spans = []
    last_end = 0
    for at in re.finditer("@", text):
        i = at.start()
        if i < last_end:
            continue
        local = _OLD_LOCAL_RE.search(text, max(last_end, i - 64), i)
        if local is None:
            continue
        domain = network._DOMAIN_RE.match(text, i + 1)
        if domain is None:
            continue
        spans.append(Span(local.start(), domain.end(), PiiType.EMAIL, 0.99, "email"))
        last_end = domain.end()
    return spans


# --- texts ------------------------------------------------------------------------------------------

# Digit groups of every length, every separator of a run, the characters that end one (a decimal
# part, an amount's unit, a letter) and the card-context words, mobile prefixes, e-mail pieces.
_PIECES = (
    "6222", "0212", "3456", "7890", "128", "4111", "1111", "5", "12", "123", "12345678", "6222021234567894",
    "4111111111111111", "110105", "19900101", "007X", "1237", "13812345678", "86", "+86", "0086", "(+86)",
    "010", "0571", "12345", " ", "-", ",", "，", "、", "/", ", ", "， ", "、 ", " - ", "—", "－", ".", ".5",
    "万", "元", "%", "X", "x", "a", "Z", "卡号", "信用卡", "账户", "客户", "号码", "身份证", "信用代码",
    "91350100M000100Y43",
    "@", "a.b", "zhang.wei", "_x%+", "..", "example.com", "bank.cn", "中", "\n",
)  # fmt: skip


def _random_texts(seed: int, count: int, alphabet: str, max_len: int) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, max_len))) for _ in range(count)]


_RANDOM = _random_texts(
    17,
    4000,
    "0123456789" * 8 + "  --,，、/—－" + ".Xx万元%" + "ab.@_%+-" + "aZ" + "卡号客" + "+()（）",
    80,
)


def _check_all(text: str) -> None:
    run_old = [m.span() for m in _OLD_RUN_RE.finditer(text)]
    assert [m.span() for m in grouped._RUN_RE.finditer(text)] == run_old, text
    shape = ascii_shape(text)
    assert [m.start() for m in codes._USCC_AT.finditer(shape)] == [
        m.start() for m in _OLD_USCC_AT.finditer(shape)
    ], text
    assert numbers.BankCardDetector().detect(text) == _reference_bank_card(text), text
    assert numbers.MobileDetector().detect(text) == _old_mobile(text), text
    assert network.EmailDetector().detect(text) == _old_email(text), text
    folded, lo, hi = digit_view(text)
    assert shape_view(text) == (folded, lo, hi, ascii_shape(folded))


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), min_size=1, max_size=14).map("".join))
def test_faster_paths_agree_with_the_old_code_on_assembled_texts(text: str) -> None:
    _check_all(text)


def test_faster_paths_agree_with_the_old_code_on_random_texts() -> None:
    for text in _RANDOM:
        _check_all(text)


def test_grouped_classify_agrees_with_the_old_one() -> None:
    # Every kind of outcome: IDs, cards of each issuer with and without a context word before
    # them (the context search is now skipped for UnionPay numbers), mobiles, landlines.
    rng = random.Random(29)
    heads = ["62", "4", "5", "3", "6", "9", "2221", "2720", "2800", "1", "13", "86138", "010", "0571", "0"]
    befores = ["", "卡号 ", "信用卡：", "客户 ", "卡" + "x" * 12, "账户" + "x" * 11]
    checked = 0
    for _ in range(20000):
        head = rng.choice(heads)
        digits = head + "".join(rng.choice("0123456789") for _ in range(rng.randint(8, 19) - len(head)))
        if rng.random() < 0.5:  # make the Luhn check pass half of the time
            for last in "0123456789":
                if checksums.luhn_ok(digits[:-1] + last):
                    digits = digits[:-1] + last
                    break
        before = rng.choice(befores)
        text = before + digits
        whole = rng.random() < 0.5
        parts = rng.randint(2, 5)
        got = grouped.GroupedNumberDetector._classify(text, len(before), digits, whole, parts)
        assert got == _old_classify(text, len(before), digits, whole, parts), (text, whole, parts)
        checked += got is not None
    assert checked > 1000  # the cases above do reach the outcomes


def test_email_local_part_as_the_old_search_finds_it() -> None:
    for text in _random_texts(23, 20000, "ab.Z9_%+-@ 中.", 90):
        assert network.EmailDetector().detect(text) == _old_email(text), text


def test_luhn_agrees_with_a_plain_loop_on_every_length() -> None:
    rng = random.Random(31)
    for length in range(1, 24):
        for _ in range(300):
            digits = "".join(rng.choice("0123456789") for _ in range(length))
            assert checksums.luhn_ok(digits) == _plain_luhn(digits), digits
    assert checksums.luhn_ok("4111111111111111") and not checksums.luhn_ok("4111111111111112")


def test_shape_view_is_cached_per_text_object() -> None:
    text = "卡号６２２２ ０２１２ ３４５６ ７８９４"
    first = shape_view(text)
    assert first == (
        fold_fullwidth(text),
        *_base.digit_window(fold_fullwidth(text)),
        ascii_shape(fold_fullwidth(text)),
    )
    assert shape_view(text) is first
    other = "x" + text[1:]
    assert shape_view(other) is not first and shape_view(other)[0] == "x" + first[0][1:]
