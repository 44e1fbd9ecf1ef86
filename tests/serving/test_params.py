"""Generation parameters: every bad value is refused with a message naming it (HTTP 422)."""

from __future__ import annotations

import pytest

from stockade.serving.errors import InvalidRequest
from stockade.serving.params import GenerationParams, validate

BAD = [
    ({"max_new_tokens": 0}, "max_new_tokens must be at least 1"),
    ({"temperature": -1.0}, "temperature must be between 0 and 100"),
    ({"temperature": float("nan")}, "temperature must be between 0 and 100"),
    ({"top_p": 0.0}, "top_p must be in (0, 1]"),
    ({"top_p": 1.5}, "top_p must be in (0, 1]"),
    ({"top_k": 0}, "top_k must be at least 1"),
    ({"repetition_penalty": 0.0}, "repetition_penalty must be in (0, 10]"),
    ({"stop": tuple("abcdefghi")}, "at most 8 stop sequences"),
    ({"stop": ("",)}, "each stop sequence must have 1 to 200 characters"),
    ({"seed": -3}, "seed must not be negative"),
]


@pytest.mark.parametrize(("fields", "message"), BAD)
def test_bad_parameters_are_named(fields: dict, message: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        validate(GenerationParams(**fields), prompt_tokens=10, context=100)
    assert message in caught.value.what
    assert caught.value.status == 422


LENGTHS = [
    (0, 10, 100, "the input is empty"),
    (100, 1, 100, "the input has 100 tokens, the model's context is 100"),
    (60, 41, 100, "inputs tokens + max_new_tokens must be <= 100"),
]


@pytest.mark.parametrize(("prompt", "new", "context", "message"), LENGTHS)
def test_lengths_against_the_context(prompt: int, new: int, context: int, message: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        validate(GenerationParams(max_new_tokens=new), prompt_tokens=prompt, context=context)
    assert message in caught.value.what


def test_exactly_full_context_is_allowed() -> None:
    validate(GenerationParams(max_new_tokens=40), prompt_tokens=60, context=100)


SAMPLING = [
    ({}, False),
    ({"do_sample": True}, True),
    ({"temperature": 0.7}, True),
    ({"temperature": 1.0}, False),
    ({"temperature": 0.0, "do_sample": True}, False),
    ({"top_k": 5}, True),
    ({"top_p": 0.9}, True),
    ({"top_p": 1.0}, False),
]


@pytest.mark.parametrize(("fields", "sampling"), SAMPLING)
def test_when_requests_sample(fields: dict, sampling: bool) -> None:
    params = GenerationParams(**fields)
    assert params.sampling is sampling
    seed = params.resolved_seed()
    assert (seed is not None) is sampling


def test_a_given_seed_is_kept() -> None:
    assert GenerationParams(do_sample=True, seed=42).resolved_seed() == 42
