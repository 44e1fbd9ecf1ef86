"""Did-you-mean: the closest known name to a misspelt one, for error messages."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

CUTOFF = 0.6  # difflib's ratio; 'instrution' ~ 'instruction' is 0.95, 'input' ~ 'output' 0.55


def closest(name: str, choices: Iterable[str], *, cutoff: float = CUTOFF) -> str | None:
    """The choice most like ``name``, or None when none is close enough."""
    close = difflib.get_close_matches(name, [str(choice) for choice in choices], n=1, cutoff=cutoff)
    return close[0] if close else None


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """``'name' (did you mean 'choice'?)``, or just ``'name'`` when nothing is close."""
    match = closest(name, choices)
    return f"{name!r} (did you mean {match!r}?)" if match else repr(name)
