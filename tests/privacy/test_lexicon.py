"""The name detector's word knowledge: jieba's dictionary, and a segmenter written out over jieba's own
frequency table (for speed on a dozen characters) that must put boundaries where jieba.cut does."""

from __future__ import annotations

import jieba
import pytest

from stockade.privacy.detectors import lexicon

SENTENCES = [
    "多次致电其亲属卢建华未果必要时发送律师函",
    "紧急联系人黄某的母亲来电称客户王建国已还款",
    "西红柿黄瓜生菜胡萝卜都是常见的蔬菜",
    "降低成本提高医生和护士的工作效率",
    "请问是司马月庆本人吗我是银行的客服",
    "约七千五百万人将德语作为母语",
]


def _jieba(text: str) -> set[int]:
    out, p = {0}, 0
    for token in jieba.cut(text, HMM=False):
        p += len(token)
        out.add(p)
    return out


@pytest.mark.parametrize("text", SENTENCES)
def test_boundaries_are_jiebas(text: str) -> None:
    assert lexicon.boundaries(text, 0, len(text)) == _jieba(text)


def test_boundaries_of_a_window_are_offsets_in_the_text() -> None:
    text = "客户：多次致电其亲属卢建华"
    assert lexicon.boundaries(text, 3, len(text)) == {3 + b for b in _jieba(text[3:])}


def test_words_longer_than_five_characters_are_left_out_on_purpose() -> None:
    """The one known difference: they never decide where a name of two to four characters ends."""
    text = "我是中国工商银行的客服"
    assert {2, 8} <= _jieba(text) and 4 not in _jieba(text)  # 中国工商银行 is one word for jieba
    assert {2, 4, 8} <= lexicon.boundaries(text, 0, len(text))  # 中国|工商银行 here


def test_words_carry_frequency_and_part_of_speech() -> None:
    freq, pos = lexicon.word("黄瓜")
    assert freq > 0 and pos == "n"
    assert lexicon.word("卢建华") is None
    assert lexicon.given_name_count("华") > lexicon.given_name_count("瓜")


def test_cached_tables_equal_freshly_built_ones(tmp_path, monkeypatch) -> None:
    """The lexicon read back from the derived-data cache is the one built from dict.txt."""
    monkeypatch.setenv("STOCKADE_CACHE_DIR", str(tmp_path))
    built = lexicon._Lexicon()  # builds and writes the cache
    assert len(list(tmp_path.glob("lexicon-*.marshal"))) == 1
    assert built.single  # the Python segmenter's tables: an entry of their own, written on first use
    assert len(list(tmp_path.glob("lexicon_search-*.marshal"))) == 1
    cached = lexicon._Lexicon()  # reads them
    for name in ("words", "logp", "floor", "single", "pairs", "starts3", "given_counts"):
        assert getattr(cached, name) == getattr(built, name), name
    assert isinstance(cached.starts3, frozenset)
    assert cached.words["黄瓜"] == built.words["黄瓜"] and cached.words["黄瓜"][1] == "n"
    if built.native is not None:  # the C segmenter's tables, read back, are the ones built
        assert len(list(tmp_path.glob("lexicon_native-*.marshal"))) == 1
        fresh = lexicon.native_segmenter(built.single, built.pairs, built.logp, built.starts3, built.words)
        text = "必要时发送律师函，紧急联系人黄某（母亲）多次致电其亲属卢建华。中国工商银行客户经理张伟"
        for lo in range(len(text)):
            for hi in range(lo, min(len(text), lo + 14) + 1):
                assert cached.native.boundary_list(text, lo, hi) == fresh.boundary_list(text, lo, hi)
        tags = {"nr": 1, "ns": 2}
        words = list(built.words)
        assert len(words) > 300_000
        for w in words[::7]:  # (every word of jieba's is of the Basic Multilingual Plane)
            freq, tag = built.words[w]
            assert cached.native.word(w) == fresh.word(w) == (freq, tags.get(tag, 0)), w
        assert cached.native.word("卢建华") is None


def test_a_native_cache_entry_of_another_build_is_rebuilt(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("STOCKADE_CACHE_DIR", str(tmp_path))
    first = lexicon._Lexicon()
    if first.native is None:
        pytest.skip("the optional C extension is not built here")
    [entry] = tmp_path.glob("lexicon_native-*.marshal")
    real = lexicon.load_or_build

    def stale(name, key, build):  # the native entry holds bytes another build wrote
        return b"STKSEG01 not these bytes" if name == "lexicon_native" else real(name, key, build)

    monkeypatch.setattr(lexicon, "load_or_build", stale)
    again = lexicon._Lexicon()  # the bytes are refused by Segmenter.load: built from the tables
    assert again.native.dump() == first.native.dump()
    assert entry.exists()
