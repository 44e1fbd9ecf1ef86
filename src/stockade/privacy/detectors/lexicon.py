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

Loaded lazily, once per process (about a second, ~60 MB); nothing is downloaded.
"""

from __future__ import annotations

import logging
import math
import threading
from collections import Counter
from functools import cache
from importlib import resources

_lock = threading.Lock()


class _Lexicon:
    def __init__(self) -> None:
        import jieba

        jieba.setLogLevel(logging.WARNING)
        self.tokenizer = jieba.dt  # the default tokenizer, shared with evaluation's word BLEU
        words: dict[str, tuple[int, str]] = {}
        given: Counter[str] = Counter()
        dictionary = resources.files("jieba").joinpath("dict.txt").read_text("utf-8")
        for line in dictionary.splitlines():
            parts = line.split(" ")
            if len(parts) != 3:
                continue
            w, freq, pos = parts
            if 2 <= len(w) <= 4:
                words[w] = (int(freq), pos)
                if pos == "nr" and len(w) == 3:
                    given[w[1]] += 1
                    given[w[2]] += 1
        self.words = words
        #: How often a character appears in the given names of jieba's three-character names.
        self.given_counts = given
        self.tokenizer.initialize()
        # log P(word) as jieba scores it (log(freq or 1) - log(total)), and every prefix of a word.
        total = math.log(self.tokenizer.total)
        self.logp: dict[str, float] = {}
        self.prefixes: set[str] = set()
        for w, freq in self.tokenizer.FREQ.items():
            if freq:
                self.logp[w] = math.log(freq) - total
                for k in range(2, len(w)):
                    self.prefixes.add(w[:k])
                self.prefixes.add(w)
        self.floor = -total  # an unknown single character: log(1) - log(total)


_lexicon: _Lexicon | None = None


def _get() -> _Lexicon:
    global _lexicon
    if _lexicon is None:
        with _lock:
            if _lexicon is None:
                _lexicon = _Lexicon()
    return _lexicon


def word(text: str) -> tuple[int, str] | None:
    """``(frequency, part-of-speech tag)`` of a dictionary word of 2-4 characters, or None
    (``nr``: person name, ``ns``: place name, ``n``: noun, ``v``: verb...)."""
    return _get().words.get(text)


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
    lex = _get()
    logp, prefixes, floor = lex.logp, lex.prefixes, lex.floor
    out = {lo, hi}
    start = lo
    while start < hi:
        # one run of ideographs
        while start < hi and not ("\u4e00" <= text[start] <= "\u9fff"):
            start += 1
            out.add(start)
        end = start
        while end < hi and "\u4e00" <= text[end] <= "\u9fff":
            end += 1
        n = end - start
        if n > 1:
            best = [0.0] * (n + 1)
            step = [1] * (n + 1)
            for i in range(n - 1, -1, -1):
                top = logp.get(text[start + i], floor) + best[i + 1]
                length = 1
                k = i + 2
                while k <= n:
                    word = text[start + i : start + k]
                    if word not in prefixes:
                        break
                    p = logp.get(word)
                    if p is not None and p + best[k] > top:
                        top = p + best[k]
                        length = k - i
                    k += 1
                best[i] = top
                step[i] = length
            i = 0
            while i < n:
                i += step[i]
                out.add(start + i)
        else:
            out.add(end)
        start = end
    return out


@cache
def warm() -> None:
    """Load the dictionary now (a worker pool calls this before its first chunk)."""
    _get()
