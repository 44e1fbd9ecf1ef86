"""A preallocated key/value cache with one row ("slot") per running request.

Running requests occupy slots ``0..n-1`` (kept contiguous: a finishing request's slot is filled by the
last one), so a decode step attends over the view ``[:n, :, :window]`` without copying. Each row writes
its new key at its own position. The object meets the part of transformers' ``Cache`` interface that
decoder layers call (``update``), so a stock model runs on it unchanged.
"""

from __future__ import annotations

from typing import Any


class SlotCache:
    def __init__(
        self, *, layers: int, slots: int, kv_heads: int, head_dim: int, length: int, dtype: Any, device: Any
    ):
        import torch

        shape = (slots, kv_heads, length, head_dim)
        self.keys = [torch.zeros(shape, dtype=dtype, device=device) for _ in range(layers)]
        self.values = [torch.zeros(shape, dtype=dtype, device=device) for _ in range(layers)]
        self.length = length
        self.slots = slots
        self._mode = "decode"
        self._rows: Any = None  # decode: arange(n); prefill: first slot
        self._positions: Any = None  # decode: [n] positions to write
        self._count = 0
        self._window = length

    def bytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in (*self.keys, *self.values))

    def for_prefill(self, first_slot: int, count: int) -> SlotCache:
        """The next forward writes rows ``first_slot..+count`` from position 0 and attends to its own keys."""
        self._mode, self._rows, self._count = "prefill", first_slot, count
        return self

    def for_decode(self, rows: Any, positions: Any, window: int) -> SlotCache:
        """The next forward writes one key per row at ``positions`` and attends to ``[:n, :, :window]``."""
        self._mode, self._rows, self._positions, self._window = "decode", rows, positions, window
        self._count = int(rows.shape[0])
        return self

    def update(self, key_states: Any, value_states: Any, layer_idx: int, cache_kwargs: Any = None, **_: Any):
        keys, values = self.keys[layer_idx], self.values[layer_idx]
        if self._mode == "prefill":
            first, count, width = self._rows, self._count, key_states.shape[2]
            keys[first : first + count, :, :width].copy_(key_states)
            values[first : first + count, :, :width].copy_(value_states)
            return key_states, value_states
        keys[self._rows, :, self._positions] = key_states[:, :, 0]
        values[self._rows, :, self._positions] = value_states[:, :, 0]
        return keys[: self._count, :, : self._window], values[: self._count, :, : self._window]

    def move(self, source: int, target: int, length: int) -> None:
        """Copy slot ``source``'s first ``length`` positions into slot ``target`` (compaction)."""
        for tensors in (self.keys, self.values):
            for layer in tensors:
                layer[target, :, :length].copy_(layer[source, :, :length])

    # transformers asks these of any cache object on some code paths
    def get_seq_length(self, layer_idx: int = 0) -> int:
        return 0

    def __len__(self) -> int:
        return len(self.keys)
