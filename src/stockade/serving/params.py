"""Generation parameters (TGI's names) and their validation against the model's context."""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass, field

from stockade.serving.constrained import Constraint
from stockade.serving.errors import InvalidRequest

MAX_STOP_SEQUENCES = 8
MAX_STOP_LENGTH = 200
MAX_TOP_LOGPROBS = 20  # alternatives per generated token (OpenAI's top_logprobs limit; TGI top_n_tokens)
SEED_MODULUS = 2**32


@dataclass(frozen=True)
class GenerationParams:
    """One request's decoding settings. ``do_sample`` False (and no temperature/top_p/top_k) is greedy."""

    max_new_tokens: int = 100
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    do_sample: bool = False
    stop: tuple[str, ...] = ()
    seed: int | None = None
    repetition_penalty: float | None = None
    stop_token_ids: frozenset[int] = field(default_factory=frozenset)
    typical_p: float | None = None
    """Typical sampling mass (1 or None = off); samples, as in TGI."""
    frequency_penalty: float | None = None
    """Subtracted from a token's logit once per time it was generated so far (OpenAI's definition)."""
    presence_penalty: float | None = None
    """Subtracted from a token's logit once if it was generated so far (OpenAI's definition)."""
    top_logprobs: int = 0
    """How many of the most likely tokens (with log-probabilities) to report at each step."""
    prompt_logprobs: bool = False
    """Report the log-probability of every prompt token given the ones before it (TGI prefill details)."""
    constraint: Constraint | None = None
    """A grammar the output must follow (JSON schema, regex, Lark): enforced by constrained decoding."""
    adapter: str | None = None
    """The served adapter (NAME@vN of ``serve --adapters``) this request runs with; None: the base."""

    @property
    def sampling(self) -> bool:
        """TGI samples when asked to, or when any sampling knob is set (temperature 0 means greedy)."""
        if self.temperature == 0:
            return False
        return (
            self.do_sample
            or self.temperature not in (None, 1.0)
            or self.top_p not in (None, 1.0)
            or self.top_k is not None
            or self.typical_p not in (None, 1.0)
        )

    def resolved_seed(self) -> int | None:
        """The seed the sampler uses (random when sampling without one, reported back); None if greedy."""
        if not self.sampling:
            return None
        return self.seed % SEED_MODULUS if self.seed is not None else secrets.randbelow(SEED_MODULUS)


def validate(params: GenerationParams, prompt_tokens: int, context: int) -> None:
    """Raise :class:`InvalidRequest` (HTTP 422) naming the first bad field, or the length problem."""
    problems: list[str] = []
    if params.max_new_tokens < 1:
        problems.append(f"max_new_tokens must be at least 1 (got {params.max_new_tokens})")
    if params.temperature is not None and not (
        0 <= params.temperature <= 100 and math.isfinite(params.temperature)
    ):
        problems.append(f"temperature must be between 0 and 100 (got {params.temperature})")
    if params.top_p is not None and not (0 < params.top_p <= 1):
        problems.append(f"top_p must be in (0, 1] (got {params.top_p})")
    if params.top_k is not None and params.top_k < 1:
        problems.append(f"top_k must be at least 1 (got {params.top_k})")
    if params.repetition_penalty is not None and not (0 < params.repetition_penalty <= 10):
        problems.append(f"repetition_penalty must be in (0, 10] (got {params.repetition_penalty})")
    if params.typical_p is not None and not (0 < params.typical_p <= 1):
        problems.append(f"typical_p must be in (0, 1] (got {params.typical_p})")
    for name in ("frequency_penalty", "presence_penalty"):
        value = getattr(params, name)
        if value is not None and not (-2 <= value <= 2):
            problems.append(f"{name} must be between -2 and 2 (got {value})")
    if not 0 <= params.top_logprobs <= MAX_TOP_LOGPROBS:
        problems.append(f"top_logprobs must be 0 to {MAX_TOP_LOGPROBS} (got {params.top_logprobs})")
    if len(params.stop) > MAX_STOP_SEQUENCES:
        problems.append(f"at most {MAX_STOP_SEQUENCES} stop sequences (got {len(params.stop)})")
    if any(not s or len(s) > MAX_STOP_LENGTH for s in params.stop):
        problems.append(f"each stop sequence must have 1 to {MAX_STOP_LENGTH} characters")
    if params.seed is not None and params.seed < 0:
        problems.append(f"seed must not be negative (got {params.seed})")
    if problems:
        raise InvalidRequest("; ".join(problems), fix="correct the request's parameters")
    if prompt_tokens < 1:
        raise InvalidRequest("the input is empty", fix="send a non-empty prompt")
    if prompt_tokens >= context:
        raise InvalidRequest(
            f"the input has {prompt_tokens} tokens, the model's context is {context}",
            fix="shorten the input",
        )
    if prompt_tokens + params.max_new_tokens > context:
        raise InvalidRequest(
            f"inputs tokens + max_new_tokens must be <= {context}: the input has {prompt_tokens} tokens "
            f"and max_new_tokens is {params.max_new_tokens}",
            fix=f"lower max_new_tokens to at most {context - prompt_tokens}, or shorten the input",
        )
