"""Metric values on hand-computed examples (Chinese text; the arithmetic is spelled out in each row)."""

from __future__ import annotations

import math

import pytest

from stockade.evaluation.metrics import (
    bleu4_chars,
    bleu4_words,
    exact_match,
    jieba_words,
    lcs_length,
    perplexity,
    rouge_l,
    score_pair,
)


@pytest.mark.parametrize(
    ("a", "b", "length"),
    [
        ("我爱北京天安门", "我爱北京", 4),
        ("今天天气很好", "今天天气不错", 4),
        ("ABCBDAB", "BDCABA", 4),
        ("", "x", 0),
    ],
)
def test_lcs(a: str, b: str, length: int) -> None:
    assert lcs_length(list(a), list(b)) == lcs_length(list(b), list(a)) == length


@pytest.mark.parametrize(
    ("candidate", "reference", "expected"),
    [
        ("我爱北京天安门", "我爱北京", 8 / 11),  # LCS 4: P 4/7, R 1 → 2·(4/7)/(11/7)
        ("今天天气很好", "今天天气不错", 2 / 3),  # LCS 4: P = R = 4/6
        ("利率 2.35%", "利率2.35%", 1.0),  # whitespace does not count
        ("存款", "贷款", 0.5),  # LCS 1: P = R = 1/2
        ("", "贷款", 0.0),
        ("", "", 1.0),
        ("甲乙丙", "丁戊", 0.0),
    ],
)
def test_rouge_l_on_characters(candidate: str, reference: str, expected: float) -> None:
    assert rouge_l(candidate, reference) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(
    ("candidate", "reference", "expected"),
    [
        ("今天天气很好", "今天天气很好", 1.0),
        # p1..p4 = 4/5, 3/4, 2/3, 1/2; equal lengths: no brevity penalty
        ("中国银行好", "中国银行坏", (4 / 5 * 3 / 4 * 2 / 3 * 1 / 2) ** 0.25),
        # every n-gram matches, but 4 characters against 6: BP = exp(1 - 6/4)
        ("中国银行", "中国银行股份", math.exp(-0.5)),
        # p1 = 4/4, p2 = 2/3; p3 = 0/2 → 1/(2·2), p4 = 0/1 → 1/(4·1) (method3); BP = exp(1 - 6/4)
        ("中国银行", "中国人民银行", math.exp(-0.5) * (1 * 2 / 3 * 1 / 4 * 1 / 4) ** 0.25),
        # clipping: one 的 in the reference; p2 0/3 → 1/6, p3 0/2 → 1/8, p4 0/1 → 1/8; c > r: BP 1
        ("的的的的", "的", (1 / 4 * 1 / 6 * 1 / 8 * 1 / 8) ** 0.25),
        ("甲乙丙", "丁戊己", 0.0),  # no unigram in common
        ("", "丁", 0.0),
    ],
)
def test_bleu4_on_characters(candidate: str, reference: str, expected: float) -> None:
    assert bleu4_chars(candidate, reference) == pytest.approx(expected, abs=1e-12)


def test_bleu4_on_jieba_words() -> None:
    assert jieba_words("我爱北京天安门") == ["我", "爱", "北京", "天安门"]
    assert jieba_words("我爱北京") == ["我", "爱", "北京"]
    assert bleu4_words("我爱北京天安门", "我爱北京天安门") == pytest.approx(1.0)
    # words 3 vs 4: p1 = p2 = p3 = 1, no 4-gram: 0/1 → 1/2; BP = exp(1 - 4/3)
    assert bleu4_words("我爱北京", "我爱北京天安门") == pytest.approx(math.exp(-1 / 3) * 0.5**0.25, abs=1e-12)
    # the same pair over characters (4 vs 7) scores differently: the unit matters
    assert bleu4_chars("我爱北京", "我爱北京天安门") == pytest.approx(math.exp(1 - 7 / 4), abs=1e-12)


@pytest.mark.parametrize(
    ("candidate", "reference", "expected"),
    [(" 1.27% ", "1.27%", 1.0), ("1.27", "1.27%", 0.0), ("不良率1.27%", "不良率 1.27%", 0.0)],
)
def test_exact_match(candidate: str, reference: str, expected: float) -> None:
    assert exact_match(candidate, reference) == expected


def test_perplexity_and_the_combined_scores() -> None:
    assert perplexity(3 * math.log(8), 3) == pytest.approx(8.0)
    assert math.isnan(perplexity(0.0, 0))
    scores = score_pair("我爱北京", "我爱北京天安门")
    assert scores["rouge_l"] == pytest.approx(2 * (4 / 4) * (4 / 7) / (1 + 4 / 7))
    assert scores["exact_match"] == 0.0 and set(scores) == {
        "rouge_l",
        "bleu4_char",
        "bleu4_word",
        "exact_match",
    }
