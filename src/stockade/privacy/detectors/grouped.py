"""Identifiers written in groups that the fixed patterns do not know: ``131，2345，2577``,
``620 123456 789 7036``, an ID read out in groups of four (``1101 0519 9001 0112 3x``), digits
separated by pauses or full-width spaces in a transcript.

The normalised view (:func:`~stockade.privacy.detectors._base.fold_fullwidth`) has already turned
full-width digits, ideographic spaces and spoken numerals into ASCII; this detector takes every run
of two or more digit groups joined by one short separator (space, comma, 、, hyphen, slash), and
tries each contiguous sequence of whole groups as an identifier: the digits are joined (the offset
of each group is kept, so the span covers the original characters, separators included) and the
checksums decide — GB 11643 for an 18-character ID, Luhn plus an issuer prefix for a card. Only
the mobile number has no checksum: 11 digits ``1[3-9]…`` count when the grouping is not the
thousands grouping of an amount (``13,812,345,678``).
"""

from __future__ import annotations

import re

from stockade.privacy.detectors._base import DETECTORS, context_before, digit_window, fold_fullwidth
from stockade.privacy.detectors.checksums import id_card_shape, luhn_ok, valid_id18
from stockade.privacy.detectors.numbers import card_score
from stockade.privacy.spans import PiiType, Span

_SEP = r"(?:[ ,，、/\-－—]|, |， |、 | - )"
# Not followed by a decimal part or an amount's unit (… 13.1亿元, … 200万): the last group is a number.
_RUN_RE = re.compile(
    r"[0-9](?<![0-9A-Za-z.][0-9])[0-9]*(?:"
    + _SEP
    + r"[0-9]+)+(?:[Xx])?(?![0-9A-Za-z]|\.[0-9]|[万亿元千百%％])"
)
_GROUP_RE = re.compile(r"[0-9]+[Xx]?")
_MAX_GROUPS = 12
_CC = ("86", "0086")
_CARD_CONTEXT = ("卡号", "银行卡", "账号", "帐号", "借记卡", "信用卡", "储蓄卡", "账户", "帐户", "卡")
_AREA_RE = re.compile(r"0(?:10|2[0-9]|[3-9][0-9]{2})")


def _thousands(run: str, groups: list[re.Match[str]]) -> bool:
    """``1,234,567``: an amount, not an identifier."""
    if len(groups[0].group()) > 3 or any(len(g.group()) != 3 for g in groups[1:]):
        return False
    return "," in run or "，" in run or "." in run


@DETECTORS.register("grouped_number")
class GroupedNumberDetector:
    """居民身份证, 银行卡号, 手机号 and 固定电话 written in irregular groups (pauses, commas,
    full-width or spoken digits): whole groups are joined and checked by checksum."""

    name = "grouped_number"
    version = "1.0"
    types = (PiiType.ID_CARD, PiiType.BANK_CARD, PiiType.MOBILE, PiiType.LANDLINE)

    def detect(self, text: str) -> list[Span]:
        text = fold_fullwidth(text)  # same offsets
        spans: list[Span] = []
        for m in _RUN_RE.finditer(text, *digit_window(text)):
            run = m.group()
            if len(run) < 11:
                continue  # fewer than ten digits: no identifier here (dates, times, amounts)
            groups = list(_GROUP_RE.finditer(run))
            if len(groups) < 2 or len(groups) > _MAX_GROUPS or _thousands(run, groups):
                continue
            base = m.start()
            parts = [g.group() for g in groups]
            last = len(parts) - 1
            for i in range(len(parts)):
                digits = ""
                for j in range(i, len(parts)):
                    part = parts[j]
                    if j < last and not part.isdigit():
                        break  # an X inside the run
                    if len(part) > 12:
                        break  # a whole number of its own (订单6228443646881674 200万), not a piece
                    digits += part
                    n = len(digits)
                    if n > 19:
                        break
                    if j == i:
                        continue  # one group alone is the plain detectors' business
                    # No checksum protects a phone number: it must be the whole run (after a
                    # country code), not a slice of a longer number.
                    whole = j == last and (i == 0 or (i == 1 and parts[0] in _CC))
                    if n < 16 and not (whole and n >= 10):
                        continue  # no identifier has this many digits here
                    found = self._classify(text, base + groups[i].start(), digits, whole, j - i + 1)
                    if found is not None:
                        pii_type, score = found
                        spans.append(
                            Span(base + groups[i].start(), base + groups[j].end(), pii_type, score, self.name)
                        )
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
                if context_before(text, start, _CARD_CONTEXT, window=12):
                    score = max(score, 0.95)
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
