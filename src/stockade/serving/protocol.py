"""The engine contract the API talks to: submit a tokenized prompt, read token events, cancel.

Engines run the model in their own thread; a :class:`RequestHandle` carries token events from that
thread to the asyncio loop that submitted it (one ``call_soon_threadsafe`` per decode step, not per token).
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from stockade.core.ids import new_id
from stockade.serving.errors import ServingError
from stockade.serving.params import GenerationParams


@dataclass(frozen=True)
class TokenEvent:
    """One generated token; ``finish`` ("length" | "eos_token") on the last, ``error`` if it failed;
    ``top``: the most likely tokens at this step as (id, logprob), when the request asked for them."""

    token_id: int
    logprob: float
    finish: str | None = None
    error: ServingError | None = None
    top: tuple[tuple[int, float], ...] = ()


@dataclass(frozen=True)
class EngineInfo:
    """What the engine serves, reported by ``GET /info`` and ``GET /v1/models``."""

    model_id: str
    backend: str
    device: str
    dtype: str
    context: int  # most prompt + generated tokens per request
    max_batch_size: int
    max_waiting: int
    eos_token_ids: frozenset[int]


@dataclass(frozen=True)
class EngineCounters:
    """How much work batching saved: decoded rows per forward pass shows the batching is real."""

    prefill_passes: int
    decode_passes: int
    decoded_rows: int
    max_rows_in_pass: int
    running: int
    waiting: int


@dataclass(eq=False)
class RequestHandle:
    """One submitted request as both sides see it."""

    prompt_ids: list[int]
    params: GenerationParams
    seed: int | None
    loop: asyncio.AbstractEventLoop
    deadline: float | None = None  # time.monotonic() limit
    id: str = field(default_factory=lambda: new_id("gen-"))
    arrival: float = field(default_factory=time.monotonic)
    admitted: float | None = None  # when it got a batch slot (queue time = admitted - arrival)
    events: asyncio.Queue[TokenEvent] = field(default_factory=asyncio.Queue)
    prompt_logprobs: list[float | None] | None = None  # set before the first event when asked for
    matcher: Any = None  # the grammar matcher of a constrained request (stockade.serving.constrained)
    _cancelled: threading.Event = field(default_factory=threading.Event)

    def cancel(self) -> None:
        """Stop generating for this request (client gone, stop sequence seen, timeout)."""
        self._cancelled.set()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def expired(self, now: float) -> bool:
        return self.deadline is not None and now > self.deadline


class Engine(Protocol):
    info: EngineInfo
    tokenizer: object

    def start(self) -> None: ...

    def submit(
        self, prompt_ids: list[int], params: GenerationParams, *, timeout: float | None = None
    ) -> RequestHandle:
        """Queue a validated request; raises Overloaded (queue full) or Unavailable (draining)."""
        ...

    def counters(self) -> EngineCounters: ...

    def begin_drain(self) -> None:
        """Refuse new requests from now on; requests already accepted still finish."""
        ...

    def idle(self) -> bool:
        """True when nothing is running or waiting."""
        ...

    def stop(self) -> None: ...
