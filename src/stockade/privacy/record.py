"""Record-level consistency: a value found once in a record is personal data wherever it recurs.

Detectors see one string at a time and need context ("客户罗晓明"); the same name later in the
record ("罗晓明说…", in another field, or in the answer) may have none. Once any string of a
record yields a value, every other occurrence of that exact value in the record's strings is
replaced too, with the same type.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from stockade.privacy.detectors import resolve_overlaps
from stockade.privacy.detectors._base import native_module
from stockade.privacy.spans import Span

#: Values shorter than this are not spread (a bare surname before a title: 王先生).
MIN_LENGTH = 2


@functools.cache
def _native_extras() -> Callable[[list[str], list[list[Span]], int], Any] | None:
    """``_segment.record_extras`` where the optional C extension is built and in use, else None."""
    native = native_module()
    return None if native is None else native.record_extras


def spread_values(texts: list[str], spans: list[list[Span]]) -> list[list[Span]]:
    """``spans`` (one list per string of a record) plus every other occurrence of the values they
    cover, in all ``texts``; overlaps resolved as the detectors resolve them. The search runs in C
    where the optional extension is built (the same result as :func:`_spread_values_python`, which
    tests hold it to); the new spans are built here."""
    extras = _native_extras()
    if extras is None:
        return _spread_values_python(texts, spans)
    plan = extras(texts, spans, MIN_LENGTH)
    if plan is None:
        return spans
    return [
        found
        if extra is None
        else resolve_overlaps([*found, *(Span(a, z, o.type, o.score, o.detector) for a, z, o in extra)])
        for found, extra in zip(spans, plan, strict=True)
    ]


def _spread_values_python(texts: list[str], spans: list[list[Span]]) -> list[list[Span]]:
    """:func:`spread_values` in Python."""
    values: dict[str, Span] = {}
    for text, found in zip(texts, spans, strict=True):
        for span in found:
            value = text[span.start : span.end]
            if len(value) >= MIN_LENGTH and value not in values:
                values[value] = span
    if not values:
        return spans
    # str.find per value rather than one regex per record: a record has few values, and compiling
    # a pattern for each record costs more than the search itself.
    ordered = sorted(values, key=len, reverse=True)  # longer values first, so they win overlaps
    out: list[list[Span]] = []
    for text, found in zip(texts, spans, strict=True):
        # ``in`` first: most values are absent from most strings, and the operator is cheaper
        # than a method call
        present = [value for value in ordered if value in text]
        if not present:
            out.append(found)
            continue
        extra = []
        exact = {span[:2] for span in found}  # (start, end): most occurrences are the spans themselves
        find = text.find
        for value in present:
            size = len(value)
            at = find(value)
            while at >= 0:
                end = at + size
                if (at, end) not in exact and not any(s.start <= at and end <= s.end for s in found):
                    origin = values[value]
                    extra.append(Span(at, end, origin.type, origin.score, origin.detector))
                at = find(value, end)
        out.append(resolve_overlaps([*found, *extra]) if extra else found)
    return out
