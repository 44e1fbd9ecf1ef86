"""Chinese word knowledge for the name detector: jieba's dictionary and its segmenter.

jieba (a dependency) ships a 350,000-word dictionary with frequencies and part-of-speech tags.
The name detector asks it two questions about a candidate such as ``黄瓜`` or ``时发`` (in
``必要时发送``), only at candidate positions, never over the whole text:

* :func:`word` — is this string a dictionary word, how frequent, and is it tagged as a person
  name (``nr``)? ``黄瓜``, ``母亲``, ``米饭`` are common nouns; ``王建国`` is listed as a name.
* :func:`boundaries` — where does jieba's dictionary segmenter (maximum-probability path over
  the word graph, no HMM) put word boundaries in a short window? A candidate whose edges fall
  inside a word (``时|发送``, ``感谢|张``) is not a name; a real name mostly falls apart into single
  characters or short name-like pieces, because given names are rarely dictionary words.

Loaded lazily, once per process (about half a second to build, 0.2 s from the derived-data
cache, 0.03 s with the C extension; ~60 MB); nothing is downloaded. :func:`boundaries` is
jieba's own algorithm written out for short windows; tests/privacy/test_lexicon.py holds it to ``jieba.cut``.
"""

from __future__ import annotations

import functools
import math
import os
import platform
import re
import struct
import threading
from collections import Counter
from collections.abc import Callable
from importlib import metadata, resources
from typing import Any

from stockade.core.derived_cache import load_or_build
from stockade.privacy.detectors._base import native_module

_lock = threading.Lock()


def native_segmenter(single: Any, pairs: Any, logp: Any, starts3: Any, words: Any = None) -> Any:
    """The C segmenter over these tables (``_segment.Segmenter``, twelve times faster than
    :func:`_boundary_list_python` and equal to it; with ``words``, the dictionary too), or None
    where the optional extension was not built or ``STOCKADE_NATIVE=off``."""
    native = native_module()
    if native is None:
        return None
    return native.Segmenter(single, pairs, logp, starts3, *([] if words is None else [words]))


class _Lexicon:
    """jieba's dictionary, read straight from its ``dict.txt`` (jieba's own start-up builds a prefix
    table of 500,000 entries that this module does not need).

    The tables below are derived from ``dict.txt`` alone, and building them takes about half a
    second; they are kept in the derived-data cache (``core.derived_cache``, keyed by the file's size
    and time and jieba's version) in four entries, so that a process loads only what it uses:
    ``lexicon`` (the given-name counts, always), ``lexicon_native`` (the C segmenter's tables and
    dictionary, where the extension is built: 0.03 s), and on first use only (without the
    extension, or when Python code asks :func:`word`) ``lexicon_words`` (the dictionary as a dict,
    0.15 s) and ``lexicon_search`` (the Python segmenter's tables, 0.15 s)."""

    def __init__(self) -> None:
        source = resources.files("jieba").joinpath("dict.txt")
        try:
            info = os.stat(str(source))
            self._key: tuple[object, ...] = (
                "jieba-dict",
                str(source),
                info.st_size,
                info.st_mtime_ns,
                _jieba_version(),
                _FORMAT,
            )
        except OSError:  # not a plain file (a zipped install): build every time
            self._key = ()
        self.given_counts: dict[str, int] = self._cached("lexicon", (), lambda: _built()[0][1])
        #: The same search in C (``_segment.c``), where that optional extension was built.
        self.native = self._native_segmenter()

    def _cached(self, name: str, extra: tuple[object, ...], build: Callable[[], Any]) -> Any:
        return load_or_build(name, (*self._key, *extra), build) if self._key else build()

    def _native_segmenter(self) -> Any:
        native = native_module()
        if native is None:
            return None

        def build() -> bytes:
            return native.Segmenter(self.single, self.pairs, self.logp, self.starts3, self.words).dump()

        # the bytes are this build's structs: the key names their format and the machine
        blob = self._cached(
            "lexicon_native", (native.FORMAT, platform.machine(), struct.calcsize("P")), build
        )
        try:
            return native.Segmenter.load(blob)
        except ValueError:  # written by another build of the extension
            return native.Segmenter.load(build())

    @functools.cached_property
    def words(self) -> dict[str, tuple[int, str]]:
        return self._cached("lexicon_words", (), lambda: _built()[0][0])

    # The Python segmenter's tables, loaded on first use (cached_property: then plain attributes).
    @functools.cached_property
    def _search(self) -> tuple[Any, ...]:
        return self._cached("lexicon_search", (), lambda: _built()[1])

    @functools.cached_property
    def logp(self) -> dict[str, float]:
        return self._search[0]

    @functools.cached_property
    def floor(self) -> float:
        return self._search[1]

    @functools.cached_property
    def single(self) -> dict[str, float]:
        return self._search[2]

    @functools.cached_property
    def pairs(self) -> dict[str, float]:
        return self._search[3]

    @functools.cached_property
    def starts3(self) -> frozenset[str]:
        return frozenset(self._search[4])


#: The layout of the tables ``_built`` returns: change it whenever they change, so that a cache
#: written by another version of this module is not read.
_FORMAT = 3


def _jieba_version() -> str:
    try:
        return metadata.version("jieba")
    except metadata.PackageNotFoundError:
        return "unknown"


@functools.cache
def _built() -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """The lexicon's tables, from jieba's ``dict.txt``, as plain dicts, floats and tuples (what the
    cache can keep): ``((words, given_counts), (logp, floor, single, pairs, starts3))``. Built at
    most once per process, whichever cache entry asks first."""
    dictionary = resources.files("jieba").joinpath("dict.txt").read_text("utf-8")
    rows = _ROW_RE.findall(dictionary)
    words: dict[str, tuple[int, str]] = {w: (int(f), pos) for w, f, pos in rows}
    log_total = math.log(sum(f for f, _ in words.values()))
    #: jieba's score of a word: log(freq) - log(total); words of up to five characters (longer
    #: ones never decide where a name of two to four characters ends).
    logp: dict[str, float] = {w: math.log(f) - log_total for w, (f, _) in words.items() if f and len(w) <= 5}
    floor = -log_total  # a character jieba does not know: log(1) - log(total)
    #: The segmenter's two look-ups at every place, in small tables that stay in the CPU cache
    #: (measured: faster than the one table of 340,000 words): every CJK ideograph (the only
    #: characters it scores) with its score or the floor, and the two-character words.
    single: dict[str, float] = {ch: logp.get(ch, floor) for ch in map(chr, range(0x4E00, 0xA000))}
    pairs: dict[str, float] = {w: p for w, p in logp.items() if len(w) == 2}
    #: The first two characters of every word of three to five: where no such word starts, the
    #: segmenter looks no further than two characters (most places in a name; a small version
    #: of the prefix table jieba builds for the same purpose).
    starts3 = tuple(sorted({w[:2] for w in logp if len(w) > 2}))
    given: Counter[str] = Counter()
    for w, (_, pos) in words.items():
        if pos == "nr" and len(w) == 3:
            given[w[1]] += 1
            given[w[2]] += 1
    #: How often a character appears in the given names of jieba's three-character names.
    return (words, dict(given)), (logp, floor, single, pairs, starts3)


_ROW_RE = re.compile(r"^(\S+) (\d+) (\S+)$", re.MULTILINE)
_lexicon: _Lexicon | None = None


def _get() -> _Lexicon:
    global _lexicon
    if _lexicon is None:
        with _lock:
            if _lexicon is None:
                _lexicon = _Lexicon()
    return _lexicon


def word(text: str) -> tuple[int, str] | None:
    """``(frequency, part-of-speech tag)`` of a dictionary word, or None
    (``nr``: person name, ``ns``: place name, ``n``: noun, ``v``: verb...)."""
    return _get().words.get(text)


#: The C dictionary's code of the place tag (``ns``), as ``Segmenter.word`` gives it.
_NATIVE_PLACE = 2


def is_place(text: str) -> bool:
    """Whether ``text`` is a dictionary word tagged as a place name (``ns``). Asked of the C dictionary
    where it is in use, so the Python table (~19 MB) is not loaded for it."""
    lex = _get()
    if lex.native is not None:
        if not text or max(text) > "\uffff":
            return False  # (jieba has no word beyond the Basic Multilingual Plane)
        info = lex.native.word(text)
        return info is not None and info[1] == _NATIVE_PLACE
    info = lex.words.get(text)
    return info is not None and info[1] == "ns"


def word_table() -> dict[str, tuple[int, str]]:
    """The table behind :func:`word` (for callers that look up many strings in a row)."""
    return _get().words


def given_name_count(ch: str) -> int:
    """How often ``ch`` occurs in the given names of the dictionary's three-character names."""
    return _get().given_counts.get(ch, 0)


def boundaries(text: str, lo: int, hi: int) -> set[int]:
    """Word boundaries (absolute offsets) that jieba's dictionary segmenter puts in ``text[lo:hi]``,
    the ends included.

    The same maximum-probability path over the word graph as ``jieba.cut(HMM=False)``, written
    out here over jieba's own frequency table: the candidate windows are a dozen characters,
    where jieba's generator and regex block splitting cost several times the search itself.
    Characters other than CJK ideographs are boundaries on both sides (jieba's blocks)."""
    return set(boundary_list(text, lo, hi))


_NON_CJK_RE = re.compile("[^\u4e00-\u9fff]")


def boundary_list(text: str, lo: int, hi: int) -> list[int]:
    """:func:`boundaries` as a sorted list (the name detector wants the next boundary after a
    position and the boundaries inside a span, which a sorted list gives without sorting).
    ``0 <= lo`` and ``hi <= len(text)``."""
    lex = _get()
    if lex.native is not None:
        return lex.native.boundary_list(text, lo, hi)
    return _boundary_list_python(text, lo, hi, lex)


def native_segmenter_in_use() -> Any:
    """The C segmenter :func:`boundary_list` uses, or None (the name detector's C check uses it too)."""
    return _get().native


def given_name_counts() -> dict[str, int]:
    """The table behind :func:`given_name_count`."""
    return _get().given_counts


def _boundary_list_python(text: str, lo: int, hi: int, lex: _Lexicon) -> list[int]:
    """:func:`boundary_list` in Python: the reference the C version is held to, and what runs
    without it."""
    if lo >= hi:
        return sorted({lo, hi})
    out = [lo]
    if _NON_CJK_RE.search(text, lo, hi) is None:  # the usual window: one run of ideographs
        if hi - lo > 1:
            _best_path(text[lo:hi], lo, out, lex)
        else:
            out.append(hi)
        return out
    start = lo
    while start < hi:
        # one run of ideographs
        while start < hi and not ("\u4e00" <= text[start] <= "\u9fff"):
            start += 1
            out.append(start)
        end = start
        while end < hi and "\u4e00" <= text[end] <= "\u9fff":
            end += 1
        if end - start > 1:
            _best_path(text[start:end], start, out, lex)
        elif end > start:
            out.append(end)
        start = end
    return out


def _best_path(run: str, base: int, out: list[int], lex: _Lexicon) -> None:
    """Append to ``out`` the boundaries (offset ``base``) of jieba's best path through ``run``, a
    run of two or more ideographs: from the end backwards, the best score of the rest of the run
    from each position and the length of the word that starts it."""
    single, pairs, logp, starts3 = lex.single, lex.pairs, lex.logp, lex.starts3
    n = len(run)
    best = [0.0] * (n + 1)
    step = [1] * (n + 1)
    best[n - 1] = single[run[n - 1]] + 0.0
    for i in range(n - 2, -1, -1):
        # jieba's scores; a single character is always a word
        top = single[run[i]] + best[i + 1]
        length = 1
        two = run[i : i + 2]
        p = pairs.get(two)
        if p is not None and p + best[i + 2] > top:
            top = p + best[i + 2]
            length = 2
        if two in starts3:
            for k in range(i + 3, min(n, i + 5) + 1):
                p = logp.get(run[i:k])
                if p is not None and p + best[k] > top:
                    top = p + best[k]
                    length = k - i
        best[i] = top
        step[i] = length
    i = 0
    while i < n:
        i += step[i]
        out.append(base + i)
