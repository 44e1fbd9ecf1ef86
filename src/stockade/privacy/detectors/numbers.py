"""Digit-based identifiers: 居民身份证, 手机号, 固定电话, 银行卡号."""

from __future__ import annotations

import re

from stockade.privacy.detectors._base import (
    DETECTORS,
    END,
    context_finder,
    digit_view,
    is_alnum_ascii,
    matches_at,
    shape_view,
)
from stockade.privacy.detectors.checksums import id_card_shape, luhn_ok, valid_id15, valid_id18
from stockade.privacy.spans import PiiType, Span

# ---------------------------------------------------------------------------------------------
# 居民身份证
# ---------------------------------------------------------------------------------------------

_MONTH = r"(?:0[1-9]|1[0-2])"
_DAY = r"(?:0[1-9]|[12][0-9]|3[01])"
# 18 digits (6 region + 8 birth date + 3 sequence + check), optionally grouped 6-8-4 by spaces or
# hyphens; or 15 legacy digits (6 region + YYMMDD + 3 sequence).
_ID_RE = re.compile(
    r"[1-8](?<![0-9A-Za-z][1-8])[0-9]{5}"
    r"(?:(?P<s1>[ -]?)(?P<birth>(?:18|19|20)[0-9]{2}" + _MONTH + _DAY + r")(?P<s2>[ -]?)"
    r"[0-9]{3}[0-9Xx]|[0-9]{2}" + _MONTH + _DAY + r"[0-9]{3})" + END
)
_ID_CONTEXT = ("身份证", "证件号", "公民身份", "身份号码", "ID")
_id_context_before = context_finder(_ID_CONTEXT)
# Where an ID can start, on the text's shape (see ascii_shape; a match at index k of the shape is a
# start at k in the text): after no letter or digit, 6 + 8 + 4 characters (maybe grouped by single
# separators, the last maybe X) or 15 digits, then no letter or digit.
_ID_AT = re.compile(rb" 000000(?= ?00000000 ?000[0a](?![0a])|000000000(?![0a]))")


@DETECTORS.register("id_card")
class IdCardDetector:
    """居民身份证号码: 18 digits with the GB 11643 check character, a real birth date and a valid
    province code; also the legacy 15-digit form (no check digit, so a lower score)."""

    name = "id_card"
    version = "1.0"
    types = (PiiType.ID_CARD,)

    def detect(self, text: str) -> list[Span]:
        text, lo, hi, shape = shape_view(text)  # the folded text (same offsets), where its digits are
        if hi - lo < 15:
            return []  # too short for any ID
        spans = []
        for m in matches_at(_ID_RE, text, _ID_AT.finditer(shape, lo, hi + 1), hi):
            raw = m.group()
            if m.group("birth") is not None:
                sep = m.group("s1")
                if sep != m.group("s2"):
                    continue  # "110105 19900101-1234": inconsistent grouping
                number = raw.replace(sep, "") if sep else raw  # the only separators are the two seps
                if not valid_id18(number):
                    continue
                score = 1.0
            else:
                if not valid_id15(raw):
                    continue
                score = 0.95 if _id_context_before(text, m.start()) else 0.8
            spans.append(Span(m.start(), m.end(), PiiType.ID_CARD, score, self.name))
        return spans


# ---------------------------------------------------------------------------------------------
# 手机号
# ---------------------------------------------------------------------------------------------

# 1[3-9]X then 8 digits, contiguous or grouped 3-4-4 with one kind of separator. The left edge
# may touch a country code written without a separator ("8613812345678"); it is checked below.
_MOBILE_RE = re.compile(
    r"1(?:(?<![0-9A-Za-z]1)|(?<=861))[3-9][0-9](?:(?P<sep>[ -])[0-9]{4}(?P=sep)[0-9]{4}|[0-9]{8})" + END
)
# Country-code prefixes, longest first, each as it may stand right before the number.
_CC_PREFIXES = tuple(
    sorted(
        {cc + sep for cc in ("+86", "0086", "86", "(+86)", "（+86）", "+ 86") for sep in ("", " ", "-")},
        key=len,
        reverse=True,
    )
)

_CC_LAST = frozenset(prefix[-1] for prefix in _CC_PREFIXES)


def _mobile_start(text: str, start: int) -> int | None:
    """Where the number really starts (including a country code), or None if it is glued to
    other digits and so part of some longer number."""
    if not start:
        return start
    if text[start - 1] not in _CC_LAST:  # no country code can end here: skip the prefix checks
        return None if text[start - 1].isdigit() else start
    for prefix in _CC_PREFIXES:
        p = start - len(prefix)
        if p >= 0 and text.startswith(prefix, p):
            if p and (is_alnum_ascii(text[p - 1]) or text[p - 1] == "+"):
                continue
            return p
    if start and text[start - 1].isdigit():
        return None
    return start


@DETECTORS.register("mobile")
class MobileDetector:
    """中国大陆手机号: 11 digits 1[3-9]X..., optional +86/0086/86, separators in 3-4-4 grouping."""

    name = "mobile"
    version = "1.0"
    types = (PiiType.MOBILE,)

    def detect(self, text: str) -> list[Span]:
        text, lo, hi = digit_view(text)  # the folded text (same offsets), where its digits are
        if hi - lo < 11:
            return []
        spans = []
        for m in _MOBILE_RE.finditer(text, lo, hi):
            start = m.start()
            # Usually after a character that ends no country code and is no digit: the number
            # starts there, without the call (_mobile_start's own first test).
            if start and (text[start - 1] in _CC_LAST or text[start - 1].isdigit()):
                start = _mobile_start(text, start)
                if start is None:
                    continue
            spans.append(Span(start, m.end(), PiiType.MOBILE, 0.95, self.name))
        return spans


# ---------------------------------------------------------------------------------------------
# 固定电话
# ---------------------------------------------------------------------------------------------

# Area codes: 010, 02X, 0[3-9]XX. Subscriber numbers: 7-8 digits, optionally split 3-4 / 4-4;
# real local numbers start with 2-9, and one starting with 1 counts only when a separator sets the
# area code apart (sample data often writes 010-12345678). 400/800 service numbers do not start
# with 0 and so never match.
_AREA = r"(?:10|2[0-9]|[3-9][0-9]{2})"
_SUBSCRIBER = r"(?P<first>[1-9])[0-9]{2,3}(?P<sep2>[ -]?)[0-9]{4}"
_EXTENSION = r"(?:(?:转|-|—|ext\.?|EXT\.?|Ext\.?|x|X|分机|分机号)[0-9]{1,6})?"
# Not a slice of a longer run of space-separated groups ("1101 0519 9001 0112 3x", a mistyped ID).
_LANDLINE_PLAIN_RE = re.compile(
    r"0(?<![0-9A-Za-z]0)(?<![0-9] 0)"
    + _AREA
    + r"(?P<sep>[ -]?)"
    + _SUBSCRIBER
    + _EXTENSION
    + END
    + "(?! [0-9])"
)
# Found from its "0" (a literal scans several times faster than a class); the match starts one
# character after the parenthesis.
_LANDLINE_PAREN_RE = re.compile(
    r"0(?<=[(（]0)" + _AREA + r"[)）](?P<sep>[ -]?)" + _SUBSCRIBER + _EXTENSION + END
)
_LANDLINE_INTL_RE = re.compile(
    r"\+(?<![0-9A-Za-z]\+)86[ -]?(?:\(0\)|（0）)?" + _AREA + r"(?P<sep>[ -])" + _SUBSCRIBER + _EXTENSION + END
)
_LANDLINE_CONTEXT = ("电话", "座机", "固话", "传真", "Tel", "TEL", "tel", "联系方式", "办公")
_landline_context_before = context_finder(_LANDLINE_CONTEXT)


@DETECTORS.register("landline")
class LandlineDetector:
    """固定电话: area code 0XX/0XXX (or (0XX), or +86 XX) + 7-8 digits, optional extension.
    400/800 service numbers are not personal and never match."""

    name = "landline"
    version = "1.0"
    types = (PiiType.LANDLINE,)

    def detect(self, text: str) -> list[Span]:
        text, lo, hi = digit_view(text)  # every match has digits and ends with one
        if hi - lo < 10 or "0" not in text:
            return []
        spans = []
        for m in _LANDLINE_PLAIN_RE.finditer(text, lo, hi):
            grouped = bool(m.group("sep") or m.group("sep2"))
            if m.group("first") == "1" and not m.group("sep"):
                continue
            score = 0.9 if grouped else 0.8
            if _landline_context_before(text, m.start()):
                score = 0.95
            spans.append(Span(m.start(), m.end(), PiiType.LANDLINE, score, self.name))
        if "(" in text or "（" in text:
            for m in _LANDLINE_PAREN_RE.finditer(text, lo, hi):
                spans.append(Span(m.start() - 1, m.end(), PiiType.LANDLINE, 0.95, self.name))
        if "+" in text:
            for m in _LANDLINE_INTL_RE.finditer(text, lo, hi):
                spans.append(Span(m.start(), m.end(), PiiType.LANDLINE, 0.95, self.name))
        return spans


# ---------------------------------------------------------------------------------------------
# 银行卡号
# ---------------------------------------------------------------------------------------------

# 16-19 digits, contiguous or grouped in fours (one kind of separator, last group 1-3 digits).
_CARD_RE = re.compile(
    r"[2-69](?<![0-9A-Za-z][2-69])"
    r"(?:[0-9]{15,18}|[0-9]{3}(?P<sep>[ -])[0-9]{4}(?P=sep)[0-9]{4}(?P=sep)[0-9]{4}(?:(?P=sep)[0-9]{1,3})?)"
    + END
)
# Where a card number can start, on the text's shape (a match at k: a start at k in the text): after
# no letter or digit, 16-19 digits or four groups of 4 joined by single separators (a last group of
# 1-3 may follow), then no letter or digit. Only the first group is consumed: another number may
# start right after it (1234 5678...).
_CARD_AT = re.compile(rb" 0000(?=0{12,15}(?![0a])| 0000 0000 0000(?![0a]))")
_CARD_CONTEXT = ("卡号", "银行卡", "账号", "帐号", "借记卡", "信用卡", "储蓄卡", "账户", "帐户", "卡")
card_context_before = context_finder(_CARD_CONTEXT, window=12)


@DETECTORS.register("bank_card")
class BankCardDetector:
    """银行卡号: 16-19 digits passing Luhn, contiguous or grouped in fours. UnionPay (62) scores
    highest; numbers that fail Luhn (order numbers) are left alone. An 18-digit number shaped
    like a 身份证 (region + birth date) counts only with a UnionPay prefix or a card context word."""

    name = "bank_card"
    version = "1.0"
    types = (PiiType.BANK_CARD,)

    def detect(self, text: str) -> list[Span]:
        text, lo, hi, shape = shape_view(text)  # the folded text (same offsets), where its digits are
        if hi - lo < 16:
            return []  # too short for any card number
        spans = []
        for m in matches_at(_CARD_RE, text, _CARD_AT.finditer(shape, lo, hi + 1), hi):
            raw = m.group()
            digits = raw.replace(" ", "").replace("-", "") if m.group("sep") else raw
            if not 16 <= len(digits) <= 19 or not luhn_ok(digits):
                continue
            score = card_score(digits)
            if score is None:
                continue
            # Shaped like a 身份证: a valid one is the ID detector's; an invalid one is most
            # likely a mistyped ID, unless it is a UnionPay number or called a card.
            if (
                len(digits) == 18
                and id_card_shape(digits)
                and (
                    valid_id18(digits)
                    or not (digits.startswith("62") or card_context_before(text, m.start()))
                )
            ):
                continue
            # The context search only where it can change the score (not for UnionPay, 0.98).
            if score < 0.95 and card_context_before(text, m.start()):
                score = 0.95
            spans.append(Span(m.start(), m.end(), PiiType.BANK_CARD, score, self.name))
        return spans


def card_score(digits: str) -> float | None:
    """How likely a Luhn-valid number is a payment card, by its issuer prefix."""
    head = digits[:2]
    if head == "62":
        return 0.98  # UnionPay
    first = digits[0]
    if first in "45":
        return 0.9  # Visa, Mastercard (51-55)
    if first == "3":
        return 0.88  # JCB, American Express, Diners
    if first == "6":
        return 0.88  # Discover, other 6-series
    if first == "2":
        return 0.85 if len(digits) == 16 and 2221 <= int(digits[:4]) <= 2720 else None
    if first == "9":
        return 0.8  # domestic 9-series debit cards (e.g. 9558...)
    return None
