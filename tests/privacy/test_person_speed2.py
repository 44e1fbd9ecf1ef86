"""Romanised echoes: the fast reading gives what the plain one gives.

* a Latin run's words are read with ``str`` methods, not a regex per run, and runs of one word are
  passed over: the same spans as the plain reading of every run (separators ``[ ,-]`` repeated or
  mixed, e-mail addresses);
* the first, necessary test drops the text's non-ASCII characters instead of replacing them: a
  reading that only straddles a dropped ideograph (``lu罗o``) lets a name through to the exact word
  tests, which still find no spelling there;
* a window is tested against the parts of a name's spellings (``_spelling``, ``_spells``), not the set
  of every spelling (``_romanised_keys``, which stays the specification).
"""

from __future__ import annotations

import re

import pytest

from stockade.privacy.detectors import person
from stockade.privacy.detectors.person import PersonDetector
from stockade.privacy.spans import PiiType, Span

_WORD = re.compile(r"[A-Za-z]+")
_RUN = re.compile(r"[A-Za-z]+(?:[ ,\-]+[A-Za-z]+)*")


def _plain_echoes(text: str, spans: list[Span]) -> list[Span]:
    """Every window of two to five words of every Latin run (regex words) that is one of the name's
    spellings (_romanised_keys: the specification)."""
    extra = []
    for span in spans:
        sl = person._surname_len(text, span.start)
        given = text[span.start + sl : span.end]
        if not (sl and given and re.fullmatch(r"[\u4e00-\u9fff]+", given) and "某" not in given):
            continue
        keys = person._romanised_keys(text[span.start : span.start + sl], given)
        for run in _RUN.finditer(text):
            words = list(_WORD.finditer(run.group()))
            i = 0
            while i < len(words):
                for j in range(min(len(words), i + 1 + len(given)), i + 1, -1):
                    if " ".join(w.group().lower() for w in words[i:j]) in keys:
                        start, end = run.start() + words[i].start(), run.start() + words[j - 1].end()
                        extra.append(Span(start, end, PiiType.PERSON, 0.8, "person"))
                        i = j - 1
                        break
                i += 1
    out: list[Span] = []
    for s in sorted([*spans, *extra]):
        if not out or s.start >= out[-1].end:
            out.append(s)
    return out


@pytest.mark.parametrize(
    ("text", "spelling"),
    [
        ("收款人：罗晓明 ref: x, LUO ,- XIAO,,MING and more", "LUO ,- XIAO,,MING"),
        ("收款人：罗晓明 a b  Luo   Xiaoming, c", "Luo   Xiaoming"),
        ("客户：罗晓明 ref xiao--ming-LUO end", "xiao--ming-LUO"),
        ("客户：罗晓明 AB,CD Xiaoming Luo", "Xiaoming Luo"),
        ("客户：罗晓明 mail luo.xiaoming@example.com; LUO XIAOMING", "LUO XIAOMING"),  # one-word runs
    ],
)
def test_runs_with_repeated_separators_give_the_plain_spans(text: str, spelling: str) -> None:
    chinese = [s for s in PersonDetector().detect(text) if "\u4e00" <= text[s.start] <= "\u9fff"]
    got = person._with_romanised_echoes(text, chinese, "person")
    assert got == _plain_echoes(text, chinese)
    assert spelling in {text[s.start : s.end] for s in got}


def test_a_run_without_a_spelling_adds_nothing() -> None:
    text = "收款人：罗晓明 ref: Luoyang, Xiao-Mingcun - Road"
    chinese = [s for s in PersonDetector().detect(text) if "\u4e00" <= text[s.start] <= "\u9fff"]
    assert person._with_romanised_echoes(text, chinese, "person") == chinese == _plain_echoes(text, chinese)


@pytest.mark.parametrize(
    "text",
    [
        "收款人：罗晓明 ref lu罗o xi晓ao-ming",  # readings straddle ideographs: no spelling
        "收款人：罗晓明 ref LUO xi中ao ming",  # the given syllable straddles one
        "收款人：罗晓明 ref LUO xiao中ming, LUO XIAO MING",  # and the real one later
        "客户：单雪 ref sh单an xue SHAN XUE",
    ],
)
def test_readings_across_dropped_ideographs_find_no_spelling(text: str) -> None:
    chinese = [s for s in PersonDetector().detect(text) if "\u4e00" <= text[s.start] <= "\u9fff"]
    assert person._with_romanised_echoes(text, chinese, "person") == _plain_echoes(text, chinese)


def test_the_phrase_scan_is_the_runs_of_two_words_or_more() -> None:
    """Against the plain run pattern, on every short string over letters, separators and others
    (the look-behind and possessive repeats of the fast pattern are easy to get wrong)."""
    import itertools

    for n in range(1, 7):
        for chars in itertools.product("aZ ,-.中", repeat=n):
            t = "".join(chars)
            runs = [m.span() for m in _RUN.finditer(t) if len(_WORD.findall(m.group())) >= 2]
            assert [m.span() for m in person._LATIN_PHRASE_RE.finditer(t)] == runs, t


@pytest.mark.parametrize(
    ("surname", "given"),
    [
        ("罗", "晓明"),
        ("单", "雪"),
        ("吕", "绿"),
        ("欧阳", "娜娜"),
        ("曾", "重行"),
        ("李", "乐乐"),
        ("长孙", "朝"),
        ("单", "差差"),
    ],
)
def test_a_window_spells_a_name_exactly_when_it_is_one_of_its_spellings(surname: str, given: str) -> None:
    """person._spells (the parts of a name's spellings, not every spelling built) against the set of
    spellings of _romanised_keys, on every spelling, on windows of the words they are made of, in
    every order of two to four, and on near misses."""
    import itertools

    keys = person._romanised_keys(surname, given)
    spelling = person._spelling(surname, given)
    if not keys:
        assert spelling is None  # more than 64 combinations of readings: no spelling at all
        return
    assert spelling is not None
    words = sorted({w for key in keys for w in key.split()} | {"xiao", "luo", "ming", "x"})
    windows = [key.split() for key in keys]
    windows += [list(w) for n in (2, 3) for w in itertools.product(words[:12], repeat=n)]
    windows += [[w + "x" for w in key.split()] for key in keys]
    for window in windows:
        assert person._spells(window, spelling) == (" ".join(window) in keys), window
    assert spelling[3] == frozenset(key.split(" ", 1)[0] for key in keys)
