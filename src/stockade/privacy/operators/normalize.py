"""The canonical form of a value, so that its formatting variants hash and pseudonymise alike.

All types: Unicode NFKC (full-width digits and letters become ASCII, the ideographic space a space).

* numbers (ID card, mobile, landline, bank card, USCC, passport, HK/Macao permit): spaces,
  hyphens/dashes, dots, slashes and brackets are dropped and letters uppercased
  (``110101199003071234x`` = ``110101 19900307 123 4X``); a mobile loses its ``+86``/``0086``/``86``
  country code; a landline's ``+86``/``0086`` becomes the trunk ``0`` and extension markers
  (转, 分机, ext, x, #) are dropped, leaving digits only.
* email: surrounding space dropped, lowercased.
* IPv4: octets without leading zeros; IPv6: the compressed lowercase form (brackets dropped).
* license plate: spaces, hyphens and middle dots dropped, uppercased.
* person: whitespace collapsed (and dropped between CJK characters), middle dots unified, casefolded.
* address: whitespace dropped, casefolded.
* a policy's custom types: NFKC with surrounding space dropped (their format is the bank's own).
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata

from stockade.privacy.spans import PiiType

_NUMBER_TYPES = frozenset(
    {
        PiiType.ID_CARD,
        PiiType.MOBILE,
        PiiType.LANDLINE,
        PiiType.BANK_CARD,
        PiiType.USCC,
        PiiType.PASSPORT,
        PiiType.HK_MACAO_PERMIT,
    }
)
_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u2212.·/\\()\[\]{}（）【】]+")
_NON_DIGITS = re.compile(r"\D+")
_PLATE_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u2212.·•・‧]+")
_DOTS = re.compile(r"[·•・‧.\u00b7]")
_SPACES = re.compile(r"\s+")
_CJK_GAP = re.compile(r"(?<=[\u3400-\u9fff])\s+(?=[\u3400-\u9fff])")


def nfkc(value: str) -> str:
    return value if value.isascii() else unicodedata.normalize("NFKC", value)


def normalize(value: str, pii_type: PiiType) -> str:
    """The canonical form of ``value`` used as the HMAC input of ``hash`` and ``pseudonym``."""
    text = nfkc(value).strip()
    if pii_type in _NUMBER_TYPES:
        if pii_type is PiiType.MOBILE:
            return _mobile(text)
        if pii_type is PiiType.LANDLINE:
            return _landline(text)
        return _SEPARATORS.sub("", text).upper()
    if pii_type is PiiType.EMAIL:
        return text.lower()
    if pii_type is PiiType.IPV4:
        return _ipv4(text)
    if pii_type is PiiType.IPV6:
        return _ipv6(text)
    if pii_type is PiiType.LICENSE_PLATE:
        return _PLATE_SEPARATORS.sub("", text).upper()
    if pii_type is PiiType.PERSON:
        return _CJK_GAP.sub("", _SPACES.sub(" ", _DOTS.sub("·", text))).casefold()
    if pii_type is PiiType.ADDRESS:
        return _SPACES.sub("", text).casefold()
    return text


def _mobile(text: str) -> str:
    digits = _NON_DIGITS.sub("", text)
    for prefix in ("0086", "86"):
        if digits.startswith(prefix) and len(digits) == len(prefix) + 11 and digits[len(prefix)] == "1":
            return digits[len(prefix) :]
    return digits


def _landline(text: str) -> str:
    compact = _SEPARATORS.sub("", text)
    digits = _NON_DIGITS.sub("", compact)
    for prefix in ("+86", "0086"):
        if compact.startswith(prefix):
            rest = digits[len(prefix) - (1 if prefix[0] == "+" else 0) :]
            return rest if rest.startswith("0") else "0" + rest
    return digits


def _ipv4(text: str) -> str:
    parts = text.split(".")
    if len(parts) == 4 and all(part.isdigit() and len(part) <= 3 for part in parts):
        return ".".join(str(int(part)) for part in parts)
    return text


def _ipv6(text: str) -> str:
    bare = text.strip("[]")
    address, _, zone = bare.partition("%")
    try:
        canonical = ipaddress.IPv6Address(address).compressed
    except ValueError:
        return bare.lower()
    return f"{canonical}%{zone}" if zone else canonical
