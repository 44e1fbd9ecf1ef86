"""Internet identifiers: e-mail addresses, IPv4 and IPv6 addresses."""

from __future__ import annotations

import ipaddress
import re

from stockade.privacy.detectors._base import (
    DETECTORS,
    context_finder,
    digit_view,
    fold_fullwidth,
    is_alnum_ascii,
)
from stockade.privacy.spans import PiiType, Span

# ---------------------------------------------------------------------------------------------
# E-mail
# ---------------------------------------------------------------------------------------------

_AT_RE = re.compile("@")
# The local part before an "@": the longest run of these characters (at most 64) that ends there,
# read with one match on the reversed text (a search forward would try every start up to 64
# characters back, each running to the "@"), less the dots it starts with.
_LOCAL_REV_RE = re.compile(r"[A-Za-z0-9._%+\-]{0,64}")
_DOMAIN_RE = re.compile(
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![A-Za-z0-9\-])"
)


@DETECTORS.register("email")
class EmailDetector:
    """E-mail addresses (local part @ dotted domain with an alphabetic TLD); found from each ``@``."""

    name = "email"
    version = "1.0"
    types = (PiiType.EMAIL,)

    def detect(self, text: str) -> list[Span]:
        text = fold_fullwidth(text)  # same offsets
        if "@" not in text:
            return []
        spans = []
        last_end = 0
        for at in _AT_RE.finditer(text):
            i = at.start()
            if i < last_end:
                continue
            lo = last_end if last_end > i - 64 else i - 64
            start = i - _LOCAL_REV_RE.match(text[lo:i][::-1]).end()  # always matches, maybe empty
            while start < i and text[start] == ".":  # a local part never starts with a dot
                start += 1
            if start == i:
                continue  # no local part
            domain = _DOMAIN_RE.match(text, i + 1)
            if domain is None:
                continue
            spans.append(Span(start, domain.end(), PiiType.EMAIL, 0.99, self.name))
            last_end = domain.end()
        return spans


# ---------------------------------------------------------------------------------------------
# IPv4
# ---------------------------------------------------------------------------------------------

# Exactly four dotted parts: "1.2.3" (version) and "1.2.3.4.5" (longer dotted numbers) never match.
# The scan looks for the first dot (rarer than digits), then checks the digits before it.
_IPV4_RE = re.compile(r"\.(?<=[0-9]\.)[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}(?![0-9A-Za-z]|\.[0-9])")
# On the reversed text before the first dot: 1-3 digits, then no digit, dot or letter (v1.2.3.4)
# except the label "IP" itself ("IP192.168.1.1").
_IPV4_HEAD_RE = re.compile(r"[0-9]{1,3}(?![0-9.])(?:(?![A-Za-z])|(?=PI|pi)(?!..[A-Za-z]))")
_VERSION_CONTEXT = ("版本", "version", "Version", "VERSION", "ver.", "Ver.", "固件", "build", "Build")
_version_context_before = context_finder(_VERSION_CONTEXT, window=12)


@DETECTORS.register("ipv4")
class Ipv4Detector:
    """IPv4 addresses: four dotted octets 0-255. Loopback, unspecified and netmask-looking
    addresses still match (with a lower score); dotted numbers right after 版本/version do not."""

    name = "ipv4"
    version = "1.0"
    types = (PiiType.IPV4,)

    def detect(self, text: str) -> list[Span]:
        text, lo, hi = digit_view(text)  # the folded text (same offsets), where its digits are
        if hi - lo < 7 or "." not in text:
            return []  # no room for 1.2.3.4
        spans = []
        for m in _IPV4_RE.finditer(text, lo, hi):
            dot = m.start()
            head = _IPV4_HEAD_RE.match(text[max(0, dot - 7) : dot][::-1])
            if head is None:
                continue
            start = dot - head.end()
            octets = text[start : m.end()].split(".")
            if max(map(int, octets)) > 255:  # (map: no generator frames)
                continue
            if _version_context_before(text, start):
                continue
            score = 0.7 if octets[0] in ("0", "127", "255") else 0.95
            spans.append(Span(start, m.end(), PiiType.IPV4, score, self.name))
        return spans


# ---------------------------------------------------------------------------------------------
# IPv6
# ---------------------------------------------------------------------------------------------

_V6_SEED_RE = re.compile(r":[0-9A-Fa-f]{0,4}:")  # two colons close together
# Read on the reversed text before a seed: one match, where a forward search anchored at the seed
# would try every start up to 45 characters back.
_V6_LEFT_REV_RE = re.compile(r"[0-9A-Fa-f:]{0,45}")
_V6_RIGHT_RE = re.compile(r"[0-9A-Fa-f:.]{0,60}")


def _valid_v6(candidate: str) -> bool:
    colons = candidate.count(":")
    if colons < 2 or not any(c not in ":." for c in candidate):
        return False
    # Without "::" an address has 8 groups (7 colons) or 6 and an IPv4 tail (6 colons): times
    # (14:30:00) fail here without the cost of ``ipaddress`` raising.
    if colons < 6 and "::" not in candidate:
        return False
    try:
        ipaddress.IPv6Address(candidate)
    except ValueError:
        return False
    return True


@DETECTORS.register("ipv6")
class Ipv6Detector:
    """IPv6 addresses (full, ``::``-compressed, IPv4-embedded), validated by ``ipaddress``.
    Times (14:30:00) and MAC addresses never validate."""

    name = "ipv6"
    version = "1.0"
    types = (PiiType.IPV6,)

    def detect(self, text: str) -> list[Span]:
        text = fold_fullwidth(text)  # same offsets
        if ":" not in text:
            return []
        # Every address _valid_v6 accepts has "::" or six colons, and is part of the text: a text
        # with neither (times of day: 14:30:00) has none (half the texts with a colon, in bank text).
        if "::" not in text and text.count(":") < 6:
            return []
        spans = []
        last_end = 0
        for seed in _V6_SEED_RE.finditer(text):
            i = seed.start()
            if i < last_end:
                continue
            lo = max(last_end, i - 45)
            start = i - _V6_LEFT_REV_RE.match(text[lo:i][::-1]).end()  # always matches, maybe empty
            end = _V6_RIGHT_RE.match(text, i).end()
            found = _trim_v6(text, start, end)
            if found is None:
                last_end = end
                continue
            start, end = found
            spans.append(Span(start, end, PiiType.IPV6, 0.95, self.name))
            last_end = end
        return spans


def _trim_v6(text: str, start: int, end: int) -> tuple[int, int] | None:
    """The valid IPv6 address in ``text[start:end]`` after dropping stray edges, or None."""
    # Punctuation ending a sentence is not part of the address.
    while end > start and text[end - 1] in ".:" and not text.endswith("::", start, end):
        end -= 1
    if text.startswith(":", start) and not text.startswith("::", start):
        start += 1
    # Trailing "." or a letter/digit glued on the right: drop groups from the right.
    while end > start and end < len(text) and is_alnum_ascii(text[end]):
        cut = text.rfind(":", start, end - 1)
        if cut <= start:
            return None
        end = cut
    # A hex-looking word glued on the left ("addr:fe80::1"): drop groups from the left.
    glued = start > 0 and is_alnum_ascii(text[start - 1])
    for _ in range(9):
        if not glued and _valid_v6(text[start:end]):
            return start, end
        cut = text.find(":", start, end)
        if cut <= start:
            return None
        start = cut if text.startswith("::", cut) else cut + 1
        glued = False
    return None
