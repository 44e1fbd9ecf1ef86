"""Deterministic randomness for ``pseudonym``: everything it invents comes from an HMAC stream.

``Rng(secret, type, normalized, counter)`` is a stream of uniform draws keyed by the workspace
secret and seeded by the value's canonical form, so the same value gets the same fake in every
record, run and process, without a lookup table, and without the key nobody can link a fake
to its original.
"""

from __future__ import annotations

import hashlib
import hmac
import unicodedata
from collections.abc import Sequence
from functools import cache
from importlib import resources

from stockade.privacy.spans import PiiType

_DOMAIN = b"stockade.pseudonym\x00"
DIGITS = "0123456789"
UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
LOWER = "abcdefghijklmnopqrstuvwxyz"


class Rng:
    """Uniform draws from HMAC-SHA256(secret, domain | type | counter | block | value)."""

    __slots__ = ("_block", "_key", "_message", "_message_tail", "_pool", "_span")

    def __init__(self, secret: bytes, pii_type: PiiType, normalized: str, counter: int) -> None:
        self._key = secret
        self._message = _DOMAIN + f"{pii_type.value}\x00{counter}\x00".encode()
        self._message_tail = normalized.encode()
        self._block = 0
        self._pool = 0
        self._span = 1

    def _refill(self) -> None:
        message = self._message + self._block.to_bytes(4, "big") + b"\x00" + self._message_tail
        digest = hmac.new(self._key, message, hashlib.sha256).digest()
        self._pool = (self._pool << 256) | int.from_bytes(digest, "big")
        self._span <<= 256
        self._block += 1

    def below(self, n: int) -> int:
        """A draw from ``range(n)`` (bias below 2**-64)."""
        if self._span < n << 64:
            self._refill()
        self._pool, result = divmod(self._pool, n)
        self._span //= n
        return result

    def choice(self, items: Sequence[str]) -> str:
        return items[self.below(len(items))]

    def digits(self, count: int) -> str:
        return "".join(DIGITS[self.below(10)] for _ in range(count))

    def hex(self, count: int) -> str:
        return f"{self.below(16**count):0{count}x}"


def aligned(value: str) -> str:
    """``value`` with each character replaced by its NFKC form when that is one character: the
    indexes still match ``value``, and full-width digits/letters read as ASCII."""
    if value.isascii():
        return value
    out = []
    for char in value:
        folded = unicodedata.normalize("NFKC", char)
        out.append(folded if len(folded) == 1 else char)
    return "".join(out)


def fill(value: str, positions: Sequence[int], chars: str) -> str:
    """``value`` with ``chars[k]`` written at ``positions[k]``; everything else untouched."""
    out = list(value)
    for position, char in zip(positions, chars, strict=True):
        out[position] = char
    return "".join(out)


def is_cjk(char: str) -> bool:
    return "\u3400" <= char <= "\u9fff" or "\uf900" <= char <= "\ufaff"


def scramble(value: str, rng: Rng) -> str:
    """The last resort for a value of no known shape: digits, letters (case kept) and CJK
    characters are replaced one for one; everything else stays."""
    out = []
    for char in aligned(value):
        if char in DIGITS:
            out.append(rng.choice(DIGITS))
        elif "A" <= char <= "Z":
            out.append(rng.choice(UPPER))
        elif "a" <= char <= "z":
            out.append(rng.choice(LOWER))
        elif is_cjk(char):
            out.append(rng.choice(given_chars()))
        else:
            out.append(char)
    return "".join(out)


@cache
def _words(name: str) -> tuple[str, ...]:
    text = resources.files(__package__).joinpath("resources", name).read_text(encoding="utf-8")
    return tuple(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))


def surnames() -> tuple[str, ...]:
    return _words("surnames.txt")


def compound_surnames() -> tuple[str, ...]:
    return _words("compound_surnames.txt")


def given_chars() -> tuple[str, ...]:
    return _words("given_chars.txt")


def transliteration_chars() -> tuple[str, ...]:
    return _words("transliteration_chars.txt")


def english_given_names() -> tuple[str, ...]:
    return _words("english_given_names.txt")


def english_surnames() -> tuple[str, ...]:
    return _words("english_surnames.txt")


def nfkc_text(value: str) -> str:
    return value if value.isascii() else unicodedata.normalize("NFKC", value)
