"""Batched next-token choice on the device: greedy, temperature, top-k, top-p, typical-p, repetition,
frequency and presence penalties, seeds, and the most likely alternatives with their log-probabilities.

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
    typical: Any = None  # [n] float (1 = off); None when no row uses it
    frequency: Any = None  # [n] float (0 = off); None (with presence) when no row uses either
    presence: Any = None  # [n] float (0 = off)
    top_n: int = 0  # alternatives to report per row (the most any row asked for)


def row_settings(params: list[Any], seeds: list[int | None], vocab: int, device: Any) -> RowSettings:
    import torch

    sample = [p.sampling for p in params]
    temperature = [(p.temperature or 1.0) if s else 1.0 for p, s in zip(params, sample, strict=True)]
    top_k = [min(p.top_k or vocab, vocab) if s else vocab for p, s in zip(params, sample, strict=True)]
    top_p = [(p.top_p or 1.0) if s else 1.0 for p, s in zip(params, sample, strict=True)]
    penalty = [p.repetition_penalty or 1.0 for p in params]
    typical = [(p.typical_p or 1.0) if s else 1.0 for p, s in zip(params, sample, strict=True)]
    frequency = [p.frequency_penalty or 0.0 for p in params]
    presence = [p.presence_penalty or 0.0 for p in params]
    counted = any(frequency) or any(presence)
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
        typical=torch.tensor(typical, dtype=torch.float32, device=device) if min(typical) < 1 else None,
        frequency=torch.tensor(frequency, dtype=torch.float32, device=device) if counted else None,
        presence=torch.tensor(presence, dtype=torch.float32, device=device) if counted else None,
        top_n=max((p.top_logprobs for p in params), default=0),
    )


def choose(
    logits: Any, settings: RowSettings, steps: Any, seen: Any | None, counts: Any | None = None
) -> tuple[Any, Any, Any]:
    """Next token, its log-probability and the best alternatives for every row. ``logits`` [n, V];
    ``steps`` [n] long (tokens generated so far, part of the noise counter); ``seen`` [n, V] bool (prompt
    and generated tokens) for the repetition penalty; ``counts`` [n, V] float (generated tokens only) for
    the frequency and presence penalties. The alternatives are ``(ids, logprobs)`` [n, top_n] or None.

    Log-probabilities are of the penalised distribution before temperature and filters."""
    import torch

    logits = logits.float()
    if settings.any_penalty and seen is not None:
        penalty = settings.penalty[:, None]
        penalized = torch.where(logits > 0, logits / penalty, logits * penalty)
        logits = torch.where(seen, penalized, logits)
    if settings.frequency is not None and counts is not None:
        present = (counts > 0).to(logits.dtype)
        logits = logits - settings.frequency[:, None] * counts - settings.presence[:, None] * present
    logprobs = torch.log_softmax(logits, dim=-1)
    if settings.greedy_only:
        tokens = logits.argmax(dim=-1)
    else:
        scaled = _filter(logits / settings.temperature[:, None], settings)
        sampled = (scaled + _gumbel(settings.seed, steps, logits.shape[-1])).argmax(dim=-1)
        tokens = torch.where(settings.sample, sampled, logits.argmax(dim=-1))
    top = None
    if settings.top_n:
        values, ids = logprobs.topk(min(settings.top_n, logprobs.shape[-1]), dim=-1)
        top = (ids, values)
    return tokens, logprobs.gather(1, tokens[:, None])[:, 0], top


def _filter(scaled: Any, settings: RowSettings) -> Any:
    """Top-k then top-p per row (one sort for both), then typical-p; filtered entries become -inf."""
    if settings.any_top_k or settings.any_top_p:
        scaled = _top_k_top_p(scaled, settings)
    if settings.typical is not None:
        scaled = _typical(scaled, settings.typical)
    return scaled


def _top_k_top_p(scaled: Any, settings: RowSettings) -> Any:
    import torch

    ordered, order = scaled.sort(dim=-1, descending=True)
    rank = torch.arange(scaled.shape[-1], device=scaled.device)[None, :]
    drop = rank >= settings.top_k[:, None]
    if settings.any_top_p:
        probs = ordered.masked_fill(drop, float("-inf")).softmax(dim=-1)
        before = probs.cumsum(dim=-1) - probs  # mass of better tokens: keep until it reaches top_p
        drop |= before >= settings.top_p[:, None]
    drop[:, 0] = False
    return scaled.scatter(1, order, ordered.masked_fill(drop, float("-inf")))


def _typical(scaled: Any, mass: Any) -> Any:
    """Typical sampling (Meister et al. 2022, as transformers' ``TypicalLogitsWarper``): keep the tokens
    whose surprise is closest to the distribution's entropy, until their probability reaches ``mass``."""
    import torch

    logp = torch.log_softmax(scaled, dim=-1)
    entropy = -(logp * logp.exp()).nansum(dim=-1, keepdim=True)
    shifted = (-logp - entropy).abs()
    ordered, order = shifted.sort(dim=-1)
    cumulative = scaled.gather(-1, order).softmax(dim=-1).cumsum(dim=-1)
    last = (cumulative < mass[:, None]).sum(dim=1).clamp(max=scaled.shape[-1] - 1)
    last = torch.where(mass >= 1, scaled.shape[-1] - 1, last)
    drop = ordered > ordered.gather(1, last[:, None])
    return scaled.masked_fill(drop.scatter(1, order, drop), float("-inf"))


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
