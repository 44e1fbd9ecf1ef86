"""The vLLM engine (optional): imported only when chosen; needs the vllm package and a CUDA GPU.

It meets the same :class:`~stockade.serving.protocol.Engine` contract as the hf engine: vLLM's
``AsyncLLMEngine`` (an alias of ``AsyncLLM`` in vLLM's V1 releases) does the batching; this adapter
turns its outputs into token events. Only names both the older and the V1 releases have are used:
``AsyncEngineArgs``, ``AsyncLLMEngine.from_engine_args``, ``generate(prompt, params, request_id)`` (an
async generator of ``RequestOutput``), ``abort(request_id)`` and ``SamplingParams``. The tokenizer is
read from the model folder with transformers, as vLLM itself does, not through engine internals.

Every failure reaches the client as an error event (the protocol's error shape), the request time
limit is checked while waiting for vLLM as well as between outputs (HTTP 504), and the counters are
kept here from the outputs seen.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from stockade.core.errors import DependencyMissing, StockadeError
from stockade.serving.errors import InvalidRequest, Overloaded, RequestTimedOut, ServingError, Unavailable
from stockade.serving.params import GenerationParams, validate
from stockade.serving.protocol import EngineCounters, EngineInfo, RequestHandle, TokenEvent

POLL_S = 0.25  # how often a request waiting on vLLM checks its cancellation and time limit


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


def load_tokenizer(path: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(path, local_files_only=True)


class VllmEngine:
    def __init__(
        self,
        path: Path,
        *,
        model_id: str,
        context: int,
        max_batch_size: int,
        max_waiting: int,
        vllm: Any | None = None,
        tokenizer: Any | None = None,
    ) -> None:
        vllm = vllm if vllm is not None else require_vllm()
        self._vllm = vllm
        args = vllm.AsyncEngineArgs(
            model=str(path), max_model_len=context, max_num_seqs=max_batch_size, disable_log_stats=True
        )
        self._engine = vllm.AsyncLLMEngine.from_engine_args(args)
        self.tokenizer = tokenizer if tokenizer is not None else load_tokenizer(path)
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
        self._prefills = self._outputs = self._decoded = self._max_running = 0

    def start(self) -> None:
        return None

    def submit(
        self, prompt_ids: list[int], params: GenerationParams, *, timeout: float | None = None
    ) -> RequestHandle:
        validate(params, len(prompt_ids), self.info.context)
        if params.typical_p not in (None, 1.0):
            raise InvalidRequest(
                "typical_p is not supported by the vllm backend",
                fix="leave it out, or use --infer_backend hf",
            )
        if params.constraint is not None:  # not mapped onto vLLM's structured outputs: untested there
            raise InvalidRequest(
                f"{params.constraint.field}: constrained decoding (response_format, TGI grammar, or "
                "tool_choice required/named) is not served by the vllm backend",
                fix='use --infer_backend hf, or leave it out (tools with tool_choice "auto" are served)',
            )
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

    def sampling_params(self, handle: RequestHandle) -> Any:
        """Our parameters as vLLM's (``typical_p`` is refused at submit: vLLM has no such option)."""
        p = handle.params
        return self._vllm.SamplingParams(
            max_tokens=p.max_new_tokens,
            temperature=(p.temperature or 1.0) if p.sampling else 0.0,
            top_p=p.top_p or 1.0,
            top_k=p.top_k or -1,
            seed=handle.seed,
            repetition_penalty=p.repetition_penalty or 1.0,
            frequency_penalty=p.frequency_penalty or 0.0,
            presence_penalty=p.presence_penalty or 0.0,
            stop_token_ids=sorted(p.stop_token_ids),
            logprobs=p.top_logprobs,
            prompt_logprobs=0 if p.prompt_logprobs else None,
        )

    async def _pump(self, handle: RequestHandle) -> None:
        """Read vLLM's outputs for one request into its event queue; whatever happens, the request
        ends with a last token or an error event, and vLLM is told to drop it if it is still running."""
        outputs = None
        pending: asyncio.Future[Any] | None = None
        finished = False
        try:
            outputs = self._engine.generate(
                {"prompt_token_ids": handle.prompt_ids}, self.sampling_params(handle), handle.id
            ).__aiter__()
            sent = 0
            while not finished:
                if pending is None:
                    pending = asyncio.ensure_future(_next(outputs))
                done, _ = await asyncio.wait({pending}, timeout=POLL_S)
                if handle.cancelled:
                    return
                if handle.expired(time.monotonic()):
                    raise RequestTimedOut("the request timed out")
                if not done:
                    continue
                output = pending.result()
                pending = None
                if output is None:
                    raise ServingError("generation failed: vLLM ended the request without finishing it")
                sent, finished = self._post_output(handle, output, sent)
        except asyncio.CancelledError:
            handle.events.put_nowait(TokenEvent(0, 0.0, error=Unavailable("the server stopped")))
            raise
        except ServingError as exc:
            handle.events.put_nowait(TokenEvent(0, 0.0, error=exc))
        except Exception as exc:  # vLLM's own failures reach the client as the protocol's error event
            error = ServingError(f"generation failed: {exc.__class__.__name__}: {exc}")
            handle.events.put_nowait(TokenEvent(0, 0.0, error=error))
        finally:
            self._active.discard(handle)
            if pending is not None and not pending.done():
                pending.cancel()
            if not finished:
                await self._abort(handle)

    def _post_output(self, handle: RequestHandle, output: Any, sent: int) -> tuple[int, bool]:
        """Events for the tokens of ``output`` not sent yet (vLLM's outputs are cumulative)."""
        completion = output.outputs[0]
        if handle.admitted is None:
            handle.admitted = time.monotonic()
            self._prefills += 1
            if handle.params.prompt_logprobs:
                handle.prompt_logprobs = _prompt_logprobs(output, handle.prompt_ids)
        self._outputs += 1
        running = sum(1 for h in self._active if h.admitted is not None)
        self._max_running = max(self._max_running, running)
        tokens = list(completion.token_ids)
        logprobs = getattr(completion, "logprobs", None) or []
        for position in range(sent, len(tokens)):
            token = int(tokens[position])
            done = output.finished and position == len(tokens) - 1
            finish = None
            if done:
                finish = "eos_token" if completion.finish_reason == "stop" else "length"
            step = logprobs[position] if position < len(logprobs) else {}
            logprob, top = _step_logprobs(step, token, handle.params.top_logprobs)
            handle.events.put_nowait(TokenEvent(token, logprob, finish=finish, top=top))
            if position > 0:
                self._decoded += 1
        return len(tokens), bool(output.finished)

    async def _abort(self, handle: RequestHandle) -> None:
        try:
            await self._engine.abort(handle.id)
        except Exception:  # the request is over for us either way
            return

    def counters(self) -> EngineCounters:
        """vLLM schedules its own passes: prefills and decoded rows are counted per request and token
        from the outputs seen, decode passes as output rounds, the most rows as the most requests
        running at once."""
        running = sum(1 for h in self._active if h.admitted is not None)
        return EngineCounters(
            prefill_passes=self._prefills,
            decode_passes=self._outputs,
            decoded_rows=self._decoded,
            max_rows_in_pass=self._max_running,
            running=running,
            waiting=len(self._active) - running,
        )

    def begin_drain(self) -> None:
        self._draining = True

    def idle(self) -> bool:
        return not self._active

    def stop(self) -> None:
        shutdown = getattr(self._engine, "shutdown", None)
        if callable(shutdown):
            shutdown()


async def _next(outputs: Any) -> Any:
    try:
        return await outputs.__anext__()
    except StopAsyncIteration:
        return None


def _step_logprobs(step: Any, token: int, top: int) -> tuple[float, tuple[tuple[int, float], ...]]:
    """vLLM's per-step ``{token_id: Logprob(logprob, rank, ...)}`` as (the token's logprob, the best)."""
    if not step:  # vLLM gives the chosen token's logprob whenever logprobs is set (0 included)
        return 0.0, ()
    chosen = step.get(token)
    logprob = float(chosen.logprob) if chosen is not None else 0.0
    ranked = sorted(step.items(), key=lambda item: -item[1].logprob)[:top]
    return logprob, tuple((int(i), float(v.logprob)) for i, v in ranked)


def _prompt_logprobs(output: Any, prompt: list[int]) -> list[float | None]:
    values: list[float | None] = []
    for token, step in zip(prompt, getattr(output, "prompt_logprobs", None) or [], strict=False):
        chosen = step.get(token) if step else None
        values.append(float(chosen.logprob) if chosen is not None else None)
    return values
