"""Generation metrics that suit Chinese text, on plain strings (no torch).

* ROUGE-L: the F1 of the longest common subsequence of *characters* (whitespace dropped), so Chinese
  needs no word segmentation: ``P = LCS/len(candidate)``, ``R = LCS/len(reference)``, ``F = 2PR/(P+R)``.
* BLEU-4: sentence BLEU, clipped 1- to 4-gram precisions with equal weights and the brevity penalty
  ``exp(1 - r/c)`` when the candidate is shorter, over characters or over jieba words. Zero precisions
  are smoothed like NLTK's ``method3`` (as LLaMA-Factory does): the k-th zero becomes ``1/(2^k · n)``,
  with ``n`` the number of candidate n-grams (at least 1). No unigram match at all: 0.
* Exact match: equal after stripping surrounding whitespace.
* Perplexity: ``exp`` of the mean negative log-likelihood per answer token.

All scores are fractions in [0, 1]; reports show them as percentages.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Sequence

MAX_ORDER = 4


def characters(text: str) -> list[str]:
    return [ch for ch in text if not ch.isspace()]


def jieba_words(text: str) -> list[str]:
    import jieba

    jieba.setLogLevel(logging.WARNING)
    return [word for word in jieba.lcut(text) if word.strip()]


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence (dynamic programming, one row of memory)."""
    if len(a) < len(b):
        a, b = b, a
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b, start=1):
            current.append(previous[j - 1] + 1 if x == y else max(previous[j], current[j - 1]))
        previous = current
    return previous[-1]


def rouge_l(candidate: str, reference: str) -> float:
    """Character ROUGE-L F1; two empty strings score 1, one empty string 0."""
    cand, ref = characters(candidate), characters(reference)
    if not cand and not ref:
        return 1.0
    lcs = lcs_length(cand, ref)
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(cand), lcs / len(ref)
    return 2 * precision * recall / (precision + recall)


def _ngrams(tokens: Sequence[str], n: int) -> Counter[tuple[str, ...]]:
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def bleu4(candidate: Sequence[str], reference: Sequence[str]) -> float:
    """Sentence BLEU-4 of token sequences (see the module docstring for the smoothing)."""
    if not candidate or not reference:
        return 1.0 if not candidate and not reference else 0.0
    precisions = []
    for n in range(1, MAX_ORDER + 1):
        cand, ref = _ngrams(candidate, n), _ngrams(reference, n)
        matches = sum(min(count, ref[gram]) for gram, count in cand.items())
        precisions.append((matches, max(1, sum(cand.values()))))
    if precisions[0][0] == 0:
        return 0.0
    zeros, logs = 0, []
    for matches, total in precisions:
        if matches == 0:
            zeros += 1
            logs.append(math.log(1 / (2**zeros * total)))
        else:
            logs.append(math.log(matches / total))
    c, r = len(candidate), len(reference)
    brevity = 1.0 if c > r else math.exp(1 - r / c)
    return brevity * math.exp(sum(logs) / MAX_ORDER)


def bleu4_chars(candidate: str, reference: str) -> float:
    return bleu4(characters(candidate), characters(reference))


def bleu4_words(candidate: str, reference: str) -> float:
    return bleu4(jieba_words(candidate), jieba_words(reference))


def exact_match(candidate: str, reference: str) -> float:
    return 1.0 if candidate.strip() == reference.strip() else 0.0


def perplexity(total_nll: float, tokens: int) -> float:
    return math.exp(total_nll / tokens) if tokens else float("nan")


def score_pair(candidate: str, reference: str) -> dict[str, float]:
    """Every generation metric of one prediction against its reference."""
    return {
        "rouge_l": rouge_l(candidate, reference),
        "bleu4_char": bleu4_chars(candidate, reference),
        "bleu4_word": bleu4_words(candidate, reference),
        "exact_match": exact_match(candidate, reference),
    }
