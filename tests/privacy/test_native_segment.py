"""The privacy detectors' C extension (``detectors/_segment.c``, optional) gives exactly what the
Python code it stands beside gives; that Python code runs where the extension is not built.

Each part is held to its Python twin: the word-boundary search (``lexicon._boundary_list_python``,
itself held to jieba's segmenter and the plain search in test_lexicon.py and test_person_speed.py)
on windows of realistic bank text, random strings and runs longer than its stack buffers; the
dictionary; the name check and ``name_at`` on every candidate and position of realistic text and
``alpaca_zh_demo``; the name detector's scans on that text and on random strings, and its
resolution of candidates; the grouped-number candidates on thousands of digit runs; the two rewrites of
the normalised view on random strings; the search of record-level consistency on random and
realistic records; and the name and grouped-number detectors end to end, with the extension and
without. In CI (``CI=true``) a missing extension fails instead of skipping, so
the path every user of a built wheel runs is the one tested.
"""

from __future__ import annotations

import functools
import json
import os
import random
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stockade.privacy import record
from stockade.privacy.corpus.realistic import generate_realistic
from stockade.privacy.detectors import _base, grouped, lexicon, person, resolve_overlaps
from stockade.privacy.detectors._base import digit_view
from stockade.privacy.engine import PrivacyEngine
from stockade.privacy.policy import PrivacyPolicy
from stockade.privacy.spans import PiiType, Span

try:
    from stockade.privacy.detectors import _segment
except ImportError:  # not built here (no C compiler when installed, or STOCKADE_BUILD_NATIVE=0)
    _segment = None

if _segment is None and os.environ.get("CI", "").lower() == "true":
    pytest.fail(
        "stockade.privacy.detectors._segment is not built: `make setup` (pip install -e .) compiles it "
        "with the system's C compiler",
        pytrace=False,
    )
ALPACA_ZH = Path(__file__).parents[1] / "fixtures" / "llamafactory-data" / "alpaca_zh_demo.json"
pytestmark = pytest.mark.skipif(_segment is None, reason="the optional C extension is not built here")


def _python(text: str, lo: int, hi: int) -> list[int]:
    return lexicon._boundary_list_python(text, lo, hi, lexicon._get())


def _realistic_and_alpaca(count: int, seed: int) -> list[str]:
    """``count`` texts of the realistic corpus (``seed``), then the first ``count`` records of
    ``alpaca_zh_demo`` (instruction, input and output joined): bank text and ordinary text."""
    texts = [record.text for record in generate_realistic(count, seed)]
    records = json.loads(ALPACA_ZH.read_text("utf-8"))[:count]
    return texts + [r["instruction"] + r["input"] + r["output"] for r in records]


@functools.cache
def _native():
    lex = lexicon._get()
    return _segment.Segmenter(lex.single, lex.pairs, lex.logp, lex.starts3)


def test_the_lexicon_uses_it_unless_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    assert lexicon.native_segmenter_in_use() is not None
    lex = lexicon._get()
    monkeypatch.setenv("STOCKADE_NATIVE", "off")
    assert lexicon.native_segmenter(lex.single, lex.pairs, lex.logp, lex.starts3) is None
    monkeypatch.setenv("STOCKADE_NATIVE", "on")
    assert lexicon.native_segmenter(lex.single, lex.pairs, lex.logp, lex.starts3) is not None


def test_it_equals_the_python_search_on_windows_of_bank_text() -> None:
    native = _native()
    texts = [record.text for record in generate_realistic(120, 5)]
    rng = random.Random(11)
    checked = 0
    for text in texts:
        assert native.boundary_list(text, 0, len(text)) == _python(text, 0, len(text))
        for _ in range(60):
            lo = rng.randrange(len(text) + 1)
            hi = min(len(text), lo + rng.randrange(0, 24))
            assert native.boundary_list(text, lo, hi) == _python(text, lo, hi), (text[lo:hi], lo, hi)
            checked += 1
    assert checked > 5_000


# ideographs of real words (so the two- to five-character tables are hit), rare ones, and the other
# characters a window may hold
_WORDY = "中国工商银行客户经理张伟王芳李娜必要时发送律师函黄瓜母亲多次致电其亲属卢建华收款人罗晓明"
_ALPHABET = st.sampled_from(list(_WORDY) + list("丨丶乂亍亘亙亜鿿一") + list("0123456789 AZaz，。：·\n〇㐀"))


@settings(max_examples=300, deadline=None)
@given(st.lists(_ALPHABET, max_size=90).map("".join), st.data())
def test_it_equals_the_python_search_on_random_strings(text: str, data: st.DataObject) -> None:
    native = _native()
    lo = data.draw(st.integers(0, len(text)))
    hi = data.draw(st.integers(lo, len(text)))
    assert native.boundary_list(text, lo, hi) == _python(text, lo, hi)
    assert native.boundary_list(text, 0, len(text)) == _python(text, 0, len(text))


def test_runs_longer_than_its_buffers() -> None:
    native = _native()
    paragraph = "".join(re.findall("[\u4e00-\u9fff]", Path(__file__).read_text("utf-8")))
    paragraph += "必要时发送律师函中国工商银行客户经理" * 40  # a run of hundreds of ideographs
    assert len(paragraph) > 300
    assert native.boundary_list(paragraph, 0, len(paragraph)) == _python(paragraph, 0, len(paragraph))
    assert native.boundary_list(paragraph, 7, 200) == _python(paragraph, 7, 200)


def test_empty_and_reversed_windows_and_bad_arguments() -> None:
    native = _native()
    assert native.boundary_list("张伟", 1, 1) == _python("张伟", 1, 1) == [1]
    assert native.boundary_list("张伟", 2, 1) == _python("张伟", 2, 1) == [1, 2]
    with pytest.raises(IndexError, match="within the text"):
        native.boundary_list("张伟", 0, 5)
    with pytest.raises(TypeError):
        native.boundary_list(b"zhang", 0, 2)
    with pytest.raises(TypeError):
        native.boundary_list("张伟", 0)
    with pytest.raises(RuntimeError, match="not initialised"):
        _segment.Segmenter.__new__(_segment.Segmenter).boundary_list("张伟", 0, 2)
    lex = lexicon._get()
    with pytest.raises(ValueError, match="no score for U\\+4e00"):
        _segment.Segmenter({}, lex.pairs, lex.logp, lex.starts3)


def test_the_name_detector_finds_the_same_names_either_way(monkeypatch: pytest.MonkeyPatch) -> None:
    texts = [record.text for record in generate_realistic(200, 13)]
    detector = person.PersonDetector()
    person._CHECKED.clear()
    with_c = [detector.detect(text) for text in texts]
    assert person._native_checker is not None  # both C parts ran
    monkeypatch.setattr(lexicon._get(), "native", None)
    monkeypatch.setattr(person, "_native_checker", None)  # the check in C, built over the segmenter
    person._CHECKED.clear()  # the memory of checked candidates would answer without searching
    without = [detector.detect(text) for text in texts]
    person._CHECKED.clear()
    assert with_c == without
    assert sum(map(len, with_c)) > 300


def _candidates() -> list[tuple[str, int, int, int, bool]]:
    """Every candidate the name detector checks on realistic bank text and on alpaca_zh_demo, and
    random ones (any start and end, any strictness, titled or not) on the same texts."""
    texts = _realistic_and_alpaca(300, 17)
    calls: list[tuple[str, int, int, int, bool]] = []

    def record(*args):
        calls.append(args)
        return person._check_name_python(*args)

    detector = person.PersonDetector()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(person, "_check_name", record)
        patch.setattr(person, "_native_checker", None)  # (else the detector calls the C check directly)
        person._CHECKED.clear()
        for text in texts:
            detector.detect(text)
        person._CHECKED.clear()
    assert len(calls) > 1_000
    rng = random.Random(23)
    for text in texts:
        for _ in range(12):
            start = rng.randrange(len(text))
            calls.append(
                (
                    text,
                    start,
                    min(len(text), start + rng.randrange(1, 6)),
                    rng.choice((person.AFTER_CONTEXT, person.AFTER_VERB, person.LOOSE)),
                    rng.random() < 0.3,
                )
            )
    return calls


def _outcome(check, args):
    try:
        return check(*args)
    except IndexError:
        return IndexError


def test_with_the_extension_the_detectors_never_load_the_python_word_table() -> None:
    """The Python dictionary (~19 MB, a fraction of a second to load) is the fallback's: with the C
    extension in use, scanning bank text (Mongolian name elements before a place among it) asks the C
    dictionary only."""
    lexicon._get().__dict__.pop("words", None)  # (a cached_property: loaded on first use)
    engine = PrivacyEngine(PrivacyPolicy(), b"k" * 32)
    for record_ in generate_realistic(200, 47):
        engine.desensitize(record_.text)
    engine.desensitize("经营实体：呼和浩特新创电子商务有限公司，联系人：乌兰，申请人于慧炜补充说明")
    assert "words" not in lexicon._get().__dict__


def test_the_name_check_equals_the_python_check_on_every_candidate() -> None:
    checker = person._build_native_checker()
    assert checker is not None
    results = {"name": 0, "none": 0}
    for args in _candidates():
        expected = _outcome(person._check_name_python, args)
        assert _outcome(checker.check_name, args) == expected, (
            args[0][max(0, args[1] - 5) : args[2] + 5],
            args[1:],
        )
        results["none" if expected is None else "name"] += 1
    assert min(results.values()) > 200  # both outcomes are well represented


@pytest.mark.parametrize(
    ("text", "start", "end", "strict", "titled"),
    [
        ("必要时发送律师函", 2, 4, True, False),  # 时发: the end falls inside 发送
        ("紧急联系人黄某（母亲）", 5, 7, False, False),  # 黄某: shortened names are kept as they are
        ("卢玉兰还款", 0, 3, True, False),  # no trigger word at the very start of a text
        ("请问是江华振吗？", 3, 6, True, False),  # surname glued to a rare word: 江华|振
        ("上次是林中珍陪我去的", 3, 6, True, False),  # ... to a frequent one: 林中|珍
        ("经查，王建国来电", 3, 6, True, False),  # a name the dictionary lists, given name a place
        ("请问是周正东吗？", 3, 6, True, False),  # a rare place as the given name
        ("请问是荣立吗？", 3, 5, person.AFTER_VERB, False),  # a rare word tagged nr ...
        ("请问是荣立吗？", 3, 5, person.LOOSE, False),  # ... not when found loosely
        ("他给牛群喂草", 2, 4, person.LOOSE, False),
        ("请问是司马卫吗？", 3, 6, person.AFTER_VERB, False),  # a compound surname's listed name
        ("据公孙悦毅反映", 1, 5, person.AFTER_VERB, False),  # a compound surname split: 公|孙悦|毅
        ("客户王先生", 2, 3, False, True),  # a bare surname before a title
        ("约7500万人将德语", 6, 8, True, False),  # after a digit
        ("他叫张三", 2, 4, False, False),
    ],
)
def test_the_name_check_on_the_hard_cases(text: str, start: int, end: int, strict: int, titled: bool) -> None:
    checker = person._build_native_checker()
    args = (text, start, end, strict, titled)
    assert checker.check_name(*args) == person._check_name_python(*args)


def test_the_name_check_refuses_bad_arguments() -> None:
    checker = person._build_native_checker()
    with pytest.raises(IndexError, match="start <= end"):
        checker.check_name("张伟", 1, 0, False, False)
    with pytest.raises(IndexError):
        checker.check_name("张伟", 0, 9, False, False)
    with pytest.raises(TypeError):
        checker.check_name("张伟", 0, 2)
    with pytest.raises(ValueError, match="strict must be 0, 1 or 2"):
        checker.check_name("张伟", 0, 2, 3, False)
    with pytest.raises(RuntimeError, match="not initialised"):
        _segment.NameChecker.__new__(_segment.NameChecker).check_name("张伟", 0, 2, False, False)
    lex = lexicon._get()
    with pytest.raises(ValueError, match="compound_surnames: every item must be a str of 2"):
        _segment.NameChecker(lex.native, lexicon.word, lex.given_counts, {"王"}, {"欧"}, {"伟"})
    with pytest.raises(TypeError):
        _segment.NameChecker(object(), lexicon.word, lex.given_counts, {"王"}, {"欧阳"}, {"伟"})
    with pytest.raises(TypeError, match="callable"):
        _segment.NameChecker(lex.native, lex.words, lex.given_counts, {"王"}, {"欧阳"}, {"伟"})
    with pytest.raises(ValueError, match="without the dictionary"):
        _segment.NameChecker(_native(), lexicon.word, lex.given_counts, {"王"}, {"欧阳"}, {"伟"})


def test_name_at_equals_the_python_one_at_every_position() -> None:
    checker = person._build_native_checker()
    texts = _realistic_and_alpaca(150, 29)
    texts += [
        "向王经理",
        "于张先生处",
        "韩国强，",
        "张三生日",
        "客户于财务报表中",
        "王总",
        "欧阳娜娜女士",
        "李",
    ]
    found = 0
    for text in texts:
        for p in range(len(text) + 1):
            expected = person._name_at_python(text, p)
            assert checker.name_at(text, p) == expected, (text[max(0, p - 3) : p + 6], p)
            found += expected is not None
    assert found > 1_000


# Pieces of text around names: context words (and roles ending in 人), verbs, titles, surnames (single,
# compound, prepositions), given-name characters, followers, separators, words that veto or start
# one, punctuation, digits and Latin letters.
_SCAN_PIECES = [
    piece
    for group in (
        "客户 姓名 联系人 借款人 收款人 持卡人 人 个人 人文 人车 致电 给 请问是 上午 向 与 和 经办 尊敬的",
        "先生 女士 经理 总经理 总 主任 老师 王 张 李 欧阳 司马 于 向 明 车 文 江 华",
        "伟 建 国 丽 薇 琼 雅 振 来电 称 的 本人 反映 还款 身份证 余额 时发 感谢 高新区 某某",
        "： : （ ( “ 是 为 叫 ， 、 。 · 1 2024 A Li",
    )
    for piece in group.split()
] + [" ", "\n"]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(_SCAN_PIECES), max_size=24))
def test_the_name_scans_find_what_the_python_ones_find(pieces: list[str]) -> None:
    """collect_context and collect_loose (the scans of PersonDetector._after_context, _before_titles,
    _after_weak_context and _standalone, and what is done at each match) fill the same candidates."""
    text = "".join(pieces)
    checker = person._build_native_checker()
    detector = person.PersonDetector()
    expected: tuple[dict, set, dict] = ({}, set(), {})
    detector._after_context(text, expected[0])
    detector._before_titles(text, expected[0], expected[1])
    got: tuple[dict, set, dict] = ({}, set(), {})
    checker.collect_context(text, got[0], got[1])
    assert got[:2] == expected[:2], text
    # the loose scans see what the others found (p in found)
    detector._after_weak_context(text, expected[0], expected[2])
    detector._standalone(text, expected[0], expected[2])
    checker.collect_loose(text, got[0], got[2])
    assert got == expected, text


def test_the_name_scans_find_what_the_python_ones_find_on_bank_text() -> None:
    texts = _realistic_and_alpaca(300, 41)
    checker = person._build_native_checker()
    detector = person.PersonDetector()
    total = 0
    for text in texts:
        expected: tuple[dict, set, dict] = ({}, set(), {})
        detector._after_context(text, expected[0])
        detector._before_titles(text, expected[0], expected[1])
        detector._after_weak_context(text, expected[0], expected[2])
        detector._standalone(text, expected[0], expected[2])
        got: tuple[dict, set, dict] = ({}, set(), {})
        checker.collect_context(text, got[0], got[1])
        checker.collect_loose(text, got[0], got[2])
        assert got == expected, text
        total += len(expected[0])
    assert total > 1_000


def test_the_resolution_of_candidates_equals_the_python_one() -> None:
    """NameChecker.resolve gives the spans PersonDetector._resolve_python gives from the same candidates
    (every candidate of realistic text and alpaca_zh_demo, minority names and titles among them)."""
    texts = _realistic_and_alpaca(300, 43)
    checker = person._build_native_checker()
    detector = person.PersonDetector()
    kinds = {"spans": 0, "minority": 0, "titled": 0}
    for text in texts:
        found: dict = {}
        strict: dict = {}
        titled: set = set()
        minority: set = set()
        checker.collect_context(text, found, titled)
        detector._minority(text, found, minority)
        detector._mou(text, found)
        checker.collect_loose(text, found, strict)
        expected = detector._resolve_python(text, found, strict, titled, minority, checker.check_name)
        got = checker.resolve(text, found, strict, titled, minority, Span, PiiType.PERSON, detector.name)
        assert got == expected, text
        assert all(type(span) is Span for span in got)
        kinds["spans"] += len(got)
        kinds["minority"] += len(minority)
        kinds["titled"] += len(titled)
    assert kinds["spans"] > 1_000 and kinds["minority"] > 10 and kinds["titled"] > 100, kinds


def test_the_resolution_refuses_bad_arguments() -> None:
    checker = person._build_native_checker()
    args = ("客户张伟", {2: (4, 0.85)}, {}, set(), set(), Span, PiiType.PERSON, "person")
    assert checker.resolve(*args) == [Span(2, 4, PiiType.PERSON, 0.85, "person")]
    with pytest.raises(TypeError, match="resolve"):
        checker.resolve(*args[:7])
    with pytest.raises(TypeError, match="resolve"):
        checker.resolve(args[0], args[1], args[2], args[3], args[4], list, *args[6:])
    with pytest.raises(TypeError, match="every value"):
        checker.resolve(args[0], {2: 4}, *args[2:])
    with pytest.raises(IndexError):
        checker.resolve(args[0], {2: (9, 0.85)}, *args[2:])
    with pytest.raises(ValueError, match="strict values"):
        checker.resolve(args[0], args[1], {2: 5}, *args[3:])
    with pytest.raises(ValueError, match="bad span offsets"):
        checker.resolve("abc", {1: (1, 0.5)}, *args[2:])


def _unconfigured_checker():
    """A NameChecker over the real tables, before configure_candidates and configure_scans."""
    lex = lexicon._get()
    return _segment.NameChecker(
        lex.native,
        lexicon.word,
        lex.given_counts,
        person.SURNAMES,
        person.COMPOUND_SURNAMES,
        person.GIVEN_NAME_CHARS,
    )


def test_the_name_scans_need_their_tables_and_refuse_bad_arguments() -> None:
    checker = _unconfigured_checker()
    with pytest.raises(RuntimeError, match="configure_scans"):
        checker.collect_context("客户张伟", {}, set())
    built = person._build_native_checker()
    with pytest.raises(TypeError, match="collect_loose"):
        built.collect_loose("客户张伟", [], {})
    with pytest.raises(TypeError, match="strict must be a dict"):
        built.collect_loose("客户张伟", {}, set())
    with pytest.raises(TypeError, match="titled must be a set"):
        built.collect_context("客户张伟", {}, {})
    with pytest.raises(TypeError, match="found: every value"):
        built.collect_context("客户张伟", {2: 3}, set())
    with pytest.raises(TypeError, match="frozenset"):
        built.configure_scans(*[set()] * 7, "王", "王", "、")
    with pytest.raises(ValueError, match="1 to 16 characters"):
        built.configure_scans(frozenset({""}), *[frozenset()] * 6, "王", "王", "、")


def test_name_at_needs_its_tables() -> None:
    checker = _unconfigured_checker()
    with pytest.raises(RuntimeError, match="configure_candidates"):
        checker.name_at("客户张伟", 2)
    with pytest.raises(RuntimeError, match="configure_candidates"):  # (its end inside 成本)
        checker.check_name("请问是娄宏成本人吗", 3, 6, True, False)
    with pytest.raises(TypeError, match="frozenset"):
        checker.configure_candidates(list(person.TITLES), *[frozenset()] * 4, "的", "的", "向")
    with pytest.raises(ValueError, match="one character"):
        checker.configure_candidates(*[frozenset()] * 5, {"先生"}, "的", "向")
    with pytest.raises(IndexError):
        person._build_native_checker().name_at("张伟", 3)


def test_the_c_dictionary_is_the_dictionary_and_other_strings_go_to_python() -> None:
    lex = lexicon._get()
    assert lex.native.word("黄瓜") == (lex.words["黄瓜"][0], 0)  # a noun
    assert lex.native.word("王建国")[1] == 1  # nr
    assert lex.native.word("北京")[1] == 2  # ns
    assert lex.native.word("卢建华") is None
    assert lex.native.word("T恤") == (lex.words["T恤"][0], 0)  # words of other characters too
    with pytest.raises(ValueError, match="Basic Multilingual Plane"):
        lex.native.word("\U00020000")
    with pytest.raises(RuntimeError, match="without the dictionary"):
        _native().word("黄瓜")
    asked: list[str] = []

    def word(text: str):
        asked.append(text)
        return lexicon.word(text)

    checker = _segment.NameChecker(
        lex.native, word, lex.given_counts, person.SURNAMES, person.COMPOUND_SURNAMES, person.GIVEN_NAME_CHARS
    )
    odd = "王\U00020000伟"  # a candidate with a character beyond U+FFFF, which the C tables cannot hold
    assert checker.check_name(odd, 0, 3, False, False) == person._check_name_python(odd, 0, 3, False, False)
    assert asked == [odd]
    checker.check_name("客户张伟来电", 2, 4, False, False)
    checker.check_name("客户麦麦提·阿不都来电", 2, 9, False, False)  # a minority name: a dot inside
    assert asked == [odd]  # the C dictionary answers


def _digit_runs() -> list[tuple[str, int, int]]:
    """Every run of digit groups the grouped-number detector looks at, in realistic bank text and in
    random groupings (lengths, separators, a final X or x), on the detectors' normalised view."""
    texts = [record.text for record in generate_realistic(300, 37)]
    rng = random.Random(3)
    separators = [" ", ",", "，", "、", "/", "-", "－", "—", ", ", "， ", "、 ", " - ", "."]
    for _ in range(4_000):
        groups = ["".join(rng.choices("0123456789", k=rng.randint(1, 8))) for _ in range(rng.randint(2, 14))]
        if rng.random() < 0.3:
            groups[-1] += rng.choice("Xx")
        texts.append("号码" + "".join(g + rng.choice(separators) for g in groups[:-1]) + groups[-1] + "。")
    runs = []
    for text in texts:
        view, lo, hi = digit_view(text)
        runs += [
            (view, m.start(), m.end())
            for m in grouped._RUN_RE.finditer(view, lo, hi)
            if m.end() - m.start() >= 11
        ]
    return runs


def test_grouped_candidates_are_the_python_ones_less_those_no_check_accepts() -> None:
    detector = grouped.GroupedNumberDetector()
    runs = _digit_runs()
    assert len(runs) > 3_000
    kept = dropped = 0
    for view, start, end in runs:
        python = grouped._candidates_python(view, start, end)
        native = _segment.grouped_candidates(view, start, end)
        assert native == [c for c in python if c in native], view[start:end]  # the same, in order
        for candidate in python:
            if candidate not in native:  # left out in C: Python's checks refuse it too
                assert (
                    detector._classify(view, candidate[0], candidate[2], candidate[3], candidate[4]) is None
                )
                dropped += 1
        kept += len(native)
    assert kept > 1_000 and dropped > 1_000


def test_the_grouped_detector_finds_the_same_either_way(monkeypatch: pytest.MonkeyPatch) -> None:
    texts = [record.text for record in generate_realistic(300, 43)]
    detector = grouped.GroupedNumberDetector()
    with_c = [detector.detect(text) for text in texts]
    monkeypatch.setattr(grouped, "_native_candidates", lambda: None)
    assert [detector.detect(text) for text in texts] == with_c
    assert sum(map(len, with_c)) > 100
    with pytest.raises(IndexError):
        _segment.grouped_candidates("123", 0, 9)


_FOLD_ALPHABET = st.sampled_from(
    list("〇零一二三四五六七八九幺两十百千叉")  # spoken digits, 十百千 and the X of an ID read out
    + list(" ,，、-－—\u3000")  # the separators of spoken groups
    + list("号栋幢单元室楼层组弄户")  # units after which numerals are a number
    + list("0１９ＡＺａｚ＠．－＋xX的客户\U00020000")
)


@settings(max_examples=2_000, deadline=None)
@given(st.lists(_FOLD_ALPHABET, max_size=40).map("".join))
def test_the_normalised_view_is_built_alike(text: str) -> None:
    assert _segment.fold_chars(text) == _base._fold_chars_python(text)
    assert _segment.fold_numerals(text) == _base._fold_numerals_python(text)


def test_the_normalised_view_of_bank_text_is_built_alike() -> None:
    texts = [record.text for record in generate_realistic(300, 47)]
    texts += [
        "六二八二，八八六七，一二三四叉",
        "一百二十三号",
        "三单元五零二室",
        "幺三八 一二三四 五六七八",
        "一二三叉四五六",
    ]
    changed = 0
    for text in texts:
        assert _segment.fold_chars(text) == _base._fold_chars_python(text)
        assert _segment.fold_numerals(text) == _base._fold_numerals_python(text)
        changed += _segment.fold_numerals(text) != text
    assert changed > 50
    assert _base._folders() == (_segment.fold_chars, _segment.fold_numerals)


def _random_record(rng: random.Random) -> tuple[list[str], list[list[Span]]]:
    # a two-letter alphabet (values such as "aa" or "aba" overlap themselves in "aaab..."), or names
    # and digits that recur across a record's texts
    alphabet = rng.choice(["ab", "张伟卢玉兰某13800"])
    texts = [
        "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 30))) for _ in range(rng.randrange(1, 4))
    ]
    spans = []
    for text in texts:
        found = []
        for _ in range(rng.randrange(0, 5) if len(text) > 1 else 0):
            start = rng.randrange(0, len(text) - 1)
            end = rng.randrange(start + 1, min(len(text), start + 6) + 1)
            found.append(
                Span(start, end, rng.choice(list(PiiType)), rng.choice([0.6, 0.9]), rng.choice("ab"))
            )
        spans.append(resolve_overlaps(found))
    return texts, spans


def test_record_level_consistency_finds_the_same_occurrences() -> None:
    assert record._native_extras() is _segment.record_extras
    rng = random.Random(5)
    spread = 0
    for _ in range(4000):
        texts, spans = _random_record(rng)
        got = record.spread_values(texts, spans)
        assert got == record._spread_values_python(texts, spans), (texts, spans)
        spread += got != spans
    assert spread > 500
    engine = PrivacyEngine(PrivacyPolicy(), b"k" * 32)
    for doc in generate_realistic(200, 53):
        texts = [doc.text, doc.text[: len(doc.text) // 2], doc.text[len(doc.text) // 3 :]]
        spans = [engine.scan(text) for text in texts]
        assert record.spread_values(texts, spans) == record._spread_values_python(texts, spans)


def test_record_level_consistency_refuses_bad_arguments() -> None:
    span = Span(0, 2, PiiType.PERSON, 0.9, "person")
    assert _segment.record_extras(["张伟"], [[span]], 2) == [None]
    assert _segment.record_extras(["张伟"], [[]], 2) is None
    with pytest.raises(ValueError, match="one list of spans per text"):
        _segment.record_extras(["张伟", "x"], [[span]], 2)
    with pytest.raises(TypeError, match="lists"):
        _segment.record_extras(("张伟",), [[span]], 2)
    with pytest.raises(TypeError, match="tuple"):
        _segment.record_extras(["张伟"], [[object()]], 2)
    with pytest.raises(ValueError, match="start <= end"):
        _segment.record_extras(["张伟"], [[(2, 1)]], 2)
    with pytest.raises(ValueError, match="at least 1"):
        _segment.record_extras(["张伟"], [[span]], 0)


def test_the_built_module_needs_no_newer_c_library_than_the_bundles_target() -> None:
    """The install bundle targets manylinux_2_28 (glibc 2.28): the extension in its wheel may not
    ask for a newer versioned glibc symbol."""
    data = Path(_segment.__file__).read_bytes()
    versions = [tuple(map(int, v.split(b"."))) for v in re.findall(rb"GLIBC_(\d+\.\d+)", data)]
    assert all(v <= (2, 28) for v in versions), versions
