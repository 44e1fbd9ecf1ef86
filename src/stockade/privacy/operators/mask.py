"""``mask``: hide letters and digits behind a mask character, keeping the separators."""

from __future__ import annotations

import re
import string

from pydantic import BaseModel, Field

from stockade.privacy.operators.base import OPERATORS, BaseOperator, OperatorParams
from stockade.privacy.spans import PiiType, SpanType

_ALNUM = re.compile(r"[^\W_]")  # exactly the characters for which str.isalnum() is true
_MARKER = "\x00"
_MARKERS = ("\x00", "\ue000", "\U0010fffd")
_ASCII_TO_MARKER = str.maketrans(dict.fromkeys(string.ascii_letters + string.digits, _MARKER))


class MaskParams(OperatorParams):
    keep_first: int = Field(0, ge=0, description="Letters/digits left visible at the start.")
    keep_last: int = Field(0, ge=0, description="Letters/digits left visible at the end.")
    char: str = Field("*", min_length=1, max_length=1, description="The mask character.")
    keep_domain: bool = Field(
        False, description="Emails: leave '@domain' visible; keep_first/keep_last count in the local part."
    )


def _shrink(count: int, keep_first: int, keep_last: int) -> tuple[int, int]:
    """Leave at least one character masked: ``keep_last`` gives way first, then ``keep_first``."""
    if keep_first + keep_last < count:
        return keep_first, keep_last
    return min(keep_first, count - 1), max(0, count - 1 - keep_first)


def mask_text(value: str, keep_first: int, keep_last: int, char: str) -> str:
    """Replace each letter/digit (``str.isalnum``, CJK included) except the first ``keep_first`` and
    the last ``keep_last`` with ``char``; spaces, hyphens and other separators stay.

    At least one letter/digit is always masked: when ``keep_first + keep_last`` would leave none,
    ``keep_last`` shrinks first, then ``keep_first``.
    """
    if value.isalnum():
        count = len(value)
        keep_first, keep_last = _shrink(count, keep_first, keep_last)
        return value[:keep_first] + char * (count - keep_first - keep_last) + value[count - keep_last :]
    # every letter/digit becomes a marker that the value does not contain; the markers are counted
    # and located with C-speed string methods, then replaced by the mask character
    if value.isascii() and _MARKER not in value:
        marker = _MARKER
        marked = value.translate(_ASCII_TO_MARKER)
    else:
        marker = next((m for m in _MARKERS if m not in value), "")
        if not marker:
            return _mask_slow(value, keep_first, keep_last, char)
        marked = _ALNUM.sub(marker, value)
    count = marked.count(marker)
    if count == 0:
        return value
    keep_first, keep_last = _shrink(count, keep_first, keep_last)
    # keep_first < count and keep_last < count, so both splits find enough markers
    head = len(value) - len(marked.split(marker, keep_first)[-1]) if keep_first else 0
    tail = len(marked.rsplit(marker, keep_last)[0]) if keep_last else len(value)
    return value[:head] + marked[head:tail].replace(marker, char) + value[tail:]


def _mask_slow(value: str, keep_first: int, keep_last: int, char: str) -> str:
    count = sum(map(str.isalnum, value))
    if count == 0:
        return value
    keep_first, keep_last = _shrink(count, keep_first, keep_last)
    out, index, stop = [], 0, count - keep_last
    for c in value:
        if c.isalnum():
            out.append(c if index < keep_first or index >= stop else char)
            index += 1
        else:
            out.append(c)
    return "".join(out)


class MaskOperator(BaseOperator):
    name = "mask"
    Params = MaskParams

    def apply(self, value: str, pii_type: SpanType, params: BaseModel, secret: bytes) -> str:
        assert isinstance(params, MaskParams)
        if params.keep_domain and pii_type is PiiType.EMAIL:
            local, at, domain = value.rpartition("@")
            if at:
                return mask_text(local, params.keep_first, params.keep_last, params.char) + at + domain
        return mask_text(value, params.keep_first, params.keep_last, params.char)


OPERATORS.add(MaskOperator.name, MaskOperator())
