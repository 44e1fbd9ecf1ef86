r"""PII detectors for the 脱敏 gate: rule- and checksum-based, offline, fast.

Every detector is a small class with ``name``, ``version``, ``types`` and ``detect(text)``
returning typed :class:`~stockade.privacy.spans.Span` objects; each is registered by name in
:data:`DETECTORS` (a :class:`~stockade.core.registry.Registry` of classes). Nothing is
downloaded or loaded at run time beyond the small word lists in ``resources/``.

=================  ===============================  ========================================
name               type                             method
=================  ===============================  ========================================
id_card            居民身份证                         GB 11643 check digit, birth date, region
mobile             手机号                             1[3-9]X + 8, +86/0086, 3-4-4 grouping
landline           固定电话                           area code + 7-8 digits, extension
bank_card          银行卡号                           16-19 digits, Luhn, issuer prefix
uscc               统一社会信用代码                   GB 32100 mod-31 check character
passport           护照号                             E/G + 8, E + letter + 7; context 护照
hk_macao_permit    港澳通行证/回乡证                  C/H/M + digits; context 通行证
email              电子邮箱                           local@domain.tld, found from each "@"
ipv4 / ipv6        IP地址                             octets 0-255 / ``ipaddress`` validation
license_plate      车牌号                             province + letter + 5 (or 6 new-energy)
grouped_number     身份证/银行卡/手机/固话            irregular or spoken digit groups, joined
                                                    and checked (checksums decide)
person             姓名                               surnames next to context words or titles
address            地址                               gazetteer + road/number/unit grammar
=================  ===============================  ========================================

Scores: checksum-validated matches 0.95-1.0; pattern-only or context-dependent ones 0.65-0.9
(a context word such as 护照, 通行证 or 卡号 nearby raises a pattern-only score).
:func:`detect_all` runs detectors and resolves overlaps (higher score wins, then longer span).

Digit runs are delimited by explicit ASCII lookarounds, not ``\b`` (CJK characters are ``\w``, so
``卡号6222...`` has no word boundary), and full-width forms (１３８…, ＠) are folded to ASCII with
unchanged offsets. Speed (single process): every scanning regex starts with a literal or a
character class so that ``re`` scans fast, and Python code runs only at candidate positions;
see ``python -m stockade.bench.privacy``.

    from stockade.privacy.detectors import detect_all, get_detector
    detect_all("客户张伟，手机13812345678")   # [Span(2, 4, PERSON, ...), Span(7, 18, MOBILE, ...)]
    get_detector("bank_card").detect(text)
"""

from __future__ import annotations

import bisect
import itertools
import operator
from collections.abc import Iterable, Sequence

from stockade.privacy.detectors import address, codes, grouped, network, numbers, person
from stockade.privacy.detectors._base import DETECTORS
from stockade.privacy.detectors.address import AddressDetector
from stockade.privacy.detectors.codes import (
    HkMacaoPermitDetector,
    LicensePlateDetector,
    PassportDetector,
    UsccDetector,
)
from stockade.privacy.detectors.grouped import GroupedNumberDetector
from stockade.privacy.detectors.network import EmailDetector, Ipv4Detector, Ipv6Detector
from stockade.privacy.detectors.numbers import (
    BankCardDetector,
    IdCardDetector,
    LandlineDetector,
    MobileDetector,
)
from stockade.privacy.detectors.person import PersonDetector
from stockade.privacy.spans import Detector, Span

__all__ = [
    "DEFAULT_DETECTOR_NAMES",
    "DETECTORS",
    "AddressDetector",
    "BankCardDetector",
    "EmailDetector",
    "GroupedNumberDetector",
    "HkMacaoPermitDetector",
    "IdCardDetector",
    "Ipv4Detector",
    "Ipv6Detector",
    "LandlineDetector",
    "LicensePlateDetector",
    "MobileDetector",
    "PassportDetector",
    "PersonDetector",
    "UsccDetector",
    "default_detectors",
    "detect_all",
    "get_detector",
    "resolve_overlaps",
]

del address, codes, grouped, network, numbers, person  # imported for their registrations

#: The detectors :func:`default_detectors` builds, in a fixed order (structured types first).
DEFAULT_DETECTOR_NAMES: tuple[str, ...] = (
    "id_card",
    "bank_card",
    "uscc",
    "mobile",
    "landline",
    "passport",
    "hk_macao_permit",
    "email",
    "ipv4",
    "ipv6",
    "license_plate",
    "grouped_number",
    "person",
    "address",
)


def get_detector(name: str) -> Detector:
    """A new detector by registered name (``ConfigError`` naming the choices if unknown)."""
    return DETECTORS.get(name)()


def default_detectors() -> list[Detector]:
    """One instance of every built-in detector."""
    return [get_detector(name) for name in DEFAULT_DETECTOR_NAMES]


_DEFAULTS: list[Detector] | None = None


def _by_rank(span: Span) -> tuple[float, int, int, str, str]:
    start, end, kind, score, detector = span
    # str.__str__(kind) is kind.value for a PiiType and a CustomType alike, without the enum's
    # Python-level property
    return -score, start - end, start, str.__str__(kind), detector


_START = operator.itemgetter(0)
_END = operator.itemgetter(1)


def detect_all(text: str, detectors: Sequence[Detector] | None = None) -> list[Span]:
    """Spans of every detector on ``text``, overlaps resolved, sorted by start."""
    global _DEFAULTS
    if detectors is None:
        if _DEFAULTS is None:
            _DEFAULTS = default_detectors()
        detectors = _DEFAULTS
    spans: list[Span] = []
    for detector in detectors:
        spans.extend(detector.detect(text))
    return resolve_overlaps(spans)


def resolve_overlaps(spans: Iterable[Span]) -> list[Span]:
    """Non-overlapping spans sorted by start. Where spans overlap the one with the higher score
    is kept, then the longer one, then the earlier one (a deterministic total order)."""
    # Sorted as tuples (start, end, then the other fields), in C. Equal to sorting by (start, end):
    # spans that tie on both overlap, and the ranking below decides between them whatever their order.
    spans = sorted(spans)
    if len(spans) < 2 or not any(map(operator.lt, map(_START, spans[1:]), map(_END, spans))):
        return spans  # the usual case: nothing overlaps (each span starts at or after the previous end)
    # Overlaps only matter within a cluster (a run of spans, in start order, each starting before
    # the furthest end so far): spans of different clusters never overlap, so ranking each cluster
    # on its own keeps exactly what ranking them all together would, with far fewer ranking keys.
    kept: list[Span] = []
    cluster = [spans[0]]
    reach = spans[0].end
    for span in itertools.islice(spans, 1, None):
        if span.start < reach:
            cluster.append(span)
            if span.end > reach:
                reach = span.end
            continue
        if len(cluster) == 1:
            kept.append(cluster[0])
        else:
            kept.extend(_best(cluster))
        cluster = [span]
        reach = span.end
    kept.extend(cluster if len(cluster) == 1 else _best(cluster))
    return kept


def _best(spans: list[Span]) -> list[Span]:
    """The spans kept of overlapping ``spans``: best ranked first, each unless it overlaps one
    already kept; sorted by start."""
    kept: list[Span] = []
    starts: list[int] = []  # sorted starts of kept spans, parallel to ``kept``
    for span in sorted(spans, key=_by_rank):
        i = bisect.bisect_left(starts, span.start)
        if i > 0 and kept[i - 1].end > span.start:
            continue
        if i < len(kept) and kept[i].start < span.end:
            continue
        starts.insert(i, span.start)
        kept.insert(i, span)
    return kept
