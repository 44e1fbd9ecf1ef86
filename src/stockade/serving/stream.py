"""One request's token events as text chunks, with stop sequences, metrics and cancellation.

Events are read in batches: when the consumer wakes it takes every event already delivered, so a
busy server writes several tokens per network send instead of falling further behind. Time limits are
enforced by the engine (queued and running requests alike), which posts a timeout error event.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from stockade.serving.detokenize import TextAssembler
from stockade.serving.metrics import ServingMetrics
from stockade.serving.protocol import RequestHandle, TokenEvent


@dataclass(frozen=True)
class Chunk:
    token_id: int
    logprob: float
    text: str  # new text (empty for special tokens, or while a possible stop string is held back)
    special: bool
    finish: str | None = None  # "length" | "eos_token" | "stop_sequence" on the last chunk
    top: tuple[tuple[int, float], ...] = ()  # the most likely tokens at this step, when asked for


@dataclass
class Outcome:
    """Filled in as the stream runs; read after it ends (audit, usage, details)."""

    generated: int = 0
    finish: str | None = None
    text: str = ""


async def chunk_batches(
    handle: RequestHandle,
    assembler: TextAssembler,
    metrics: ServingMetrics | None,
    outcome: Outcome,
) -> AsyncIterator[list[Chunk]]:
    """Yield the request's chunks, a batch per wake-up. Leaving early (client gone) cancels generation."""
    queue = handle.events
    last = handle.arrival
    try:
        while True:
            events = [await queue.get()]
            while not queue.empty():
                events.append(queue.get_nowait())
            now = time.monotonic()
            batch = []
            for event in events:
                chunk = _chunk(event, handle, assembler, outcome)
                if metrics is not None:
                    _observe(metrics, handle, outcome, now, last)
                last = now
                batch.append(chunk)
                if chunk.finish:
                    break
            yield batch
            if outcome.finish:
                if metrics is not None:
                    _observe_end(metrics, handle, outcome, now)
                return
    finally:
        handle.cancel()  # a no-op once finished; stops the engine's work for a vanished client


async def chunks(
    handle: RequestHandle, assembler: TextAssembler, metrics: ServingMetrics | None, outcome: Outcome
) -> AsyncIterator[Chunk]:
    """One chunk at a time (the chat terminal and tests)."""
    async for batch in chunk_batches(handle, assembler, metrics, outcome):
        for chunk in batch:
            yield chunk


def _chunk(event: TokenEvent, handle: RequestHandle, assembler: TextAssembler, outcome: Outcome) -> Chunk:
    if event.error is not None:
        raise event.error
    outcome.generated += 1
    text = assembler.add(event.token_id)
    finish = event.finish
    if assembler.stopped:
        finish = "stop_sequence"
        handle.cancel()
    elif finish:
        text += assembler.finish()
    outcome.finish = finish
    outcome.text = assembler.text
    special = assembler.is_special(event.token_id)
    return Chunk(event.token_id, event.logprob, text, special, finish, event.top)


def _observe(
    metrics: ServingMetrics, handle: RequestHandle, outcome: Outcome, now: float, last: float
) -> None:
    if outcome.generated == 1:
        metrics.ttft.observe(now - handle.arrival)
        if handle.admitted is not None:
            metrics.queue.observe(handle.admitted - handle.arrival)
    else:
        metrics.inter_token.observe(now - last)


def _observe_end(metrics: ServingMetrics, handle: RequestHandle, outcome: Outcome, now: float) -> None:
    metrics.e2e.observe(now - handle.arrival)
    metrics.prompt_tokens.observe(len(handle.prompt_ids))
    metrics.generated_tokens.observe(outcome.generated)
    metrics.prompt_tokens_total.inc(len(handle.prompt_ids))
    metrics.generated_tokens_total.inc(outcome.generated)
