"""Constrained decoding: a request's grammar (a JSON schema, a regex, a Lark grammar) turned into a token
mask applied to its row's logits at every step, so the output follows the grammar (and parses whenever
it ends within the request's token limit).

The library is llguidance (MIT; Rust with Python bindings, no dependencies, runs on CPU). It was chosen by
measurement against outlines-core (Apache-2.0) on the tiny Qwen2 tokenizer, 20 JSON schemas of growing
depth, random walks through each grammar (the serving rows of BENCHMARKS.md): llguidance compiled the
20 grammars in 34-37 ms CPU and computed masks in 28-78 us CPU per token; outlines-core precomputes an
index per schema and vocabulary (591-703 ms CPU for the 20, and it grows with the vocabulary) then looks
masks up in 2-5 us. Per-request schemas make compile time the cost that matters. xgrammar (Apache-2.0)
was not measured: its wheel requires triton and apache-tvm-ffi, which do not belong on a CPU server.

JSON is generated without free whitespace and with Python's separators (", ", ": "), which is how
LLaMA-Factory writes tool calls in training data, and which keeps a model from padding with blanks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from stockade.serving.errors import InvalidRequest

JSON_OPTIONS = {"whitespace_flexible": False, "item_separator": ", ", "key_separator": ": "}
KINDS = ("json_schema", "regex", "lark")


@dataclass(frozen=True)
class Constraint:
    """A request's grammar: ``kind`` one of KINDS, ``source`` its text (JSON for a schema), ``field`` the
    request field it came from (named in errors)."""

    kind: str
    source: str
    field: str

    def grammar(self) -> str:
        import llguidance

        if self.kind == "json_schema":
            return llguidance.LLMatcher.grammar_from_json_schema(self.source, overrides=JSON_OPTIONS)
        if self.kind == "regex":
            return llguidance.LLMatcher.grammar_from_regex(self.source)
        return llguidance.LLMatcher.grammar_from_lark(self.source)


def json_schema(schema: Any, field: str) -> Constraint:
    """Output that validates against ``schema`` (a JSON schema object)."""
    if not isinstance(schema, dict):
        raise InvalidRequest(f"{field}: the schema must be a JSON object", fix="send a JSON schema object")
    return Constraint("json_schema", json.dumps(schema, ensure_ascii=False), field)


def json_object(field: str) -> Constraint:
    """Any JSON object (OpenAI's ``json_object``, TGI's ``json`` grammar without a schema)."""
    return json_schema({"type": "object"}, field)


def regex(pattern: str, field: str) -> Constraint:
    return Constraint("regex", pattern, field)


def lark(grammar: str, field: str) -> Constraint:
    return Constraint("lark", grammar, field)


class Grammars:
    """Builds per-request matchers for one tokenizer; ``vocab`` is the model's logits width (it may be
    larger than the tokenizer's); ``eos_ids`` the tokens that end a request (allowed when the grammar is
    complete)."""

    def __init__(self, tokenizer: Any, vocab: int, eos_ids: frozenset[int]) -> None:
        import llguidance.hf

        self.vocab = vocab
        words = max(len(tokenizer), max(eos_ids, default=0) + 1)
        try:
            self.tokenizer = llguidance.hf.from_tokenizer(
                tokenizer, n_vocab=words, eos_token=sorted(eos_ids) or None
            )
        except TypeError:
            # llguidance < 1.7 (the newest with manylinux_2_28 wheels, which the offline bundle targets)
            # takes one end token: the tokenizer's own, which the engine stops on like the others
            primary = (
                tokenizer.eos_token_id if tokenizer.eos_token_id in eos_ids else min(eos_ids, default=None)
            )
            self.tokenizer = llguidance.hf.from_tokenizer(tokenizer, n_vocab=words, eos_token=primary)
        self.eos_ids = sorted(eos_ids)

    def matcher(self, constraint: Constraint) -> Any:
        """A fresh matcher for one request; a grammar that does not compile is the client's error (422)."""
        import llguidance

        try:
            grammar = constraint.grammar()
        except (ValueError, TypeError) as exc:
            raise _invalid(constraint, str(exc)) from exc
        matcher = llguidance.LLMatcher(self.tokenizer, grammar, log_level=0)
        if matcher.is_error():
            raise _invalid(constraint, matcher.get_error())
        return matcher

    def mask(self, matchers: list[Any], device: Any) -> Any:
        """[n, vocab] bool: the tokens each row may take next (every token for a row without a matcher)."""
        import llguidance.torch
        import torch

        bits = llguidance.torch.allocate_token_bitmask(len(matchers), self.vocab)
        for row, matcher in enumerate(matchers):
            if matcher is None:
                continue
            if matcher.is_error():  # cannot happen for tokens the mask allowed: end the row
                bits[row].zero_()
                for eos in self.eos_ids:
                    bits[row, eos >> 5] |= 1 << (eos & 31)
                continue
            llguidance.torch.fill_next_token_bitmask(matcher, bits, row)
        ids = torch.arange(self.vocab, device=device)
        words = bits.to(device=device, dtype=torch.int64)[:, ids >> 5]
        return ((words >> (ids & 31)[None, :]) & 1).bool()

    def advance(self, matcher: Any, token: int) -> None:
        """Feed the chosen token (end-of-sequence tokens end the row and are not fed)."""
        if token not in self.eos_ids:
            matcher.consume_token(token)


def constrain(logits: Any, grammars: Grammars | None, matchers: list[Any]) -> Any:
    """``logits`` with the tokens no row's grammar allows set to -inf (unchanged if no row has one)."""
    if grammars is None or all(m is None for m in matchers):
        return logits
    allowed = grammars.mask(matchers, logits.device)
    return logits.float().masked_fill(~allowed[:, : logits.shape[-1]], float("-inf"))


def _invalid(constraint: Constraint, why: str) -> InvalidRequest:
    first = why.strip().splitlines()[0] if why.strip() else "it does not compile"
    return InvalidRequest(
        f"{constraint.field}: the {constraint.kind.replace('_', ' ')} cannot be used for constrained "
        f"decoding: {first[:300]}",
        fix="correct the grammar (JSON schema draft 2020-12 subset, regex, or Lark syntax)",
    )
