"""A bank's own types, deny list and allow list, from its privacy policy (not the registry).

* :class:`CustomTypeDetector` — one per entry of ``custom_types``: a regex found in the text
  (full-width digits/letters read as ASCII), not glued to ASCII letters or digits, checked by a
  validator from :mod:`stockade.privacy.check_digits`, scored ``score`` (``+0.3`` with a context
  word in the 16 characters before it, capped at 1.0), dropped without a context word when
  ``context_required``. Patterns are the bank's own configuration and are only compiled, never
  imported or evaluated: refused when longer than :data:`MAX_PATTERN_LENGTH`, when they do not
  compile, or when they can match the empty string.
* :class:`DenyListDetector` — every occurrence of a deny-list string, score 1.0.
* :class:`AllowList` — drops spans that lie inside an occurrence of an allow-list string.

Both lists are found with one alternation of the escaped strings, longest first, so the longest
string wins where several start at one position. These objects are built from a policy by the
engine (:func:`build_custom_detectors`); they are not registered in ``DETECTORS``, as they do not
build without the policy's definitions.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from stockade.core.hashing import canonical_json
from stockade.privacy.check_digits import VALIDATORS
from stockade.privacy.spans import CustomType, Span, SpanType

try:  # the regex parser (private; ``sre_parse`` before Python 3.11) measures a pattern's width
    from re import _parser as _regex_parser  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - Python 3.10
    import sre_parse as _regex_parser  # type: ignore[no-redef]

#: Version of the custom-type matching rules; a detector's version adds its definition's digest.
CUSTOM_DETECTOR_VERSION = "1"
#: Longest pattern a policy may give (a regex is configuration, not a program).
MAX_PATTERN_LENGTH = 500
CONTEXT_WINDOW = 16
CONTEXT_BONUS = 0.3
#: The group a validator reads when the pattern has one (``KH(?P<check>[0-9]{10})``).
CHECK_GROUP = "check"

_FULLWIDTH = "".join(chr(c) for c in [*range(0xFF10, 0xFF1A), *range(0xFF21, 0xFF3B), *range(0xFF41, 0xFF5B)])
_FOLD_TABLE = str.maketrans(_FULLWIDTH, "".join(chr(ord(c) - 0xFEE0) for c in _FULLWIDTH))
_FULLWIDTH_RE = re.compile("[０-９Ａ-Ｚａ-ｚ]")
_last_fold: tuple[str, str] = ("", "")


def _fold(text: str) -> str:
    """Full-width digits and letters as ASCII (same length, same offsets); cached for the last text,
    which every custom detector of an engine scans in turn."""
    global _last_fold
    last = _last_fold
    if last[0] is text:
        return last[1]
    folded = text if _FULLWIDTH_RE.search(text) is None else text.translate(_FOLD_TABLE)
    _last_fold = (text, folded)
    return folded


def _ascii_alnum(char: str) -> bool:
    return char.isascii() and char.isalnum()


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """Compile a policy's pattern, or raise ``ValueError`` saying why it is refused."""
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise ValueError(
            f"the pattern is {len(pattern)} characters long; at most {MAX_PATTERN_LENGTH} are allowed"
        )
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        where = f" at position {exc.pos}" if exc.pos is not None else ""
        raise ValueError(f"the pattern {pattern!r} is not a valid regex: {exc.msg}{where}") from None
    if _can_match_empty(compiled):
        raise ValueError(
            f"the pattern {pattern!r} can match the empty string; it must match at least one character"
        )
    return compiled


def _can_match_empty(compiled: re.Pattern[str]) -> bool:
    """Whether some match of ``compiled`` can be empty (``a*``, ``\\b``, ``(?=x)``, ``x|``): the
    minimum width the regex parser computes is 0."""
    try:
        return _regex_parser.parse(compiled.pattern, compiled.flags).getwidth()[0] == 0
    except Exception:  # pragma: no cover - a parser that changed shape: probe instead
        return compiled.fullmatch("") is not None


@dataclass(frozen=True)
class CustomTypeDefinition:
    """What a policy says about one custom type (see ``PrivacyPolicy.custom_types``)."""

    name: str
    label: str
    pattern: str
    validator: str = "none"
    context: tuple[str, ...] = ()
    score: float = 0.6
    context_required: bool = False

    def digest(self) -> str:
        return hashlib.sha256(
            canonical_json(self.__dict__ | {"context": list(self.context)}).encode()
        ).hexdigest()


class CustomTypeDetector:
    """Finds one custom type. Pure and process safe, like the built-in detectors."""

    def __init__(self, definition: CustomTypeDefinition) -> None:
        self.definition = definition
        self.type = CustomType(definition.name, definition.label)
        self.name = f"custom:{definition.name}"
        self.version = f"{CUSTOM_DETECTOR_VERSION}+{definition.digest()[:12]}"
        self.types: tuple[SpanType, ...] = (self.type,)
        self._pattern = compile_pattern(definition.pattern)
        self._check_group = CHECK_GROUP in self._pattern.groupindex
        self._validator = VALIDATORS[definition.validator]
        self._context = (
            re.compile("|".join(re.escape(word) for word in definition.context))
            if definition.context
            else None
        )
        self._with_context = round(min(1.0, definition.score + CONTEXT_BONUS), 6)

    def detect(self, text: str) -> list[Span]:
        folded = _fold(text)
        spans: list[Span] = []
        position, size = 0, len(folded)
        while position < size:
            match = self._pattern.search(folded, position)
            if match is None:
                break
            start, end = match.span()
            if end == start:  # refused at load; never loop on one anyway
                position = start + 1
                continue
            if (start > 0 and _ascii_alnum(folded[start]) and _ascii_alnum(folded[start - 1])) or (
                end < size and _ascii_alnum(folded[end - 1]) and _ascii_alnum(folded[end])
            ):
                position = start + 1  # glued to a longer token: try a later start
                continue
            position = end
            checked = match.group(CHECK_GROUP) if self._check_group else match.group()
            if not self._validator(checked or ""):
                continue
            has_context = self._context is not None and (
                self._context.search(text, max(0, start - CONTEXT_WINDOW), start) is not None
            )
            if self.definition.context_required and not has_context:
                continue
            score = self._with_context if has_context else self.definition.score
            spans.append(Span(start, end, self.type, score, self.name))
        return spans


def literal_alternation(strings: Iterable[str]) -> re.Pattern[str]:
    """One regex matching any of ``strings``; the longest wins where several start at one position."""
    ordered = sorted(set(strings), key=lambda s: (-len(s), s))
    return re.compile("|".join(re.escape(s) for s in ordered))


class DenyListDetector:
    """Every occurrence of a deny-list string is a span of its type, score 1.0."""

    name = "deny_list"

    def __init__(self, entries: Mapping[str, SpanType]) -> None:
        self._types = dict(entries)
        self.types: tuple[SpanType, ...] = tuple(dict.fromkeys(self._types.values()))
        self._pattern = literal_alternation(self._types)
        digest = hashlib.sha256(canonical_json({k: str(v) for k, v in self._types.items()}).encode())
        self.version = f"{CUSTOM_DETECTOR_VERSION}+{digest.hexdigest()[:12]}"

    def detect(self, text: str) -> list[Span]:
        return [
            Span(m.start(), m.end(), self._types[m.group()], 1.0, self.name)
            for m in self._pattern.finditer(text)
        ]


class AllowList:
    """Strings that are never personal data: a span inside an occurrence of one is dropped."""

    def __init__(self, entries: Iterable[str]) -> None:
        entries = [entry for entry in entries if entry]
        self._pattern = literal_alternation(entries)
        self._longest = max((len(entry) for entry in entries), default=0)

    def covers(self, text: str, start: int, end: int) -> bool:
        """Whether ``text[start:end]`` lies inside an occurrence of an allow-list string."""
        if end - start > self._longest:
            return False
        match = self._pattern.match
        for position in range(max(0, end - self._longest), start + 1):
            found = match(text, position)  # the longest string starting here
            if found is not None and found.end() >= end:
                return True
        return False

    def drop(self, text: str, spans: Sequence[Span]) -> list[Span]:
        return [span for span in spans if not self.covers(text, span.start, span.end)]


def merge_denied(spans: Sequence[Span], denied: Sequence[Span]) -> list[Span]:
    """``spans`` (non-overlapping, sorted) with the deny-list spans added: a denied string inside a
    detected span is left to it (it is transformed anyway); elsewhere the denied span wins and
    the detected spans it overlaps are dropped, so no part of a denied string is left as it was."""
    if not denied:
        return list(spans)
    kept_denied = [d for d in denied if not any(s.start <= d.start and d.end <= s.end for s in spans)]
    kept = [s for s in spans if not any(s.start < d.end and d.start < s.end for d in kept_denied)]
    return sorted([*kept, *kept_denied])


def build_custom_detectors(definitions: Iterable[CustomTypeDefinition]) -> list[CustomTypeDetector]:
    """One detector per custom type, in the policy's order."""
    return [CustomTypeDetector(definition) for definition in definitions]
