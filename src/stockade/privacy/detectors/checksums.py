"""Validators of Chinese identifiers: GB 11643 (居民身份证), GB 32100 (统一社会信用代码), Luhn.

Pure functions on plain strings (no separators); each returns ``False`` rather than raising.
"""

from __future__ import annotations

import datetime as _dt
import operator

#: First two digits of a 居民身份证 region code: provinces (GB/T 2260) plus 71 台湾, 81 香港,
#: 82 澳门 and 83 (the 台湾居民居住证 prefix, 830000).
PROVINCE_CODES: frozenset[str] = frozenset(
    [str(n) for n in range(11, 16)]
    + [str(n) for n in range(21, 24)]
    + [str(n) for n in range(31, 38)]
    + [str(n) for n in range(41, 47)]
    + [str(n) for n in range(50, 55)]
    + [str(n) for n in range(61, 66)]
    + ["71", "81", "82", "83"]
)

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_VALUE = {c: i for i, c in enumerate(USCC_ALPHABET)}
_USCC_CHARS = frozenset(USCC_ALPHABET)
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
#: Registration authority (1st char) -> organization types (2nd char) of GB 32100 and its amendments.
_USCC_KINDS: dict[str, str] = {
    "1": "1239",
    "2": "19",
    "3": "123459",
    "4": "19",
    "5": "1239",
    "6": "129",
    "7": "129",
    "8": "19",
    "9": "123",
    "A": "19",
    "N": "1239",
    "Y": "1",
}


_ID_WEIGHTS_ZERO = 48 * sum(_ID_WEIGHTS)  # the weighted sum of "0" * 17 as byte values


def id_check_char(first17: str) -> str:
    """The GB 11643 check character (``0``-``9`` or ``X``) of the first 17 digits."""
    if len(first17) == 17 and first17.isascii() and first17.isdigit():  # the usual case, no Python loop
        # On the byte values (ord("0") == 48), with the weighted sum of the 48s taken off.
        total = sum(map(operator.mul, first17.encode(), _ID_WEIGHTS)) - _ID_WEIGHTS_ZERO
    else:
        total = sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


_EARLIEST_BIRTH = _dt.date(1900, 1, 1)
# A day known to be today or earlier: a date up to it needs no clock read (the clock only moves on).
_known_past = _dt.date.today()


def valid_birth_date(yyyymmdd: str, today: _dt.date | None = None) -> bool:
    """A real calendar date from 1900-01-01 up to today."""
    global _known_past
    try:
        born = _dt.date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:8]))
    except ValueError:
        return False
    if today is not None:
        return _EARLIEST_BIRTH <= born <= today
    if born <= _known_past:
        return born >= _EARLIEST_BIRTH
    _known_past = _dt.date.today()
    return born <= _known_past


def id_card_shape(digits: str) -> bool:
    """18 characters whose region and birth date are plausible (check digit not verified)."""
    return (
        len(digits) == 18
        and digits[:17].isdigit()
        and digits[:2] in PROVINCE_CODES
        and valid_birth_date(digits[6:14])
    )


def valid_id18(number: str) -> bool:
    """A full GB 11643 check: region, birth date and check character (``x`` accepted as ``X``)."""
    return id_card_shape(number) and id_check_char(number[:17]) == number[17].upper()


def valid_id15(number: str) -> bool:
    """A legacy 15-digit number: region and a 19YYMMDD birth date (it has no check digit)."""
    return (
        len(number) == 15
        and number.isdigit()
        and number[:2] in PROVINCE_CODES
        and valid_birth_date("19" + number[6:12])
    )


# Each digit (as a byte) -> the digit of its Luhn double (2d, less 9 when over 9).
_LUHN_DOUBLED = bytes.maketrans(b"0123456789", b"0246813579")


def luhn_ok(digits: str) -> bool:
    """The Luhn (mod 10) check used by payment cards."""
    if digits.isascii() and digits.isdigit():  # the usual case: sums of byte values, no Python loop
        # Doubled: every second digit from the right one's left neighbour, that is the digits at
        # the positions of the other parity than the last one (len - 1); no reversed copy needed.
        raw = digits.encode()
        odd = len(raw) & 1
        total = sum(raw[1 - odd :: 2]) + sum(raw[odd::2].translate(_LUHN_DOUBLED))
        return (total - 48 * len(raw)) % 10 == 0  # ord("0") == 48
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def uscc_check_char(first17: str) -> str:
    """The GB 32100 check character of the first 17 characters."""
    if len(first17) != 17:
        raise ValueError(f"uscc_check_char needs 17 characters, got {len(first17)}")
    total = sum(map(operator.mul, map(_USCC_VALUE.__getitem__, first17), _USCC_WEIGHTS))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def valid_uscc(code: str) -> bool:
    """An 18-character 统一社会信用代码: alphabet, kind, region prefix and check character."""
    if len(code) != 18 or not _USCC_CHARS.issuperset(code):
        return False
    if code[1] not in _USCC_KINDS.get(code[0], ""):
        return False
    region = code[2:8]
    if not region.isdigit() or (region[:2] not in PROVINCE_CODES and region[:2] != "10"):
        return False
    return uscc_check_char(code[:17]) == code[17]
