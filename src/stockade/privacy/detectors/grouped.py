"""Identifiers written in groups that the fixed patterns do not know: ``131，2345，2577``,
``620 123456 789 7036``, an ID read out in groups of four (``1101 0519 9001 0112 3x``), digits
separated by pauses or full-width spaces in a transcript.

The normalised view (:func:`~stockade.privacy.detectors._base.fold_fullwidth`) has already turned
full-width digits, ideographic spaces and spoken numerals into ASCII; this detector takes every run
of two or more digit groups joined by one short separator (space, comma, 、, hyphen, slash, a dot
between groups of three digits or more, parentheses around a group: ``+86 (138) 1234 5678``), and
tries each contiguous sequence of whole groups as an identifier: the digits are joined (the offset
of each group is kept, so the span covers the original characters, separators included) and the
checksums decide — GB 11643 for an 18-character ID, Luhn plus an issuer prefix for a card. Only
the mobile number has no checksum: 11 digits ``1[3-9]…`` count when the grouping is not the
thousands grouping of an amount (``13,812,345,678``).
"""

from __future__ import annotations

import functools
import re
import sys
from collections.abc import Callable
from itertools import accumulate

from stockade.privacy.detectors._base import DETECTORS, digit_view, native_module
from stockade.privacy.detectors.checksums import id_card_shape, luhn_ok, valid_id18
from stockade.privacy.detectors.numbers import card_context_before, card_score
from stockade.privacy.spans import PiiType, Span

# A dot joins groups of three digits or more only (138.1234.5678, 110105.19900307.1239): never a
# decimal part, and an IPv4 address joined so has twelve digits, which no identifier here has.
# Parentheses around a group (+86 (138) 1234 5678, (138)1234-5678) join it to the next. (Every branch
# starts with a character, not an assertion or an optional one: the scan then tests them in one step.)
_SEP = r"(?:[ ,，、/\-－—]|, |， |、 | - |\.(?<=[0-9]{3}\.)(?=[0-9]{3})|[)）] ?| [(（]|[(（])"
# Not followed by a decimal part or an amount's unit (… 13.1亿元, … 200万): the last group is a number.
# The digit repeats are possessive (``*+``, ``++``) where Python has them (3.11+): what follows a
# group (a separator, X, the final lookahead) never matches at a digit, so giving digits back can
# never succeed, and ``re`` would otherwise try it digit by digit at every run (a third of the
# scan's cost on dense text). Whole groups are still given back when the lookahead fails after the
# last one. Python 3.10 gets plain repeats: the same matches, found more slowly.
_POSSESSIVE = "+" if sys.version_info >= (3, 11) else ""
_RUN_RE = re.compile(
    r"[0-9](?<![0-9A-Za-z.][0-9])[0-9]*"
    + _POSSESSIVE
    + "(?:"
    + _SEP
    + r"[0-9]+"
    + _POSSESSIVE
    + r")+(?:[Xx])?(?![0-9A-Za-z]|\.[0-9]|[万亿元千百%％])"
)
# A run splits into its groups (digits, an X only at the very end) and the separators between them.
_SPLIT_RE = re.compile(r"([^0-9Xx]+)")
_MAX_GROUPS = 12
_CC = ("86", "0086")
_AREA_RE = re.compile(r"0(?:10|2[0-9]|[3-9][0-9]{2})")


def _thousands(run: str, lengths: list[int]) -> bool:
    """``1,234,567`` (the lengths of its digit groups): an amount, not an identifier."""
    if lengths[0] > 3 or lengths.count(3) != len(lengths) - (lengths[0] != 3):
        return False
    return "," in run or "，" in run or "." in run


def _candidates_python(text: str, run_start: int, run_end: int) -> list[tuple[int, int, str, bool, int]]:
    """The slices of whole digit groups of the run ``text[run_start:run_end]`` that may be an
    identifier, in order: ``(start, end, digits, whole, groups)`` (``whole``: the run is all of it,
    after a country code). The C version (``_segment.grouped_candidates``) gives the same, less the
    slices whose digits no check could accept (tests/privacy/test_native_segment.py)."""
    run = text[run_start:run_end]
    # Groups and separators alternate; the running total of their lengths gives each group's end.
    # (An X can only end the run, so every group but the last is all digits.)
    pieces = _SPLIT_RE.split(run)
    parts = pieces[::2]
    count = len(parts)
    if count > _MAX_GROUPS:
        return []
    lengths = list(map(len, parts))
    if lengths[0] <= 3 and _thousands(run, lengths):  # (its first test, without the call)
        return []
    ends = list(accumulate(map(len, pieces), initial=run_start))[1::2]
    last = count - 1
    rest = sum(lengths)  # characters in parts[i:]
    country_code = parts[0] in _CC
    out = []
    for i in range(count):
        if i and rest < 16 and (i > 1 or not country_code):
            break  # only a whole run may be shorter than a card, and this one cannot be whole
        rest -= lengths[i]
        n = lengths[i]  # the number of characters in parts[i..j]
        if n > 12:
            continue  # a whole number of its own (订单6228443646881674 200万), not a piece
        # No checksum protects a phone number: it must be the whole run (after a country code),
        # not a slice of a longer number.
        may_be_whole = i == 0 or (i == 1 and country_code)
        # One group alone is the plain detectors' business: j starts at the next one.
        for j in range(i + 1, count):
            if lengths[j] > 12:
                break
            n += lengths[j]
            if n > 19:
                break
            if n < 16 and (n < 10 or j != last or not may_be_whole):
                continue  # no identifier has this many digits here
            whole = j == last and may_be_whole
            out.append((ends[i] - lengths[i], ends[j], "".join(parts[i : j + 1]), whole, j - i + 1))
    return out


_OPENERS = "+(（"
_CLOSED_GROUP_RE = re.compile(r"[0-9]+[)）]")


def _with_opener(text: str, start: int) -> int:
    """The start of an identifier found at ``start`` with the character before it that belongs to it:
    the plus of a country code (+86 138…), the parenthesis of a group closed after it ((138)1234…)."""
    before = text[start - 1]
    if before == "+" or _CLOSED_GROUP_RE.match(text, start) is not None:
        return start - 1
    return start


@functools.cache
def _native_candidates() -> Callable[[str, int, int], list[tuple[int, int, str, bool, int]]] | None:
    """``_segment.grouped_candidates`` where the optional C extension is built and in use, else None."""
    native = native_module()
    return None if native is None else native.grouped_candidates


@DETECTORS.register("grouped_number")
class GroupedNumberDetector:
    """居民身份证, 银行卡号, 手机号 and 固定电话 written in irregular groups (pauses, commas,
    full-width or spoken digits): whole groups are joined and checked by checksum."""

    name = "grouped_number"
    version = "1.0"
    types = (PiiType.ID_CARD, PiiType.BANK_CARD, PiiType.MOBILE, PiiType.LANDLINE)

    def detect(self, text: str) -> list[Span]:
        text, lo, hi = digit_view(text)  # the folded text (same offsets), where its digits are
        if hi - lo < 11:
            return []  # no run long enough (see below)
        spans: list[Span] = []
        candidates = _native_candidates() or _candidates_python
        for m in _RUN_RE.finditer(text, lo, hi):
            if m.end() - m.start() < 11:
                continue  # fewer than ten digits: no identifier here (dates, times, amounts)
            for start, end, digits, whole, parts in candidates(text, m.start(), m.end()):
                found = self._classify(text, start, digits, whole, parts)
                if found is not None:
                    pii_type, score = found
                    if start and text[start - 1] in _OPENERS:
                        start = _with_opener(text, start)
                    spans.append(Span(start, end, pii_type, score, self.name))
        return spans

    @staticmethod
    def _classify(
        text: str, start: int, digits: str, whole: bool, parts: int
    ) -> tuple[PiiType, float] | None:
        n = len(digits)
        if n == 18 and valid_id18(digits):
            return PiiType.ID_CARD, 1.0
        if not digits.isdigit():
            return None
        if 16 <= n <= 19 and luhn_ok(digits) and not (n == 18 and id_card_shape(digits)):
            score = card_score(digits)
            if score is not None:
                # (A UnionPay score, 0.98, is above what the context search could give.)
                if score < 0.95 and card_context_before(text, start):
                    score = 0.95
                if score >= 0.88:
                    return PiiType.BANK_CARD, score
        if not whole:
            return None
        if n == 11 and digits[0] == "1" and digits[1] in "3456789":
            return PiiType.MOBILE, 0.9
        if n == 13 and digits.startswith("86") and digits[2] == "1" and digits[3] in "3456789":
            return PiiType.MOBILE, 0.9
        area = _AREA_RE.match(digits)
        if area is not None and 10 <= n <= 12 and parts <= 3 and digits[area.end()] in "23456789":
            return PiiType.LANDLINE, 0.85
        return None
