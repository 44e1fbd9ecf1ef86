"""Shared pieces of the detectors: the registry, boundaries, context look-ups, resources.

Performance notes (the gate must scan >= 10 MB/s of Chinese text per core):

* Every scanning regex starts with a single literal or character class, so ``re`` can use its
  fast prefix scan.  A pattern that starts with a lookbehind, an optional group or a repeat
  (``[0-9]{7,}``) is 3-10x slower, so left boundaries are written *after* the first character:
  ``[0-9](?<![0-9A-Za-z][0-9])...``.
* Work in Python happens only at candidate positions (matches of those regexes), never in a
  loop over every character.
* Per-text facts shared by the detectors (the folded text, whether it has a digit, the window
  of text around its digits, its ASCII shape) are computed once per text and cached for the last text;
  digit-based patterns scan only :func:`digit_window`, not the prose around it.
* A pattern that must start with a class still tests it at every character (a third of dense
  text is digits). Such detectors find candidate starts with a literal search on the text's
  :func:`ascii_shape` (``b" 000000"``: six digits after no letter or digit) and run their own
  pattern only there (:func:`matches_at`), with the same result as ``finditer``; a digit detector
  also returns at once when the digit window is shorter than its shortest match.
* A repeat followed by something that can never match where the repeat could stop earlier
  (``[0-9]*`` before a separator) is written possessive (``[0-9]*+``): ``re`` would otherwise give
  the characters back one by one on every failed attempt. Possessive repeats need Python 3.11;
  on 3.10 such a pattern is built with plain repeats (same matches, slower).
* At a few thousand texts per MB of dense text, each call per text and detector costs about a
  millisecond per MB: detectors that need the folded text, its digit window and its shape get
  them from one cached call (:func:`shape_view`).
* CJK characters are ``\\w`` in Python's ``re``, so ``\\b`` does not separate ``卡号6222...``;
  boundaries are explicit ASCII-alphanumeric lookarounds.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from functools import cache
from importlib import resources
from typing import Any

from stockade.core.environment import native_code_enabled
from stockade.core.registry import Registry
from stockade.privacy.spans import Detector

#: Detector classes by registered name. Each class builds with no arguments.
DETECTORS: Registry[type[Detector]] = Registry("detector")

#: Right boundary for ASCII tokens (digits, codes): no letter or digit may follow.
END = r"(?![0-9A-Za-z])"

#: A CJK unified ideograph (the BMP block; names and addresses never need the extensions).
CJK = "\u4e00-\u9fff"


def native_module() -> Any:
    """The detectors' optional C extension (``_segment``: the name detector's search, dictionary and
    checks, the grouped-number candidates, the normalised view's rewrites), or None where it was not
    built or ``STOCKADE_NATIVE=off``; every caller has the same code in Python, which tests hold the
    C code to. Callers decide once per process (``STOCKADE_NATIVE`` is read then)."""
    if not native_code_enabled():
        return None
    try:
        from stockade.privacy.detectors import _segment
    except ImportError:
        return None
    return _segment


def is_cjk(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff"


def is_alnum_ascii(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


# The normalised view every detector scans. It is built so that an offset in it is the same offset in
# the original text (every change is one character for one character), so a match found in any
# surface form covers exactly the original characters:
#
# * full-width forms (０-９, Ａ-Ｚ, ａ-ｚ, ＠, ．, －, ＋) -> ASCII, common in formal Chinese documents;
# * the ideographic space U+3000 -> an ASCII space when the text groups digits with it
#   (``１３８　１２３４　５６７８``), so the grouped forms of the detectors apply;
# * spoken or transcribed digits: a run of three or more Chinese numerals (一三八一二三四五六七八,
#   六幺零..., with 幺 for 1, 〇/零 for 0, 两 for 2), or Chinese numerals right before an address unit
#   (``一百二十三号``, ``三单元``, ``五零二室``, ``5组``), become ASCII digits, one for one. The value
#   of 十/百/千 is not kept (``一百二十三号`` reads ``10213号``): detectors need "a number here",
#   and checksums decide for identifiers, whose digits are always spoken one by one.
_FULLWIDTH = "".join(chr(c) for c in [*range(0xFF10, 0xFF1A), *range(0xFF21, 0xFF3B), *range(0xFF41, 0xFF5B)])
_FOLD_TABLE = str.maketrans(
    _FULLWIDTH + "＠．－＋\u3000", "".join(chr(ord(c) - 0xFEE0) for c in _FULLWIDTH) + "@.-+ "
)
# Two scans, not one alternation: a pattern that starts with an alternation loses ``re``'s fast scan
# for its first character (twice as slow on Chinese text, where both rarely match).
_FULLWIDTH_RE = re.compile("[０-９Ａ-Ｚａ-ｚ＠．－＋]")
_SPACED_DIGIT_RE = re.compile("\u3000(?=[0-9])")
#: Chinese numerals as spoken digit by digit (幺 is how 1 is read out in phone and card numbers).
SPOKEN_DIGITS = "〇零一二三四五六七八九幺两"
_NUMERAL_TABLE = str.maketrans(SPOKEN_DIGITS + "十百千叉", "0012345678912" + "100" + "X")
_SPOKEN_SEP = "[ ,，、\\-－—\u3000]"
_NUMERAL_RUN_RE = re.compile(
    # three or more spoken digits, with the groups around them (六二八二，八八六七，…，八) and a
    # final 叉 (X, the check character of an ID read out)
    f"(?:[{SPOKEN_DIGITS}]+{_SPOKEN_SEP})*[{SPOKEN_DIGITS}]{{3,}}(?:{_SPOKEN_SEP}[{SPOKEN_DIGITS}]+)*叉?"
    f"|[{SPOKEN_DIGITS}十百千]+(?=号|栋|幢|单元|室|楼|层|组|弄|户)"  # before an address unit
)
_HINT_NEXT = f"[{SPOKEN_DIGITS}十百千号栋幢单室楼层组弄户]"
_NUMERAL_HINT_RE = re.compile(f"[{SPOKEN_DIGITS}]{_HINT_NEXT}")
# The first place where either of the two scans above would find something, in one pass over the
# text (most texts have neither; one class first, then the branches, keeps the fast scan); the
# other scan then starts from there. The hint never involves a character that folding changes, so
# it is the same on the text and on its folded copy.
_FOLD_OR_HINT_RE = re.compile(
    f"[０-９Ａ-Ｚａ-ｚ＠．－＋{SPOKEN_DIGITS}](?:(?<=[{SPOKEN_DIGITS}])(?={_HINT_NEXT})|(?<![{SPOKEN_DIGITS}]))"
)
# The last text folded and its result: detect_all runs every detector on the same text object,
# so the normalised view is built once per text, not once per detector.
_last_fold: tuple[str, str] = ("", "")


def _numerals_to_digits(match: re.Match[str]) -> str:
    return match.group().translate(_NUMERAL_TABLE)


def _fold_chars_python(text: str) -> str:
    return text.translate(_FOLD_TABLE)


def _fold_numerals_python(text: str) -> str:
    return _NUMERAL_RUN_RE.sub(_numerals_to_digits, text)


@cache
def _folders() -> tuple[Callable[[str], str], Callable[[str], str]]:
    """The two rewrites of :func:`fold_fullwidth`: in C where the optional extension is built
    (``fold_chars``, ``fold_numerals``: the same strings, tests hold them to these), else in Python."""
    native = native_module()
    if native is None:
        return _fold_chars_python, _fold_numerals_python
    return native.fold_chars, native.fold_numerals


def fold_fullwidth(text: str) -> str:
    """The normalised view of ``text`` (see above): same length, same offsets; the text itself when
    nothing needs folding (the usual case). Cached for the last text."""
    global _last_fold
    last = _last_fold  # one read: another thread may replace it, but never half of it
    if last[0] is text:
        return last[1]
    first = _FOLD_OR_HINT_RE.search(text)
    if first is None:
        fullwidth = hint = False
    elif text[first.start()] in SPOKEN_DIGITS:
        hint = True
        fullwidth = _FULLWIDTH_RE.search(text, first.start()) is not None
    else:
        fullwidth = True
        hint = _NUMERAL_HINT_RE.search(text, first.start()) is not None
    fold_chars, fold_numerals = _folders()
    spaced = "\u3000" in text and _SPACED_DIGIT_RE.search(text) is not None
    folded = fold_chars(text) if fullwidth or spaced else text
    if hint:
        folded = fold_numerals(folded)
    _last_fold = (text, folded)
    return folded


_last_has_digit: tuple[str, bool] = ("", False)


def has_digit(text: str) -> bool:
    """A cheap prefilter: ten C-level substring scans beat one regex pass on long texts. Cached
    for the last text, as every digit-based detector asks it of the same text."""
    global _last_has_digit
    last = _last_has_digit
    if last[0] is text:
        return last[1]
    found = any(d in text for d in "0123456789")
    _last_has_digit = (text, found)
    return found


# The run of ASCII letters, digits, spaces and hyphens after the last digit.
_AFTER_LAST_DIGIT_RE = re.compile(r"[0-9A-Za-z \-]*")
_last_window: tuple[str, tuple[int, int]] = ("", (0, 0))


def digit_window(text: str) -> tuple[int, int]:
    """The part of the (folded) ``text`` where a digit-based identifier can be, cached for the
    last text: from two characters before the first digit to the end of the run of ASCII letters,
    digits, spaces and hyphens after the last digit; ``(0, 0)`` when there is no digit.

    ``pattern.finditer(text, *digit_window(text))`` finds exactly what ``pattern.finditer(text)``
    finds for a pattern whose every match contains a digit, starts at most two characters before
    its first digit (``+86``, ``E1234567``, the letters of a 统一社会信用代码) and after its last digit
    has only ASCII letters and digits, spaces and hyphens. Lookbehinds still see the text before
    the window, and the character at its end (if any) is not an ASCII letter or digit, so a
    ``(?![0-9A-Za-z])`` lookahead there agrees with the end of the window. In Chinese prose the
    digits often sit in one part of a long text, which the scans of these patterns then skip.
    """
    global _last_window
    last = _last_window
    if last[0] is text:
        return last[1]
    # The first and last digits from the shape (shape[i + 1] is text[i]): two byte searches in C,
    # where a regex would test a class at every character up to the first digit and back off
    # character by character from the end of the text to the last one.
    shape = ascii_shape(text)
    first = shape.find(b"0")
    if first < 0:
        window = (0, 0)
    else:
        after_last = shape.rfind(b"0")  # the index in the text just after the last digit
        window = (max(0, first - 3), _AFTER_LAST_DIGIT_RE.match(text, after_last).end())
    _last_window = (text, window)
    return window


# Every ASCII digit -> "0", every ASCII letter -> "a", every other byte -> " ".
_SHAPE_TABLE = bytes(
    48 if 48 <= b <= 57 else 97 if 65 <= b <= 90 or 97 <= b <= 122 else 32 for b in range(256)
)
_last_shape: tuple[str, bytes] = ("", b"")


def ascii_shape(text: str) -> bytes:
    """The shape of ``text``, one byte per character after a leading space: ``shape[i + 1]`` is
    ``0`` where ``text[i]`` is an ASCII digit, ``a`` for an ASCII letter and a space for anything
    else; ``shape[0]`` is a space standing for the start of the text. Cached for the last text.

    A scanning regex whose first character is a class (``[1-8]``, ``[0-9A-Z...]``) tests that class
    at every character of the text; on the shape, a literal finds the same places with ``re``'s
    fast literal search (encoding and translating are single C passes): ``b" 000000"`` at index
    ``k`` is a run of six or more digits starting at ``text[k]`` after no letter or digit. The
    detectors use it to find *candidate* starts, then run their own pattern only there
    (:func:`matches_at`); the pattern still decides."""
    global _last_shape
    last = _last_shape
    if last[0] is text:
        return last[1]
    shape = b" " + text.encode("ascii", "replace").translate(_SHAPE_TABLE)
    _last_shape = (text, shape)
    return shape


def matches_at(
    pattern: re.Pattern[str], text: str, hits: Iterable[re.Match[bytes]], endpos: int, back: int = 0
) -> list[re.Match[str]]:
    """What ``pattern.finditer(text, pos, endpos)`` finds, given ``hits``: matches (on the shape)
    whose starts less ``back`` are increasing positions, none below ``pos``, among them every
    position where ``pattern`` can match. Like ``finditer`` it tries them left to right and resumes
    after each match (the patterns never match empty)."""
    found = []
    end = 0
    match = pattern.match
    for hit in hits:
        start = hit.start() - back
        if start >= end:
            m = match(text, start, endpos)
            if m is not None:
                found.append(m)
                end = m.end()
    return found


_last_view: tuple[str, tuple[str, int, int]] = ("", ("", 0, 0))


def digit_view(text: str) -> tuple[str, int, int]:
    """``fold_fullwidth(text)`` and its :func:`digit_window` in one call (the digit-based detectors
    need both), cached for the last text."""
    global _last_view
    last = _last_view
    if last[0] is text:
        return last[1]
    folded = fold_fullwidth(text)
    lo, hi = digit_window(folded)
    view = (folded, lo, hi)
    _last_view = (text, view)
    return view


_last_shape_view: tuple[str, tuple[str, int, int, bytes]] = ("", ("", 0, 0, b""))


def shape_view(text: str) -> tuple[str, int, int, bytes]:
    """:func:`digit_view` and the :func:`ascii_shape` of the folded text in one call, cached for
    the last text: the detectors that find candidates on the shape save a call per text (at a few
    thousand texts per MB, each call per text and detector is a measurable share)."""
    global _last_shape_view
    last = _last_shape_view
    if last[0] is text:
        return last[1]
    folded, lo, hi = digit_view(text)
    view = (folded, lo, hi, ascii_shape(folded))
    _last_shape_view = (text, view)
    return view


def context_finder(words: tuple[str, ...], window: int = 16) -> Callable[[str, int], bool]:
    """A test ``before(text, start)``: whether one of ``words`` occurs in the ``window`` characters
    before ``start``. Built once per detector, so its regex is not looked up at every match."""
    search = _words_re(words).search

    def before(text: str, start: int) -> bool:
        return search(text, start - window if start > window else 0, start) is not None

    return before


@cache
def _words_re(words: tuple[str, ...]) -> re.Pattern[str]:
    """One regex for any of ``words`` (a search bounded by ``endpos`` finds only whole words)."""
    return re.compile("|".join(re.escape(w) for w in words) if words else "(?!)")


def cjk_class_without(excluded: str) -> str:
    """A regex character class body: every CJK ideograph except those in ``excluded``."""
    points = sorted({ord(c) for c in excluded if is_cjk(c)})
    parts: list[str] = []
    lo = 0x4E00
    for p in points:
        if p > lo:
            parts.append(_range(lo, p - 1))
        lo = p + 1
    if lo <= 0x9FFF:
        parts.append(_range(lo, 0x9FFF))
    return "".join(parts)


def _range(lo: int, hi: int) -> str:
    return chr(lo) if lo == hi else f"{chr(lo)}-{chr(hi)}"


def literal_alternation(words: Iterable[str]) -> str:
    """A regex alternation of literal words in which the longest word wins.

    Written as a trie (``客(?:户(?:经理)?)``...) rather than a flat ``a|b|c`` list: ``re`` tries
    the branches of an alternation one by one, so a flat list of a hundred words costs a hundred
    checks at every position whose character starts some word, a trie a handful.
    """
    trie: dict = {}
    for word in set(words):
        if not word:
            continue
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}
    return _trie_regex(trie)


def _trie_regex(node: dict) -> str:
    ends_here = "" in node
    branches = [re.escape(ch) + _trie_regex(child) for ch, child in sorted(node.items()) if ch]
    if not branches:
        return ""
    # Longer continuations first, so the longest word wins; the word ending here comes last.
    body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
    if ends_here:
        return "(?:" + body + ")?" if len(branches) == 1 else body + "?"
    return body


@cache
def load_words(filename: str) -> tuple[str, ...]:
    """Words of a resource file: one or more per line separated by whitespace, ``#`` comments."""
    text = resources.files("stockade.privacy.detectors").joinpath("resources", filename).read_text("utf-8")
    words: list[str] = []
    for line in text.splitlines():
        line = line.split("#", 1)[0]
        words.extend(line.split())
    return tuple(dict.fromkeys(words))


@cache
def load_table(filename: str) -> tuple[tuple[str, ...], ...]:
    """Rows of a resource file: whitespace-separated fields, ``#`` comments, blank lines skipped."""
    text = resources.files("stockade.privacy.detectors").joinpath("resources", filename).read_text("utf-8")
    rows = []
    for line in text.splitlines():
        fields = line.split("#", 1)[0].split()
        if fields:
            rows.append(tuple(fields))
    return tuple(rows)
