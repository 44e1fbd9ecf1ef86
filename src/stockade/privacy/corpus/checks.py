"""Validators the corpus generator uses on what it plants, written independently of the detectors.

Every planted value must pass the validator of its type, and every decoy must fail all of them:
a decoy that happens to be a valid card number or ID would make the benchmark punish a correct
detector. The detectors have their own implementations; these exist only to keep the corpus honest.
"""

from __future__ import annotations

import datetime as _dt
import ipaddress
import re

from stockade.privacy.spans import PiiType

# GB 11643-1999: first two digits of a resident ID are a province-level code.
PROVINCE_CODES: frozenset[str] = frozenset(
    str.split(
        "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54 61 62 63 64 65 "
        "71 81 82"
    )
)
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)  # GB 11714 organization code

MOBILE_RE = re.compile(r"1(?:3\d|4[5-9]|5[0-35-9]|6[2567]|7[0-8]|8\d|9[0-35-9])\d{8}")
PLATE_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
PLATE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # no I, no O
_PLATE_RE = re.compile(
    rf"[{PLATE_PROVINCES}][{PLATE_LETTERS}][·• ]?"
    rf"(?:[DF][{PLATE_LETTERS}0-9]\d{{4}}|\d{{5}}[DF]|[{PLATE_LETTERS}0-9]{{5}})"
)
_EMAIL_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._%+-]*[A-Za-z0-9])?@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")


def id_check_char(first17: str) -> str:
    """The GB 11643 check character of the first 17 digits of an 18-digit resident ID."""
    return ID_CHECK[sum(int(c) * w for c, w in zip(first17, ID_WEIGHTS, strict=False)) % 11]


def _is_date(yyyymmdd: str) -> bool:
    try:
        day = _dt.date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:8]))
    except ValueError:
        return False
    return _dt.date(1900, 1, 1) <= day <= _dt.date(2025, 12, 31)


def id18_valid(value: str) -> bool:
    v = value.upper()
    return (
        len(v) == 18
        and v[:17].isdigit()
        and v[:2] in PROVINCE_CODES
        and _is_date(v[6:14])
        and id_check_char(v[:17]) == v[17]
    )


def id15_valid(value: str) -> bool:
    """Legacy 15-digit ID: region, YYMMDD (19YY), 3-digit sequence, no check digit."""
    return (
        len(value) == 15 and value.isdigit() and value[:2] in PROVINCE_CODES and _is_date("19" + value[6:12])
    )


def luhn_valid(digits: str) -> bool:
    if not digits.isdigit():
        return False
    total = 0
    for position, char in enumerate(reversed(digits)):
        d = int(char)
        if position % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def luhn_check_digit(body: str) -> str:
    """The digit that makes ``body + digit`` pass Luhn."""
    for d in "0123456789":
        if luhn_valid(body + d):
            return d
    raise AssertionError("unreachable")


def org_code_check(body8: str) -> str:
    """GB 11714 check character of an 8-character organization code body."""
    total = sum(int(c, 36) * w for c, w in zip(body8, ORG_WEIGHTS, strict=False))
    check = 11 - total % 11
    return {10: "X", 11: "0"}.get(check, str(check))


def uscc_check_char(first17: str) -> str:
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(first17, USCC_WEIGHTS, strict=False))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def uscc_valid(value: str) -> bool:
    return (
        len(value) == 18
        and all(c in USCC_ALPHABET for c in value)
        and uscc_check_char(value[:17]) == value[17]
    )


def digits_of(value: str) -> str:
    return re.sub(r"[^0-9Xx]", "", value)


def is_valid(pii_type: PiiType, value: str) -> bool:
    """Does the planted ``value`` (as written, separators included) pass the validator of its type?"""
    compact = re.sub(r"[\s\-·•()（）]", "", value)
    if pii_type is PiiType.ID_CARD:
        return id18_valid(compact) or id15_valid(compact)
    if pii_type is PiiType.MOBILE:
        return MOBILE_RE.fullmatch(compact) is not None
    if pii_type is PiiType.LANDLINE:
        return re.fullmatch(r"0[1-9]\d{1,2}[2-8]\d{6,7}", compact) is not None and len(compact) in (
            10,
            11,
            12,
        )
    if pii_type is PiiType.BANK_CARD:
        return 16 <= len(compact) <= 19 and luhn_valid(compact)
    if pii_type is PiiType.USCC:
        return uscc_valid(value)
    if pii_type is PiiType.PASSPORT:
        return re.fullmatch(r"E\d{8}", value) is not None
    if pii_type is PiiType.HK_MACAO_PERMIT:
        return re.fullmatch(r"C\d{8}|[HM](?:\d{8}|\d{10})", value) is not None
    if pii_type is PiiType.EMAIL:
        return _EMAIL_RE.fullmatch(value) is not None
    if pii_type is PiiType.IPV4:
        return _parses(value, ipaddress.IPv4Address)
    if pii_type is PiiType.IPV6:
        return _parses(value, ipaddress.IPv6Address)
    if pii_type is PiiType.LICENSE_PLATE:
        return _PLATE_RE.fullmatch(value) is not None
    return bool(value.strip())  # PERSON, ADDRESS: no checksum to verify


def _parses(value: str, kind: type) -> bool:
    try:
        kind(value)
    except ValueError:
        return False
    return True


def looks_like_pii(value: str) -> str | None:
    """Why ``value`` (a decoy) would pass some validator, or None when it passes none."""
    for run in re.findall(r"\d[\dXx]*", value):
        if len(run) == 18 and id18_valid(run):
            return "valid 18-digit ID"
        if len(run) == 15 and id15_valid(run):
            return "valid 15-digit ID"
        if 16 <= len(run) <= 19 and luhn_valid(run):
            return "Luhn-valid card number"
        if MOBILE_RE.fullmatch(run):
            return "mobile number"
    for token in re.findall(r"[0-9A-Z]{18}", value):
        if uscc_valid(token):
            return "valid USCC"
    if re.search(r"(?<![A-Za-z0-9])(?:[EC]\d{8}|[HM]\d{8}(?:\d{2})?)(?!\d)", value):
        return "passport/permit pattern"
    if re.search(r"(?<![\d.])\d{1,3}(?:\.\d{1,3}){3}(?![\d.])", value):
        return "IPv4 pattern"
    return None
