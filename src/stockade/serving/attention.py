"""Decode attention for grouped-query models without copying the cache: one query per row.

transformers' SDPA path repeats every key/value head for its query heads when a mask is given (our
per-row masks always are), which writes and reads the whole cache several times per step: at 64 rows
that dominates a 7B decode step. Here the query heads of each key/value head are grouped instead, so
the cache is read once. Prefill (several query positions) goes to SDPA as before.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

NAME = "stockade_grouped_decode"


def grouped_decode_attention(
    module: Any,
    query: Any,
    key: Any,
    value: Any,
    attention_mask: Any,
    scaling: float | None = None,
    dropout: float = 0.0,
    **kwargs: Any,
) -> tuple[Any, None]:
    """``query`` [B, H, 1, D]; ``key``/``value`` [B, Hkv, L, D]; ``attention_mask`` bool [B, 1, 1, L]."""
    import torch

    if query.shape[2] != 1:
        from transformers.integrations.sdpa_attention import sdpa_attention_forward

        return sdpa_attention_forward(module, query, key, value, attention_mask, scaling=scaling, **kwargs)
    rows, heads, _, dim = query.shape
    kv_heads = key.shape[1]
    grouped = query.reshape(rows, kv_heads, heads // kv_heads, dim)  # query head i uses key head i // group
    scores = torch.matmul(grouped, key.transpose(-1, -2)).float() * (scaling or dim**-0.5)
    if attention_mask is not None:
        scores = scores.masked_fill(~attention_mask, float("-inf"))
    weights = scores.softmax(dim=-1).to(value.dtype)
    out = torch.matmul(weights, value)  # [B, Hkv, group, D]
    return out.reshape(rows, 1, heads, dim), None


def register() -> None:
    from transformers import AttentionInterface

    AttentionInterface.register(NAME, grouped_decode_attention)


@contextmanager
def decoding_with_grouped_attention(config: Any) -> Iterator[None]:
    """Use the grouped decode attention for the forward passes inside (the model's own setting after)."""
    previous = config._attn_implementation
    config._attn_implementation = NAME
    try:
        yield
    finally:
        config._attn_implementation = previous
