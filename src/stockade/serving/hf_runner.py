"""Forward passes of a transformers causal LM over a :class:`SlotCache`: batched prefill and decode.

The decoder runs with our cache and our 4-D boolean masks (which transformers' mask builders return
as given), and the LM head runs only on the rows' last positions. With
``cuda_graphs`` each decode batch size bucket is captured once at start and replayed (no per-layer
Python or kernel-launch overhead); the eager path is the same computation.
"""

from __future__ import annotations

import inspect
from contextlib import nullcontext
from typing import Any

from stockade.serving.adapters import AdapterRows
from stockade.serving.attention import decoding_with_grouped_attention, register
from stockade.serving.kv_cache import SlotCache

GRAPH_BUCKETS = (1, 2, 4, 8, 16, 24, 32, 48, 64, 96, 128, 192, 256)
WINDOW_STEP = 64  # eager decode attends over the longest row rounded up to this


class ModelRunner:
    def __init__(
        self,
        model: Any,
        *,
        slots: int,
        length: int,
        cuda_graphs: bool = False,
        grouped_attention: bool = True,
    ) -> None:
        import torch

        self.torch = torch
        self.model = model
        self.decoder = model.get_decoder()
        self.head = model.get_output_embeddings()
        config = model.config
        self.device = next(model.parameters()).device
        self.dtype = next(model.parameters()).dtype
        heads = config.num_attention_heads
        head_dim = getattr(config, "head_dim", None) or config.hidden_size // heads
        self.cache = SlotCache(
            layers=config.num_hidden_layers,
            slots=slots,
            kv_heads=getattr(config, "num_key_value_heads", None) or heads,
            head_dim=head_dim,
            length=length,
            dtype=self.dtype,
            device=self.device,
        )
        params = inspect.signature(self.decoder.forward).parameters
        self.cache_kwarg = "cache" if "cache" in params else "past_key_values"
        self.positions_range = torch.arange(length, device=self.device)
        self.graphs: dict[int, tuple[Any, dict[str, Any]]] = {}
        self.grouped_attention = grouped_attention
        self.adapters = AdapterRows(model)  # unmerged adapters chosen per row (none: a no-op)
        register()
        if cuda_graphs and self.adapters.labels:
            from stockade.core.errors import StockadeError

            raise StockadeError(
                "CUDA graphs cannot replay per-request adapter choices",
                fix="serve --adapters without --cuda_graphs, or serve one merged version with them",
            )
        if cuda_graphs:
            self._capture_all(slots)

    def _decoder(self, ids: Any, positions: Any, mask: Any) -> Any:
        out = self.decoder(
            input_ids=ids,
            attention_mask=mask,  # 4-D: transformers uses it as given
            position_ids=positions,
            use_cache=True,
            **{self.cache_kwarg: self.cache},
        )
        return out.last_hidden_state

    def prefill(
        self,
        prompts: list[list[int]],
        first_slot: int,
        *,
        keep_hidden: bool = False,
        adapters: list[str | None] | None = None,
    ) -> Any:
        """Run prompts (right-padded) into slots ``first_slot..``; logits [k, V] of each last position
        (and, with ``keep_hidden``, the hidden states [k, width, H] for :meth:`prompt_logprobs`).
        ``adapters``: each row's adapter label (None: the base), when adapters are loaded."""
        torch = self.torch
        width = max(len(p) for p in prompts)
        ids = torch.zeros((len(prompts), width), dtype=torch.long)
        for row, prompt in enumerate(prompts):
            ids[row, : len(prompt)] = torch.tensor(prompt, dtype=torch.long)
        ids = ids.to(self.device, non_blocking=True)
        lengths = torch.tensor([len(p) for p in prompts], device=self.device)
        span = torch.arange(width, device=self.device)
        causal = span[None, :] <= span[:, None]  # [q, k]
        mask = causal[None, None] & (span[None, :] < lengths[:, None])[:, None, None, :]
        self.cache.for_prefill(first_slot, len(prompts))
        with self.adapters.rows(adapters):
            hidden = self._decoder(ids, span[None, :].expand(len(prompts), -1), mask)
            last = hidden[torch.arange(len(prompts), device=self.device), lengths - 1]
            logits = self.head(last)
        return (logits, hidden) if keep_hidden else logits

    def prompt_logprobs(self, hidden: Any, prompt: list[int], chunk: int = 256) -> list[float | None]:
        """Log-probability of each prompt token given the ones before it (None for the first), from one
        row's prefill hidden states; the LM head runs ``chunk`` positions at a time."""
        torch = self.torch
        ids = torch.tensor(prompt, dtype=torch.long, device=self.device)
        values: list[float | None] = [None]
        for start in range(0, len(prompt) - 1, chunk):
            end = min(start + chunk, len(prompt) - 1)
            logprobs = torch.log_softmax(self.head(hidden[start:end]).float(), dim=-1)
            values.extend(logprobs.gather(1, ids[start + 1 : end + 1, None])[:, 0].tolist())
        return values

    def decode(self, ids: Any, positions: Any, longest: int, adapters: list[str | None] | None = None) -> Any:
        """One token for each of the first ``n`` slots: ``ids``/``positions`` [n] on the device;
        ``adapters``: each row's adapter label (None: the base), when adapters are loaded."""
        count = int(ids.shape[0])
        bucket = min((b for b in self.graphs if b >= count), default=None)
        if bucket is not None:
            graph, io = self.graphs[bucket]
            io["ids"][:count].copy_(ids)
            io["positions"][:count].copy_(positions)
            graph.replay()
            return io["logits"][:count]
        window = min(self.cache.length, -(-(longest + 1) // WINDOW_STEP) * WINDOW_STEP)
        with self.adapters.rows(adapters):
            return self._decode_eager(ids, positions, window)

    def _decode_eager(self, ids: Any, positions: Any, window: int) -> Any:
        torch = self.torch
        rows = torch.arange(ids.shape[0], device=self.device)
        mask = (self.positions_range[None, :window] <= positions[:, None])[:, None, None, :]
        self.cache.for_decode(rows, positions, window)
        with decoding_with_grouped_attention(self.model.config) if self.grouped_attention else nullcontext():
            hidden = self._decoder(ids[:, None], positions[:, None], mask)
        return self.head(hidden[:, -1])

    def _capture_all(self, slots: int) -> None:
        """Capture one CUDA graph per batch-size bucket; runs before any request owns a slot."""
        torch = self.torch
        if self.device.type != "cuda":
            return
        pool = torch.cuda.graph_pool_handle()
        for bucket in sorted({b for b in GRAPH_BUCKETS if b < slots} | {slots}, reverse=True):
            io = {
                "ids": torch.zeros(bucket, dtype=torch.long, device=self.device),
                "positions": torch.zeros(bucket, dtype=torch.long, device=self.device),
            }
            stream = torch.cuda.Stream()
            stream.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(stream):
                for _ in range(2):
                    self._decode_eager(io["ids"], io["positions"], self.cache.length)
            torch.cuda.current_stream().wait_stream(stream)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph, pool=pool):
                io["logits"] = self._decode_eager(io["ids"], io["positions"], self.cache.length)
            self.graphs[bucket] = (graph, io)
        torch.cuda.synchronize()
