"""Check-digit validators a policy's custom types can name (``validator: luhn``).

Written by hand rather than taken from python-stdnum: each is a few lines of a published
algorithm, the tests check them against published examples, and one small module is easier to
ship into a closed network (and to audit) than a dependency of several hundred number formats
of which five would be used.

Each validator takes the matched text (or its ``check`` group) and reads only the characters its
algorithm is defined on: ``luhn`` its digits, ``mod11`` its digits and a final ``X``, the others
its ASCII letters (either case) and digits; spaces, hyphens, prefixes such as ``KH`` in front of
digits are skipped by ``luhn`` and ``mod11``. Too few characters is invalid.

* ``luhn`` — ISO/IEC 7812-1 (bank cards): ``79927398713`` is valid.
* ``mod11`` — ISO 7064 MOD 11-2, the check character of GB 11643 (居民身份证): the last character
  (``0``-``9`` or ``X`` for 10) makes the weighted sum ≡ 1 (mod 11).
* ``iso7064_mod97`` — ISO 7064 MOD 97-10 with the two check digits last (letters count as
  10..35): the whole number ≡ 1 (mod 97).
* ``iban`` — ISO 13616: MOD 97-10 after moving the country code and check digits to the end
  (``GB82WEST12345698765432``).
* ``iso7064_mod37_36`` — ISO 7064 MOD 37,36 (hybrid system over ``0-9A-Z``, one check character
  last), as used by ISAN and other alphanumeric identifiers.
* ``none`` — the pattern alone decides.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from stockade.privacy.detectors.checksums import luhn_ok

_ALNUM36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_NOT_DIGIT = re.compile(r"[^0-9]+")
_NOT_ALNUM = re.compile(r"[^0-9A-Za-z]+")


def luhn_valid(text: str) -> bool:
    digits = _NOT_DIGIT.sub("", text)
    return len(digits) >= 2 and luhn_ok(digits)  # the bank-card detector's own Luhn


def mod11_2_valid(text: str) -> bool:
    """ISO 7064 MOD 11-2 (pure system, radix 2): ``check = (2 * check + value) mod 11`` ends at 1."""
    chars = re.sub(r"[^0-9Xx]+", "", text).upper()
    if len(chars) < 2 or "X" in chars[:-1]:
        return False
    check = 0
    for char in chars:
        check = (2 * check + (10 if char == "X" else int(char))) % 11
    return check == 1


def mod97_10_valid(text: str) -> bool:
    """ISO 7064 MOD 97-10: letters become 10..35, the resulting number ≡ 1 (mod 97)."""
    chars = _NOT_ALNUM.sub("", text).upper()
    if len(chars) < 3:
        return False
    return int("".join(str(_ALNUM36.index(char)) for char in chars)) % 97 == 1


def iban_valid(text: str) -> bool:
    """ISO 13616: two letters, two check digits, the account; MOD 97-10 of ``account + CC + check``."""
    chars = _NOT_ALNUM.sub("", text).upper()
    if len(chars) < 5 or not chars[:2].isalpha() or not chars[2:4].isdigit():
        return False
    return mod97_10_valid(chars[4:] + chars[:4])


def mod37_36_valid(text: str) -> bool:
    """ISO 7064 MOD 37,36 (hybrid system): ``s = (p + value) mod 36``, ``p = (s or 36) * 2 mod 37``,
    starting from ``p = 36`` and ending at ``s = 1``."""
    chars = _NOT_ALNUM.sub("", text).upper()
    if len(chars) < 2:
        return False
    check = 18  # the s whose p = 18 * 2 mod 37 is the initial 36
    for char in chars:
        check = ((check or 36) * 2 % 37 + _ALNUM36.index(char)) % 36
    return check == 1


def _always(text: str) -> bool:
    return True


#: Validators by the name a policy uses.
VALIDATORS: dict[str, Callable[[str], bool]] = {
    "luhn": luhn_valid,
    "mod11": mod11_2_valid,
    "iso7064_mod97": mod97_10_valid,
    "iban": iban_valid,
    "iso7064_mod37_36": mod37_36_valid,
    "none": _always,
}
