"""The vLLM engine (optional): imported only when chosen; needs the vllm package and a CUDA GPU.

It meets the same :class:`~stockade.serving.protocol.Engine` contract as the hf engine: vLLM's
``AsyncLLMEngine`` does the batching; this adapter turns its outputs into token events.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from stockade.core.errors import DependencyMissing, StockadeError
from stockade.serving.errors import Overloaded, Unavailable
from stockade.serving.params import GenerationParams, validate
from stockade.serving.protocol import EngineCounters, EngineInfo, RequestHandle, TokenEvent


def require_vllm() -> Any:
    try:
        import vllm
    except ImportError as exc:
        raise DependencyMissing(
            "the vllm backend needs the vllm package, which is not installed",
            fix="install vllm from the offline bundle, or use --infer_backend hf",
        ) from exc
    import torch

    if not torch.cuda.is_available():
        raise StockadeError(
            "the vllm backend needs a CUDA GPU, and none is visible", fix="use --infer_backend hf"
        )
    return vllm


class VllmEngine:
    def __init__(
        self, path: Path, *, model_id: str, context: int, max_batch_size: int, max_waiting: int
    ) -> None:
        vllm = require_vllm()
        self._vllm = vllm
        args = vllm.AsyncEngineArgs(
            model=str(path), max_model_len=context, max_num_seqs=max_batch_size, disable_log_stats=True
        )
        self._engine = vllm.AsyncLLMEngine.from_engine_args(args)
        self.tokenizer = self._engine.engine.tokenizer.tokenizer if hasattr(self._engine, "engine") else None
        eos = getattr(self.tokenizer, "eos_token_id", None)
        self.info = EngineInfo(
            model_id,
            "vllm",
            "cuda",
            "auto",
            context,
            max_batch_size,
            max_waiting,
            frozenset({eos} if eos is not None else ()),
        )
        self._active: set[RequestHandle] = set()
        self._draining = False

    def start(self) -> None:
        return None

    def submit(
        self, prompt_ids: list[int], params: GenerationParams, *, timeout: float | None = None
    ) -> RequestHandle:
        validate(params, len(prompt_ids), self.info.context)
        if self._draining:
            raise Unavailable("the server is shutting down and accepts no new requests")
        if len(self._active) >= self.info.max_batch_size + self.info.max_waiting:
            raise Overloaded("too many requests in flight", retry_after=1)
        handle = RequestHandle(
            list(prompt_ids),
            params,
            params.resolved_seed(),
            asyncio.get_running_loop(),
            deadline=time.monotonic() + timeout if timeout else None,
        )
        self._active.add(handle)
        handle.loop.create_task(self._pump(handle))
        return handle

    async def _pump(self, handle: RequestHandle) -> None:
        p = handle.params
        sampling = self._vllm.SamplingParams(
            max_tokens=p.max_new_tokens,
            temperature=(p.temperature or 1.0) if p.sampling else 0.0,
            top_p=p.top_p or 1.0,
            top_k=p.top_k or -1,
            seed=handle.seed,
            repetition_penalty=p.repetition_penalty or 1.0,
            logprobs=0,
        )
        sent = 0
        try:
            async for output in self._engine.generate(
                {"prompt_token_ids": handle.prompt_ids}, sampling, handle.id
            ):
                if handle.cancelled:
                    await self._engine.abort(handle.id)
                    return
                handle.admitted = handle.admitted or time.monotonic()
                completion = output.outputs[0]
                for token in completion.token_ids[sent:]:
                    sent += 1
                    done = output.finished and sent == len(completion.token_ids)
                    finish = (
                        ("eos_token" if completion.finish_reason == "stop" else "length") if done else None
                    )
                    handle.events.put_nowait(TokenEvent(int(token), 0.0, finish=finish))
        finally:
            self._active.discard(handle)

    def counters(self) -> EngineCounters:
        return EngineCounters(0, 0, 0, 0, running=len(self._active), waiting=0)

    def begin_drain(self) -> None:
        self._draining = True

    def idle(self) -> bool:
        return not self._active

    def stop(self) -> None:
        return None
