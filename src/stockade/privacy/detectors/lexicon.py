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
    the ends included."""
    tokenizer = _get().tokenizer
    out = {lo}
    p = lo
    for token in tokenizer.cut(text[lo:hi], HMM=False):
        p += len(token)
        out.add(p)
    return out


@cache
def warm() -> None:
    """Load the dictionary now (a worker pool calls this before its first chunk)."""
    _get()
