"""The name detector's fast paths give exactly what the plain ones give.

* :func:`lexicon.boundary_list` (small score tables for single characters and two-character words,
  a sorted list, one search for a window of ideographs only) is held to the plain maximum-probability
  search over jieba's table, written out here with a look-up of every length at every place, on every
  short window of real text (windows with digits, Latin letters and punctuation included);
* the romanised-name search skips the Latin words of a text unless the pinyin of a name's surname and
  of its given name's first character occur in it: spellings in any case, order and spelling of ü,
  next to ideographs or punctuation, are still found;
* patterns written with their first character apart (for ``re``'s fast scan) match as the plain ones.
"""

from __future__ import annotations

import json
import math
from functools import cache
from pathlib import Path

import pytest

from stockade.privacy.detectors import detect_all, lexicon
from stockade.privacy.detectors.person import PersonDetector

FIXTURE = Path(__file__).parents[1] / "fixtures" / "llamafactory-data" / "alpaca_zh_demo.json"


@cache
def _table() -> tuple[dict[str, float], float]:
    words = lexicon.word_table()
    log_total = math.log(sum(f for f, _ in words.values()))
    logp = {w: math.log(f) - log_total for w, (f, _) in words.items() if f and len(w) <= 5}
    return logp, -log_total


def _plain_boundaries(text: str, lo: int, hi: int) -> set[int]:
    """The segmenter as first written: a score look-up for every length up to five at every place."""
    logp, floor = _table()
    out = {lo, hi}
    start = lo
    while start < hi:
        while start < hi and not ("\u4e00" <= text[start] <= "\u9fff"):
            start += 1
            out.add(start)
        end = start
        while end < hi and "\u4e00" <= text[end] <= "\u9fff":
            end += 1
        n = end - start
        best = [0.0] * (n + 1)
        step = [1] * (n + 1)
        for i in range(n - 1, -1, -1):
            top = logp.get(text[start + i], floor) + best[i + 1]
            length = 1
            for k in range(i + 2, min(n, i + 5) + 1):
                p = logp.get(text[start + i : start + k])
                if p is not None and p + best[k] > top:
                    top = p + best[k]
                    length = k - i
            best[i] = top
            step[i] = length
        i = 0
        while i < n:
            i += step[i]
            out.add(start + i)
        out.add(end)
        start = end
    return out


def _texts() -> list[str]:
    records = json.loads(FIXTURE.read_text("utf-8"))[:40]
    texts = [r["instruction"] + r["input"] + r["output"] for r in records]
    return [
        *texts,
        "客户：多次致电其亲属卢建华，ID 620123 必要时发送律师函。Beneficiary: LUO XIAOMING 罗晓明",
    ]


def _python_search(text: str, lo: int, hi: int) -> list[int]:
    return lexicon._boundary_list_python(text, lo, hi, lexicon._get())


def _segmenters() -> list:
    """Both versions of the search: the Python one, and the C one where it is built."""
    native = lexicon._get().native
    return [
        pytest.param(_python_search, id="python"),
        pytest.param(native.boundary_list if native else None, id="native"),
    ]


@pytest.mark.parametrize("boundary_list", _segmenters())
def test_the_segmenter_is_the_plain_search_on_every_short_window(boundary_list) -> None:
    if boundary_list is None:
        pytest.skip("the optional C extension is not built here (tests/privacy/test_native_segment.py)")
    checked = 0
    for text in _texts():
        for lo in range(0, len(text), 3):
            for width in (0, 1, 2, 5, 9, 11, 12, 14):
                hi = min(len(text), lo + width)
                expected = _plain_boundaries(text, lo, hi)
                assert lexicon.boundaries(text, lo, hi) == expected, (text[lo:hi], lo, hi)
                assert boundary_list(text, lo, hi) == sorted(expected), (text[lo:hi], lo, hi)
                checked += 1
    assert checked > 10_000


@pytest.mark.parametrize(
    ("text", "spelling"),
    [
        ("收款人：罗晓明 Beneficiary: luo XiaoMing", "luo XiaoMing"),  # any case
        ("收款人：罗晓明（LUO XIAO-MING）", "LUO XIAO-MING"),  # between full-width brackets
        ("收款人：罗晓明，英文名Xiaoming Luo。", "Xiaoming Luo"),  # glued to ideographs
        ("客户欧阳娜娜 ref OUYANG NANA", "OUYANG NANA"),  # compound surname
        ("收款人：吕律明，英文名 Lyu Lvming", "Lyu Lvming"),  # ü spelt yu and v
        ("客户：吕绿 ref LU LYU", "LU LYU"),  # ü spelt u, and yu in the given name
        ("收款人：罗晓明 Beneficiary: Xiao-Ming Luo", "Xiao-Ming Luo"),  # given name first, hyphenated
        ("客户：单雪 ref SHAN XUE", "SHAN XUE"),  # a surname's rarer reading (单 shan)
    ],
)
def test_romanised_spellings_are_found_whatever_surrounds_them(text: str, spelling: str) -> None:
    found = {text[s.start : s.end] for s in PersonDetector().detect(text)}
    assert spelling in found


def test_a_surname_pinyin_inside_another_word_is_no_spelling() -> None:
    text = "收款人：罗晓明 branch: Luoyang Xiaomingcun Road"
    found = {text[s.start : s.end] for s in detect_all(text) if s.type == "person"}
    assert found == {"罗晓明"}


def test_patterns_written_for_the_fast_scan_match_as_the_plain_ones() -> None:
    """A pattern that starts with a repeat loses ``re``'s fast first-character scan, so a few are
    written with the first character apart; they must find exactly what the plain forms find."""
    import re

    from stockade.privacy.detectors import person

    cjk = "\u4e00-\u9fff"
    plain = {
        person._DOT_NAME_RE: re.compile(f"[{cjk}]{{2,7}}(?=[·•・])(?:[·•・][{cjk}]{{2,5}}){{1,2}}"),
        person._LATIN_RE: re.compile("[A-Za-z]{2}"),
        person._LATIN_PHRASE_RE: re.compile(r"[A-Za-z]+(?:[ ,\-]+[A-Za-z]+)+"),
        person._LATIN_WORD_RE: re.compile(r"[A-Za-z]+"),
    }
    texts = [
        *_texts(),
        "客户买买提·艾力来电，其妻阿依古丽·吐尔逊•热合曼・依明在场；马丁·路德·金；A·B；·艾力",
        "Beneficiary: LUO Xiao-ming, a b  cd,ef -gh i",
    ]
    for fast, slow in plain.items():
        for text in texts:
            assert [m.span() for m in fast.finditer(text)] == [m.span() for m in slow.finditer(text)], (
                fast.pattern,
                text[:40],
            )
