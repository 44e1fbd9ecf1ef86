"""Conversation -> token ids and labels: answers are learned, everything else is masked with -100.

Each segment of the rendered template is tokenized on its own with ``add_special_tokens=False`` (the
template text already holds bos and the control tokens), so a label boundary is always a token boundary.

Cutoff policy (``truncation="keep_answer"``, LLaMA-Factory-like), for a conversation longer than
``cutoff_len`` tokens:

1. keep the longest run of whole leading turns (prompt + answer) that fits; drop the rest;
2. if even the first turn does not fit, split ``cutoff_len`` between its prompt and answer: a side
   shorter than half is kept whole, else in proportion to their lengths with at least half for the
   answer (:func:`split_budget`); the prompt loses its *beginning* (its end, with the question and the
   assistant header, is kept), the answer loses its *end* (and so its end-of-turn token);
3. a result that trains on nothing is not returned: :class:`Skipped` says why, for the caller to count.

``truncation="drop"`` skips every conversation longer than ``cutoff_len`` instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from stockade.core.errors import ConfigError
from stockade.data.records import Conversation
from stockade.data.templates.base import ChatTemplateLike, Segment

IGNORE_INDEX = -100
TRUNCATION_POLICIES = ("keep_answer", "drop")
SkipReason = Literal["too_long", "no_trainable_tokens"]


@dataclass(frozen=True)
class EncodedExample:
    """One training example. ``labels[0]`` is always -100: nothing predicts the first token."""

    input_ids: list[int]
    labels: list[int]
    trainable_tokens: int  # labels that count in the (shifted) loss
    truncated: bool

    def __len__(self) -> int:
        return len(self.input_ids)


@dataclass(frozen=True)
class Skipped:
    """A conversation that yields no example; ``reason`` is stable, for counting."""

    reason: SkipReason
    detail: str


@dataclass(frozen=True)
class _Turn:
    prompt: list[int]
    answer: list[int]


def encode_conversation(
    conversation: Conversation,
    tokenizer: Any,
    template: ChatTemplateLike,
    *,
    cutoff_len: int,
    truncation: str = "keep_answer",
) -> EncodedExample | Skipped:
    """Render ``conversation`` with ``template``, tokenize it and mask everything but the answers.

    Every answer of a multi-turn conversation is trained on. See the module docstring for what happens
    beyond ``cutoff_len``; the result never has more than ``cutoff_len`` tokens.
    """
    if truncation not in TRUNCATION_POLICIES:
        raise ConfigError(
            f"unknown truncation policy {truncation!r}", fix=f"use one of: {', '.join(TRUNCATION_POLICIES)}"
        )
    if cutoff_len < 2:
        raise ConfigError(
            f"cutoff_len {cutoff_len} is too small", fix="use at least 2 (in practice 512 or more)"
        )
    turns, tail = _tokenize(template.render(conversation, tokenizer), tokenizer)
    if not turns:
        return Skipped("no_trainable_tokens", f"template {template.name!r} rendered no answer")
    total = sum(len(t.prompt) + len(t.answer) for t in turns) + len(tail)
    if total <= cutoff_len:
        return _example(turns, tail, truncated=False)
    if truncation == "drop":
        return Skipped("too_long", f"{total} tokens > cutoff_len {cutoff_len}")
    kept, used = 0, 0
    while kept < len(turns) and used + len(turns[kept].prompt) + len(turns[kept].answer) <= cutoff_len:
        used += len(turns[kept].prompt) + len(turns[kept].answer)
        kept += 1
    if kept:
        return _example(turns[:kept], [], truncated=True)
    first = turns[0]
    prompt_len, answer_len = split_budget(len(first.prompt), len(first.answer), cutoff_len)
    cut = _Turn(first.prompt[len(first.prompt) - prompt_len :], first.answer[:answer_len])
    return _example([cut], [], truncated=True)


def split_budget(prompt_len: int, answer_len: int, cutoff_len: int) -> tuple[int, int]:
    """(prompt, answer) token counts kept of an over-long first turn.

    A side shorter than half the budget is kept whole and the other gets the rest (LLaMA-Factory's
    ``infer_seqlen``); when both are long the budget is split in proportion, but the answer gets at
    least half. The prompt always keeps at least one token, so the first answer token is predicted.
    """
    if answer_len * 2 < cutoff_len:
        answer = answer_len
    elif prompt_len * 2 < cutoff_len:
        answer = cutoff_len - prompt_len
    else:
        answer = max(cutoff_len * answer_len // (prompt_len + answer_len), cutoff_len // 2)
    answer = min(answer, answer_len, cutoff_len - 1)
    return min(prompt_len, cutoff_len - answer), answer


def _tokenize(segments: list[Segment], tokenizer: Any) -> tuple[list[_Turn], list[int]]:
    """Group segments into turns (context, then trained text) plus context after the last answer."""
    ids = tokenizer([s.text for s in segments], add_special_tokens=False)["input_ids"] if segments else []
    turns: list[_Turn] = []
    prompt: list[int] = []
    answer: list[int] = []
    for segment, tokens in zip(segments, ids, strict=True):
        if not segment.trainable and answer:
            turns.append(_Turn(prompt, answer))
            prompt, answer = [], []
        (answer if segment.trainable else prompt).extend(tokens)
    if answer:
        turns.append(_Turn(prompt, answer))
        prompt = []
    return turns, prompt


def _example(turns: list[_Turn], tail: list[int], *, truncated: bool) -> EncodedExample | Skipped:
    input_ids: list[int] = []
    labels: list[int] = []
    for turn in turns:
        input_ids += turn.prompt + turn.answer
        labels += [IGNORE_INDEX] * len(turn.prompt) + turn.answer
    input_ids += tail
    labels += [IGNORE_INDEX] * len(tail)
    if labels:
        labels[0] = IGNORE_INDEX
    trainable = sum(label != IGNORE_INDEX for label in labels)
    if not trainable:
        return Skipped("no_trainable_tokens", "no answer token is left to learn from")
    return EncodedExample(input_ids, labels, trainable, truncated)


# --- stage pt: plain text ------------------------------------------------------------------------------


def encode_text(text: str, tokenizer: Any, *, cutoff_len: int) -> list[EncodedExample]:
    """A document for continued pre-training: its tokens (after bos, where the tokenizer adds one) and
    eos, so the model learns where a document ends; cut into pieces of at most ``cutoff_len`` tokens.
    Every token is learned but the first of each piece (nothing in the piece predicts it)."""
    if cutoff_len < 2:
        raise ConfigError(
            f"cutoff_len {cutoff_len} is too small", fix="use at least 2 (in practice 512 or more)"
        )
    eos = tokenizer.eos_token_id
    if eos is None:
        raise ConfigError(
            "the tokenizer has no end-of-sequence token to put between documents",
            fix="use a model whose tokenizer defines eos_token",
        )
    ids = list(tokenizer(text, add_special_tokens=False)["input_ids"])
    if getattr(tokenizer, "add_bos_token", False) and tokenizer.bos_token_id is not None:
        ids = [tokenizer.bos_token_id, *ids]
    ids.append(eos)
    truncated = len(ids) > cutoff_len
    pieces = [ids[start : start + cutoff_len] for start in range(0, len(ids), cutoff_len)]
    return [EncodedExample(p, [IGNORE_INDEX, *p[1:]], len(p) - 1, truncated) for p in pieces if len(p) >= 2]


# --- stage dpo / kto: a prompt and its last answer ------------------------------------------------------


@dataclass(frozen=True)
class PromptAnswer:
    """A conversation split before its last answer: everything before (context, never learned), the last
    answer (scored), and the template's text after it (context)."""

    prompt: list[int]
    answer: list[int]
    tail: list[int]


@dataclass(frozen=True)
class PairExample:
    """One preference pair, tokenized: the prompt with the chosen answer, and with the rejected one."""

    chosen: EncodedExample
    rejected: EncodedExample

    def __len__(self) -> int:
        return len(self.chosen) + len(self.rejected)


@dataclass(frozen=True)
class KtoEncoded:
    """One KTO example: its prompt and answer kept apart (the KL term pairs prompts with other answers)."""

    parts: PromptAnswer
    kto_tag: bool

    def __len__(self) -> int:
        return len(self.parts.prompt) + len(self.parts.answer) + len(self.parts.tail)


def split_last_answer(
    conversation: Conversation, tokenizer: Any, template: ChatTemplateLike
) -> PromptAnswer | Skipped:
    """The conversation rendered with ``template``; only its last answer is scored (LLaMA-Factory's
    pairwise and feedback data: earlier turns are the prompt)."""
    turns, tail = _tokenize(template.render(conversation, tokenizer), tokenizer)
    if not turns:
        return Skipped("no_trainable_tokens", f"template {template.name!r} rendered no answer")
    prompt: list[int] = []
    for turn in turns[:-1]:
        prompt += turn.prompt + turn.answer
    return PromptAnswer(prompt + turns[-1].prompt, turns[-1].answer, tail)


def fit_sequence(
    prompt: list[int], answer: list[int], tail: list[int], cutoff_len: int
) -> EncodedExample | Skipped:
    """prompt + answer + tail with only the answer learned, cut to ``cutoff_len`` as SFT cuts a first
    turn (:func:`split_budget`: the prompt loses its beginning, the answer its end)."""
    answer_part = answer + tail
    total = len(prompt) + len(answer_part)
    truncated = total > cutoff_len
    if truncated:
        prompt_len, answer_len = split_budget(len(prompt), len(answer_part), cutoff_len)
        prompt = prompt[len(prompt) - prompt_len :]
        answer, tail = answer[:answer_len], tail[: max(0, answer_len - len(answer))]
    input_ids = prompt + answer + tail
    labels = [IGNORE_INDEX] * len(prompt) + answer + [IGNORE_INDEX] * len(tail)
    if labels:
        labels[0] = IGNORE_INDEX
    trainable = sum(label != IGNORE_INDEX for label in labels)
    if not trainable:
        return Skipped("no_trainable_tokens", "no answer token is left to score")
    return EncodedExample(input_ids, labels, trainable, truncated)


def encode_pair(
    chosen: Conversation,
    rejected: Conversation,
    tokenizer: Any,
    template: ChatTemplateLike,
    *,
    cutoff_len: int,
) -> PairExample | Skipped:
    """A preference pair: both sequences share the prompt, cut alike (the budget of the longer answer)."""
    parts = [split_last_answer(c, tokenizer, template) for c in (chosen, rejected)]
    for part in parts:
        if isinstance(part, Skipped):
            return part
    good, bad = parts  # type: ignore[misc]
    longest = max(len(good.answer) + len(good.tail), len(bad.answer) + len(bad.tail))
    prompt = good.prompt
    if len(prompt) + longest > cutoff_len:  # cut the prompt once, for both
        prompt_len, _ = split_budget(len(prompt), longest, cutoff_len)
        prompt = prompt[len(prompt) - prompt_len :]
    sequences = [fit_sequence(prompt, p.answer, p.tail, cutoff_len) for p in (good, bad)]
    for sequence in sequences:
        if isinstance(sequence, Skipped):
            return sequence
    return PairExample(*sequences)  # type: ignore[arg-type]


@dataclass(frozen=True)
class KtoSample:
    """What a KTO step scores: the example (prompt + its answer) and its KL companion (the same prompt
    with another example's answer), with the example's tag (True: desirable)."""

    target: EncodedExample
    kl: EncodedExample
    kto_tag: bool

    def __len__(self) -> int:
        return len(self.target) + len(self.kl)


def kto_samples(encoded: list[KtoEncoded], cutoff_len: int) -> list[KtoSample]:
    """Each example with a mismatched companion for the KL estimate: example i's prompt with example
    i-1's answer (LLaMA-Factory's offset by one); examples that keep no answer token are dropped."""
    out = []
    for index, example in enumerate(encoded):
        other = encoded[index - 1].parts
        target = fit_sequence(example.parts.prompt, example.parts.answer, example.parts.tail, cutoff_len)
        kl = fit_sequence(example.parts.prompt, other.answer, other.tail, cutoff_len)
        if isinstance(target, EncodedExample) and isinstance(kl, EncodedExample):
            out.append(KtoSample(target, kl, example.kto_tag))
    return out
