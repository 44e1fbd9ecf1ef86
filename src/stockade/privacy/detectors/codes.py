"""Alphanumeric identifiers: 统一社会信用代码, 护照, 港澳通行证/回乡证, 车牌号."""

from __future__ import annotations

import re

from stockade.privacy.detectors._base import (
    DETECTORS,
    END,
    context_finder,
    fold_fullwidth,
    has_digit,
    matches_at,
    shape_view,
)
from stockade.privacy.detectors.checksums import id_card_shape, valid_uscc
from stockade.privacy.spans import PiiType, Span

# ---------------------------------------------------------------------------------------------
# 统一社会信用代码 (GB 32100)
# ---------------------------------------------------------------------------------------------

_U = "0-9A-HJ-NPQRTUWXY"  # the 31-character alphabet: no I, O, S, V, Z
_U = _U + "a-hj-npqrtuwxy"  # check characters are sometimes typed in lower case
_USCC_RE = re.compile(f"[{_U}](?<![0-9A-Za-z][{_U}])[{_U}][0-9]{{6}}[{_U}]{{10}}" + END)
# Where a code can start, on the text's shape (see ascii_shape): a token of exactly 18 ASCII letters
# and digits with digits in places 3-8, found from those six digits (a fast literal search); a match
# at index k of the shape is a code starting at k - 3 in the text. "Not a fourth letter or digit
# before" is one lookbehind for a space (the shape has only "0", "a" and spaces, and starts with a
# space): 1.6x faster than a second, negative lookbehind at every six digits of a long number.
_USCC_AT = re.compile(rb"000000(?<= [0a][0a]000000)[0a]{10}(?![0a])")
_USCC_CONTEXT = ("信用代码", "社会信用", "税号", "纳税人识别号", "纳税识别号", "USCC", "营业执照", "注册号")
_uscc_context_before = context_finder(_USCC_CONTEXT, window=20)


@DETECTORS.register("uscc")
class UsccDetector:
    """统一社会信用代码: 18 characters of the GB 32100 alphabet with its mod-31 check character,
    a known registration-authority/kind pair and a province region prefix. An all-digit code
    shaped like a 身份证 (region + birth date) needs a context word such as 信用代码 nearby."""

    name = "uscc"
    version = "1.0"
    types = (PiiType.USCC,)

    def detect(self, text: str) -> list[Span]:
        text, lo, hi, shape = shape_view(text)  # the folded text (same offsets), where its digits are
        if hi - lo < 18:
            return []
        spans = []
        for m in matches_at(_USCC_RE, text, _USCC_AT.finditer(shape, lo, hi + 1), hi, back=3):
            code = m.group().upper()
            if not valid_uscc(code):
                continue
            context = _uscc_context_before(text, m.start())
            if code.isdigit():
                if id_card_shape(code) and not context:
                    continue  # most likely a 身份证 with a wrong check digit
                score = 0.97 if context else 0.9
            else:
                score = 0.99 if context else 0.97
            spans.append(Span(m.start(), m.end(), PiiType.USCC, score, self.name))
        return spans


# ---------------------------------------------------------------------------------------------
# 护照
# ---------------------------------------------------------------------------------------------

# Chinese ordinary passports: G + 8 digits (before 2012), E + 8 digits (e-passport), and since the
# E-series ran out E + letter (not I/O) + 7 digits. Diplomatic/service/public-affairs passports
# (D, S, P, DE, SE, PE + 7 digits) and foreign passports (1-2 letters + 6-9 digits) count only
# next to a context word such as 护照.
_PASSPORT_RE = re.compile(
    r"[A-Z](?<![0-9A-Za-z][A-Z])(?:"
    r"(?<=[EG])[0-9]{8}"
    r"|(?<=E)[A-HJ-NP-Z][0-9]{7}"
    r"|(?P<ctx>[A-Z]?[0-9]{6,9})"
    r")" + END
)
_PASSPORT_CONTEXT = ("护照", "passport", "Passport", "PASSPORT", "旅行证件")
_passport_context_before = context_finder(_PASSPORT_CONTEXT, window=12)


# A letter then six digits, on the text's shape: every passport and permit number has one, at its
# start or (a second letter first: E + letter + 7 digits, C + letter + 7 digits) one character in.
_LETTER_DIGITS_AT = re.compile(rb"a000000")


def _letter_digits_matches(
    pattern: re.Pattern[str], text: str, lo: int, hi: int, shape: bytes
) -> list[re.Match[str]]:
    """``pattern.finditer(text, lo, hi)`` for a letter + digits identifier, tried only where the
    ``shape`` of ``text`` (shape[k] is text[k - 1]) has a letter and six digits: from the letter,
    or from the letter before it."""
    found = []
    end = 0
    for hit in _LETTER_DIGITS_AT.finditer(shape, lo, hi + 1):
        start = hit.start() - 1
        if shape[start] == 97:  # 97: b"a", a second letter first
            start -= 1
        if start >= end:
            m = pattern.match(text, start, hi)
            if m is not None:
                found.append(m)
                end = m.end()
    return found


@DETECTORS.register("passport")
class PassportDetector:
    """护照号: Chinese E/G + 8 digits and E + letter + 7 digits (any context, higher score next
    to 护照); other letter+digit passport numbers only right after 护照/passport."""

    name = "passport"
    version = "1.0"
    types = (PiiType.PASSPORT,)

    def detect(self, text: str) -> list[Span]:
        text, lo, hi, shape = shape_view(text)  # the folded text (same offsets), where its digits are
        if hi - lo < 7:
            return []
        spans = []
        for m in _letter_digits_matches(_PASSPORT_RE, text, lo, hi, shape):
            context = _passport_context_before(text, m.start())
            if m.group("ctx") is not None:
                if not context:
                    continue
                score = 0.85
            else:
                score = 0.97 if context else 0.8
            spans.append(Span(m.start(), m.end(), PiiType.PASSPORT, score, self.name))
        return spans


# ---------------------------------------------------------------------------------------------
# 往来港澳通行证 / 港澳居民来往内地通行证 (回乡证)
# ---------------------------------------------------------------------------------------------

# 往来港澳通行证 (mainland residents): C + 8 digits, or C + letter (not I/O) + 7 digits.
# 回乡证 (HK / Macao residents): H or M + 8 digits, or the older 10 digits (8 + 2 issue count).
_PERMIT_RE = re.compile(
    r"[CHM](?<![0-9A-Za-z][CHM])(?:(?<=C)(?:[0-9]{8}|[A-HJ-NP-Z][0-9]{7})|(?<=[HM])[0-9]{8}(?:[0-9]{2})?)"
    + END
)
_PERMIT_CONTEXT = ("通行证", "回乡证", "港澳", "来往内地", "往来", "Permit", "permit", "PERMIT")
_permit_context_before = context_finder(_PERMIT_CONTEXT, window=16)


@DETECTORS.register("hk_macao_permit")
class HkMacaoPermitDetector:
    """港澳通行证号: 往来港澳通行证 C + 8 digits (or C + letter + 7 digits); 回乡证 H/M + 8 or 10
    digits. Context words (通行证, 回乡证, 港澳) raise the score."""

    name = "hk_macao_permit"
    version = "1.0"
    types = (PiiType.HK_MACAO_PERMIT,)

    def detect(self, text: str) -> list[Span]:
        text, lo, hi, shape = shape_view(text)  # the folded text (same offsets), where its digits are
        if hi - lo < 9:
            return []
        spans = []
        for m in _letter_digits_matches(_PERMIT_RE, text, lo, hi, shape):
            context = _permit_context_before(text, m.start())
            score = 0.97 if context else 0.8
            spans.append(Span(m.start(), m.end(), PiiType.HK_MACAO_PERMIT, score, self.name))
        return spans


# ---------------------------------------------------------------------------------------------
# 车牌号
# ---------------------------------------------------------------------------------------------

PLATE_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_L = "A-HJ-NP-Za-hj-np-z"  # plate letters exclude I and O; typed in lower case too (津e12345)
_PLATE_RE = re.compile(
    f"[{PLATE_PROVINCES}][{_L}](?P<sep>[·•・ -]?)"
    r"(?:"
    f"[DFdf][{_L}0-9][0-9]{{4}}"  # small new-energy: D/F, letter or digit, 4 digits
    f"|[0-9]{{5}}[DFdf]"  # large new-energy: 5 digits, D/F
    f"|(?P<serial>[{_L}0-9]{{5}})"  # ordinary: 5 letters/digits (at most 2 letters, checked below)
    f"|[{_L}0-9]{{4}}[挂学警港澳领使]"  # trailers, driving schools, police, HK/Macao
    r")" + END
)
_PLATE_CONTEXT = ("车牌", "号牌", "车辆", "牌照", "车号")
_plate_context_before = context_finder(_PLATE_CONTEXT, window=10)


@DETECTORS.register("license_plate")
class LicensePlateDetector:
    """车牌号: province abbreviation + letter + 5 characters (ordinary, at most 2 letters),
    6 (new-energy: D/F first or last) or 4 + 挂/学/警/港/澳; optional ·, space or hyphen."""

    name = "license_plate"
    version = "1.0"
    types = (PiiType.LICENSE_PLATE,)

    def detect(self, text: str) -> list[Span]:
        text = fold_fullwidth(text)  # same offsets
        if not has_digit(text):
            return []
        spans = []
        for m in _PLATE_RE.finditer(text):
            serial = m.group("serial")
            if serial is not None and sum(map(str.isalpha, serial)) > 2:  # (map: no generator frames)
                continue
            score = 0.97 if _plate_context_before(text, m.start()) else 0.9
            spans.append(Span(m.start(), m.end(), PiiType.LICENSE_PLATE, score, self.name))
        return spans
