"""Batched next-token choice on the device: greedy, temperature, top-k, top-p, repetition penalty, seeds.

One call per decode step for all rows. Sampling draws Gumbel noise from a counter-based hash of
(seed, step, token id) instead of a random generator, so a seeded request gives the same tokens
whatever else shares its batch, with no per-row generator calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MASK32 = 0xFFFFFFFF


@dataclass
class RowSettings:
    """Sampling settings of the rows in a batch, as device tensors (rebuilt when the batch changes)."""

    greedy_only: bool
    any_penalty: bool
    temperature: Any  # [n] float (1 for greedy rows)
    top_k: Any  # [n] long (vocab size = off)
    top_p: Any  # [n] float (1 = off)
    sample: Any  # [n] bool
    seed: Any  # [n] long
    penalty: Any  # [n] float (1 = off)
    any_top_k: bool = False
    any_top_p: bool = False


def row_settings(params: list[Any], seeds: list[int | None], vocab: int, device: Any) -> RowSettings:
    import torch

    sample = [p.sampling for p in params]
    temperature = [(p.temperature or 1.0) if s else 1.0 for p, s in zip(params, sample, strict=True)]
    top_k = [min(p.top_k or vocab, vocab) if s else vocab for p, s in zip(params, sample, strict=True)]
    top_p = [(p.top_p or 1.0) if s else 1.0 for p, s in zip(params, sample, strict=True)]
    penalty = [p.repetition_penalty or 1.0 for p in params]
    return RowSettings(
        greedy_only=not any(sample),
        any_penalty=any(v != 1.0 for v in penalty),
        any_top_k=any(k < vocab for k in top_k),
        any_top_p=any(p < 1.0 for p in top_p),
        temperature=torch.tensor(temperature, dtype=torch.float32, device=device),
        top_k=torch.tensor(top_k, dtype=torch.long, device=device),
        top_p=torch.tensor(top_p, dtype=torch.float32, device=device),
        sample=torch.tensor(sample, dtype=torch.bool, device=device),
        seed=torch.tensor([s or 0 for s in seeds], dtype=torch.long, device=device),
        penalty=torch.tensor(penalty, dtype=torch.float32, device=device),
    )


def choose(logits: Any, settings: RowSettings, steps: Any, seen: Any | None) -> tuple[Any, Any]:
    """Next token and its log-probability for every row. ``logits`` [n, V]; ``steps`` [n] long
    (tokens generated so far, part of the noise counter); ``seen`` [n, V] bool for repetition penalty."""
    import torch

    logits = logits.float()
    if settings.any_penalty and seen is not None:
        penalty = settings.penalty[:, None]
        penalized = torch.where(logits > 0, logits / penalty, logits * penalty)
        logits = torch.where(seen, penalized, logits)
    logprobs = torch.log_softmax(logits, dim=-1)
    if settings.greedy_only:
        tokens = logits.argmax(dim=-1)
    else:
        scaled = _filter(logits / settings.temperature[:, None], settings)
        sampled = (scaled + _gumbel(settings.seed, steps, logits.shape[-1])).argmax(dim=-1)
        tokens = torch.where(settings.sample, sampled, logits.argmax(dim=-1))
    return tokens, logprobs.gather(1, tokens[:, None])[:, 0]


def _filter(scaled: Any, settings: RowSettings) -> Any:
    """Top-k then top-p per row, one sort for both; filtered entries become -inf."""
    import torch

    if not (settings.any_top_k or settings.any_top_p):
        return scaled
    ordered, order = scaled.sort(dim=-1, descending=True)
    rank = torch.arange(scaled.shape[-1], device=scaled.device)[None, :]
    drop = rank >= settings.top_k[:, None]
    if settings.any_top_p:
        probs = ordered.masked_fill(drop, float("-inf")).softmax(dim=-1)
        before = probs.cumsum(dim=-1) - probs  # mass of better tokens: keep until it reaches top_p
        drop |= before >= settings.top_p[:, None]
    drop[:, 0] = False
    return scaled.scatter(1, order, ordered.masked_fill(drop, float("-inf")))


def _gumbel(seed: Any, steps: Any, vocab: int) -> Any:
    """Gumbel noise from a 32-bit integer hash of (seed, step, token): reproducible, batch-independent."""
    import torch

    token = torch.arange(vocab, device=seed.device, dtype=torch.long)[None, :]
    x = (seed[:, None] * 0x9E3779B1 + steps[:, None] * 0x85EBCA77 + token) & MASK32
    x = (((x >> 16) ^ x) * 0x045D9F3B) & MASK32
    x = (((x >> 16) ^ x) * 0x045D9F3B) & MASK32
    x = (x >> 16) ^ x
    uniform = ((x.to(torch.float64) + 0.5) / 2**32).clamp(1e-12, 1 - 1e-12)
    return (-torch.log(-torch.log(uniform))).to(torch.float32)
