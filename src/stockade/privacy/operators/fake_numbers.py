"""Format-preserving fakes of Chinese numbers, each with a valid check character.

Every generator takes the original value, an ``Rng`` and the parameters, and returns the fake
(or ``None`` when the value does not have the expected shape; ``scramble`` then takes over).
Separators, grouping, prefixes and case stay where they were: only the characters that carry
the identity are redrawn, and draws depend on the canonical value only, so formatting variants
of one number get the same digits.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING

from stockade.privacy.operators.checksums import (
    GB32100_ALPHABET,
    gb11643_check,
    gb11714_check,
    gb32100_check,
    luhn_check_digit,
)
from stockade.privacy.operators.derive import DIGITS, Rng, aligned, fill

if TYPE_CHECKING:
    from stockade.privacy.operators.pseudonym import PseudonymParams

# Real county-level administrative division codes (GB/T 2260), one or more per province.
REGION_CODES = (
    "110101", "110102", "110105", "110108", "120101", "120103", "130102", "130104", "140105",
    "140106", "150102", "150105", "210102", "210103", "220102", "220104", "230102", "230103",
    "310101", "310104", "310105", "310115", "320102", "320106", "320505", "330102", "330106",
    "330203", "340102", "340104", "350102", "350203", "360102", "360103", "370102", "370202",
    "410105", "410102", "420102", "420106", "430102", "430104", "440103", "440104", "440106",
    "440304", "440305", "450102", "450103", "460105", "460106", "500103", "500106", "510104",
    "510107", "520102", "520103", "530102", "530103", "540102", "610103", "610113", "620102",
    "620103", "630102", "630103", "640104", "640105", "650102", "650103",
)  # fmt: skip

# Mobile number segments in use (China Mobile, Unicom, Telecom, Broadnet).
MOBILE_PREFIXES = (
    "130", "131", "132", "133", "134", "135", "136", "137", "138", "139", "145", "147", "150",
    "151", "152", "153", "155", "156", "157", "158", "159", "166", "172", "173", "175", "176",
    "177", "178", "180", "181", "182", "183", "184", "185", "186", "187", "188", "189", "191",
    "193", "195", "196", "197", "198", "199",
)  # fmt: skip

_BIRTH_18 = (dt.date(1950, 1, 1).toordinal(), dt.date(2005, 12, 31).toordinal())
_BIRTH_15 = (dt.date(1930, 1, 1).toordinal(), dt.date(1999, 12, 31).toordinal())
_EXTENSION = re.compile(r"转|分机|ext|[x#]", re.IGNORECASE)


def _slots(text: str, allowed: str) -> list[int]:
    return [index for index, char in enumerate(text) if char in allowed]


def _birth(rng: Rng, bounds: tuple[int, int]) -> dt.date:
    return dt.date.fromordinal(bounds[0] + rng.below(bounds[1] - bounds[0] + 1))


def fake_id_card(value: str, rng: Rng, params: PseudonymParams) -> str | None:
    """18 digits: real region code, valid birth date, sequence, GB 11643 check ('x' stays lower);
    15 digits (legacy): region, YYMMDD, sequence."""
    text = aligned(value)
    positions = _slots(text, DIGITS + "Xx")
    core = "".join(text[i] for i in positions)
    if len(core) == 18 and core[:17].isdigit():
        birth = _birth(rng, _BIRTH_18).strftime("%Y%m%d")
        body = rng.choice(REGION_CODES) + birth + f"{1 + rng.below(999):03d}"
        check = gb11643_check(body)
        if check == "X" and core[17] == "x":
            check = "x"
        return fill(value, positions, body + check)
    if len(core) == 15 and core.isdigit():
        birth = _birth(rng, _BIRTH_15).strftime("%y%m%d")
        body = rng.choice(REGION_CODES) + birth + f"{1 + rng.below(999):03d}"
        return fill(value, positions, body)
    return None


def fake_mobile(value: str, rng: Rng, params: PseudonymParams) -> str | None:
    """The last 11 digits become a number of a real segment; a +86/0086 prefix and every
    separator stay."""
    text = aligned(value)
    positions = _slots(text, DIGITS)
    if len(positions) < 11:
        return None
    fake = rng.choice(MOBILE_PREFIXES) + rng.digits(8)
    return fill(value, positions[-11:], fake)


def fake_landline(value: str, rng: Rng, params: PseudonymParams) -> str | None:
    """Country code and area code stay; the subscriber number (first digit 2-9) and the
    extension digits are redrawn with their lengths and separators (转, -, ext...)."""
    text = aligned(value)
    positions = _slots(text, DIGITS)
    digits = "".join(text[i] for i in positions)
    if len(digits) < 5:
        return None
    lead = text.lstrip()
    start = 2 if lead.startswith("+86") else 4 if lead.startswith("0086") else 0
    if start < len(digits) and digits[start] == "0":
        start += 3 if digits[start + 1 : start + 2] in ("1", "2") else 4
    elif start:
        start += 2 if digits[start] in "12" else 3
    if start >= len(digits):
        return None
    marker = _EXTENSION.search(text, positions[start])
    if marker:
        subscriber = sum(1 for p in positions[start:] if p < marker.start())
    elif len(digits) - start <= 8:
        subscriber = len(digits) - start
    else:

        def boundary(k: int) -> bool:
            return positions[start + k] != positions[start + k - 1] + 1

        subscriber = 8 if boundary(8) else 7 if boundary(7) else 8
    if subscriber < 3:
        return None
    extension = len(digits) - start - subscriber
    fake = rng.choice("23456789") + rng.digits(subscriber - 1) + rng.digits(extension)
    return fill(value, positions[start:], fake)


def fake_bank_card(value: str, rng: Rng, params: PseudonymParams) -> str | None:
    """The BIN (first 6 digits, the issuer) and the length stay; the account digits are redrawn
    and the last digit is a valid Luhn check digit."""
    text = aligned(value)
    positions = _slots(text, DIGITS)
    if len(positions) < 12:
        return None
    bin_ = "".join(text[i] for i in positions[:6])
    payload = bin_ + rng.digits(len(positions) - 7)
    return fill(value, positions, payload + luhn_check_digit(payload))


def fake_uscc(value: str, rng: Rng, params: PseudonymParams) -> str | None:
    """Registration authority, entity type and region (first 8) stay; a fake organization code
    with its GB 11714 check and a valid GB 32100 check character follow."""
    text = aligned(value)
    positions = [i for i, char in enumerate(text) if char.isascii() and char.isalnum()]
    core = "".join(text[i] for i in positions).upper()
    if len(core) != 18 or any(char not in GB32100_ALPHABET for char in core[:8]):
        return None
    organization = rng.digits(8)
    first17 = core[:8] + organization + gb11714_check(organization)
    fake = first17 + gb32100_check(first17)
    return fill(value, positions[8:], fake[8:])


def fake_document_number(value: str, rng: Rng, params: PseudonymParams) -> str | None:
    """Passports and HK/Macao permits: letters (the document-type prefix) stay, digits are redrawn."""
    text = aligned(value)
    positions = _slots(text, DIGITS)
    if not positions:
        return None
    return fill(value, positions, rng.digits(len(positions)))
