"""Packing several examples into one row, so that each still attends only to itself; length grouping.

Packing is best-fit-decreasing: longest example first, each into the fullest row it still fits. Inside
a row, ``position_ids`` restart at 0 for every example and the label of each example's first token is
-100, so the shifted loss never predicts one example from the end of another.

The model must not let tokens attend across examples. transformers 5 offers two ways, both built here
by :func:`collate_packed`:

* ``mode="mask"``: a 4D additive float mask ``(batch, 1, L, L)``, block-diagonal and causal. A 4D mask
  is used as-is by ``sdpa`` and ``eager`` attention (``masking_utils`` returns it untouched). Rows are
  padded to the longest; padding is a block of its own with labels -100.
* ``mode="flat"``: one row holding the whole batch, no mask, only the ``position_ids`` resets.
  flash-attention (varlen) reads the example boundaries from them; ``sdpa``/``eager``/flex attention
  build the block mask from them too, **but only without a KV cache** - with ``use_cache=True`` (the
  config default, even in train mode) the resets are ignored and examples see each other.

:func:`configure_model_for_packing` turns the cache off and picks the mode from the attention
implementation. torch is imported only by the functions that build tensors.
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from stockade.core.errors import StockadeError
from stockade.data.tokenization import IGNORE_INDEX

PackingMode = Literal["mask", "flat"]


class Example(Protocol):
    input_ids: list[int]
    labels: list[int]


@dataclass(frozen=True)
class PackedSequence:
    """One row: examples ``indices`` (positions in the input list) laid end to end."""

    input_ids: list[int]
    labels: list[int]
    position_ids: list[int]
    seq_lens: tuple[int, ...]
    indices: tuple[int, ...]

    def __len__(self) -> int:
        return len(self.input_ids)


def pack_examples(examples: Sequence[Example], max_length: int) -> list[PackedSequence]:
    """Pack ``examples`` into rows of at most ``max_length`` tokens (best-fit-decreasing, deterministic)."""
    for index, example in enumerate(examples):
        if not example.input_ids:
            raise ValueError(f"example {index} is empty")
        if len(example.input_ids) > max_length:
            raise StockadeError(
                f"example {index} has {len(example.input_ids)} tokens, "
                f"more than the packing length {max_length}",
                fix="tokenize with cutoff_len <= the packing length",
            )
    order = sorted(range(len(examples)), key=lambda i: (-len(examples[i].input_ids), i))
    rows: list[list[int]] = []
    free: list[tuple[int, int]] = []  # (free space, row number), sorted: best fit = first with enough space
    for index in order:
        size = len(examples[index].input_ids)
        at = bisect.bisect_left(free, (size, -1))
        if at == len(free):
            rows.append([index])
            bisect.insort(free, (max_length - size, len(rows) - 1))
        else:
            space, row = free.pop(at)
            rows[row].append(index)
            bisect.insort(free, (space - size, row))
    return [_row([examples[i] for i in row], tuple(row)) for row in rows]


def single_sequences(examples: Sequence[Example]) -> list[PackedSequence]:
    """One example per row (no packing), for the same :func:`collate_packed` path."""
    return [_row([example], (index,)) for index, example in enumerate(examples)]


def _row(examples: list[Example], indices: tuple[int, ...]) -> PackedSequence:
    input_ids: list[int] = []
    labels: list[int] = []
    positions: list[int] = []
    for example in examples:
        input_ids += example.input_ids
        labels += [IGNORE_INDEX, *example.labels[1:]]
        positions += range(len(example.input_ids))
    return PackedSequence(input_ids, labels, positions, tuple(len(e.input_ids) for e in examples), indices)


def length_grouped_batches(lengths: Sequence[int], batch_size: int, seed: int) -> list[list[int]]:
    """Batches of indices of similar length, in shuffled order; the same ``seed`` gives the same batches.

    Indices are shuffled, stably sorted by length (so ties are in random order), cut into batches of
    ``batch_size`` (the last may be smaller), and the batches are shuffled. Every index appears once.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    rng = random.Random(seed)  # noqa: S311 - a reproducible shuffle, not a secret
    order = list(range(len(lengths)))
    rng.shuffle(order)
    order.sort(key=lambda i: lengths[i])
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    rng.shuffle(batches)
    return batches


def collate_packed(
    batch: Sequence[PackedSequence], *, pad_token_id: int = 0, mode: PackingMode = "mask", dtype: Any = None
) -> dict[str, Any]:
    """Tensors for ``model(**batch)``: input_ids, labels, position_ids, and in ``mask`` mode attention_mask.

    ``dtype`` is the mask's dtype and must be the model's (sdpa wants query and mask alike); float32 if
    not given.
    """
    import torch

    if mode == "flat":
        return {
            key: torch.tensor([[v for row in batch for v in getattr(row, key)]], dtype=torch.long)
            for key in ("input_ids", "labels", "position_ids")
        }
    if mode != "mask":
        raise ValueError(f"unknown packing mode {mode!r}")
    width = max(len(row) for row in batch)
    pads = [width - len(row) for row in batch]
    out = {
        "input_ids": [row.input_ids + [pad_token_id] * pad for row, pad in zip(batch, pads, strict=True)],
        "labels": [row.labels + [IGNORE_INDEX] * pad for row, pad in zip(batch, pads, strict=True)],
        "position_ids": [row.position_ids + list(range(pad)) for row, pad in zip(batch, pads, strict=True)],
    }
    tensors = {key: torch.tensor(value, dtype=torch.long) for key, value in out.items()}
    lens = [[*row.seq_lens, pad] if pad else list(row.seq_lens) for row, pad in zip(batch, pads, strict=True)]
    tensors["attention_mask"] = block_causal_mask(lens, width, dtype or torch.float32)
    return tensors


def block_causal_mask(seq_lens: Sequence[Sequence[int]], width: int, dtype: Any) -> Any:
    """Additive mask ``(batch, 1, width, width)``: 0 where a token may attend, the dtype's min elsewhere."""
    import torch

    blocks = [torch.repeat_interleave(torch.arange(len(lens)), torch.tensor(lens)) for lens in seq_lens]
    block = torch.stack(blocks)  # (batch, width): which example each position belongs to
    causal = torch.ones(width, width, dtype=torch.bool).tril()
    allowed = (block[:, :, None] == block[:, None, :]) & causal
    mask = torch.zeros(allowed.shape, dtype=dtype).masked_fill(~allowed, torch.finfo(dtype).min)
    return mask[:, None]


def configure_model_for_packing(model: Any) -> PackingMode:
    """Turn the KV cache off (it disables packed-sequence detection) and pick the collate mode."""
    implementation = str(getattr(model.config, "_attn_implementation", None) or "sdpa")
    model.config.use_cache = False
    if implementation in ("sdpa", "eager"):
        return "mask"
    if "flash" in implementation or implementation == "flex_attention":
        return "flat"
    raise StockadeError(
        f"packing is not supported with the {implementation!r} attention implementation",
        fix="load the model with attn_implementation 'sdpa', 'eager' or flash-attention, or turn packing off",
    )
