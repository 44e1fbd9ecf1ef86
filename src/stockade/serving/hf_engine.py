"""The transformers engine: continuous batching of concurrent requests in one model thread.

Between decode steps, requests join (batched prefill into free cache slots) and leave (finished,
cancelled, timed out), up to ``max_batch_size`` running; the rest wait in a bounded queue. Each step
runs one forward pass for every running request, chooses all next tokens on the device, and copies
them to the host once (streaming needs them); per-row state lives in device tensors rebuilt only when
the batch changes.
"""

from __future__ import annotations

import asyncio
import importlib.util
import sys
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass
from typing import Any

from stockade.serving.constrained import Grammars, constrain
from stockade.serving.errors import InvalidRequest, Overloaded, RequestTimedOut, ServingError, Unavailable
from stockade.serving.hf_runner import ModelRunner
from stockade.serving.params import GenerationParams, validate
from stockade.serving.protocol import EngineCounters, EngineInfo, RequestHandle, TokenEvent
from stockade.serving.sampling import choose, row_settings

IDLE_WAIT_S = 0.05
SWITCH_INTERVAL_S = 0.0005


@dataclass
class _Row:
    handle: RequestHandle
    prompt_len: int
    generated: int = 0
    last_token: int = 0

    @property
    def position(self) -> int:
        """Where the last sampled token's key goes (it is the next decode input)."""
        return self.prompt_len + self.generated - 1


class HFEngine:
    """See the module docstring. ``model`` is a loaded transformers causal LM: an adapter merged, or
    adapters loaded unmerged (:mod:`stockade.serving.adapters`), each request choosing one (or none)
    with ``GenerationParams.adapter``; rows of different adapters share each forward pass."""

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        model_id: str,
        context: int,
        max_batch_size: int = 8,
        max_waiting: int = 64,
        eos_token_ids: frozenset[int] = frozenset(),
        cuda_graphs: bool = False,
        grouped_attention: bool = True,
        prefill_tokens: int = 16384,
    ) -> None:
        import torch

        self.torch = torch
        self.tokenizer = tokenizer
        self.runner = ModelRunner(
            model,
            slots=max_batch_size,
            length=context,
            cuda_graphs=cuda_graphs,
            grouped_attention=grouped_attention,
        )
        device = self.runner.device
        self.vocab = model.config.vocab_size
        self.info = EngineInfo(
            model_id=model_id,
            backend="hf",
            device=str(device),
            dtype=str(self.runner.dtype).removeprefix("torch."),
            context=context,
            max_batch_size=max_batch_size,
            max_waiting=max_waiting,
            eos_token_ids=eos_token_ids,
        )
        self.prefill_tokens = prefill_tokens
        self._seen = torch.zeros((max_batch_size, self.vocab), dtype=torch.bool, device=device)
        # how often each row generated each token (frequency and presence penalties)
        self._counts = torch.zeros((max_batch_size, self.vocab), dtype=torch.float32, device=device)
        self._waiting: deque[RequestHandle] = deque()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._rows: list[_Row] = []
        self._state: dict[str, Any] = {}
        self._draining = False
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._outbox: list[tuple[RequestHandle, TokenEvent]] = []
        self._mailboxes: dict[asyncio.AbstractEventLoop, _Mailbox] = {}
        self._pinned: Any = None
        self._copied = torch.cuda.Event() if device.type == "cuda" else None
        self._prefill_passes = self._decode_passes = self._decoded_rows = self._max_rows = 0
        self._grammars: Grammars | None = None  # built at start() where llguidance is installed
        self._no_grammars = "the llguidance package is not installed on this server"
        self.adapters = self.runner.adapters.labels  # served unmerged, chosen per request
        # forward passes by the set of adapters their rows used (None: the base): mixed batches are real
        self.adapter_passes: Counter[frozenset[str | None]] = Counter()

    # --- the API side -------------------------------------------------------------------------
    def start(self) -> None:
        # The model thread is the critical path: let it take the interpreter lock back quickly from the
        # API thread (default switch interval: 5 ms, longer than a decode step).
        sys.setswitchinterval(SWITCH_INTERVAL_S)
        if self._grammars is None and importlib.util.find_spec("llguidance") is not None:
            # the tokenizer's byte table for constrained decoding, built once before serving (for a 150k
            # vocabulary this takes a moment that should not fall on the first constrained request)
            try:
                self._grammars = Grammars(self.tokenizer, self.vocab, self.info.eos_token_ids)
            except Exception as exc:  # a tokenizer llguidance cannot read: serve, refuse grammars only
                self._no_grammars = f"llguidance cannot read this tokenizer ({exc.__class__.__name__}: {exc})"
        self._thread = threading.Thread(target=self._run, name="stockade-hf-engine", daemon=True)
        self._thread.start()

    def submit(
        self, prompt_ids: list[int], params: GenerationParams, *, timeout: float | None = None
    ) -> RequestHandle:
        validate(params, len(prompt_ids), self.info.context)
        if params.adapter is not None and params.adapter not in self.adapters:
            from stockade.serving.errors import InvalidRequest

            served = ", ".join(self.adapters) or "none"
            raise InvalidRequest(
                f"the adapter {params.adapter!r} is not served here (adapters: {served})",
                fix="choose a served adapter, or none for the base model",
            )
        if self._draining or self._stopping:
            raise Unavailable(
                "the server is shutting down and accepts no new requests", fix="retry on another replica"
            )
        handle = RequestHandle(
            prompt_ids=list(prompt_ids),
            params=params,
            seed=params.resolved_seed(),
            loop=asyncio.get_running_loop(),
            deadline=time.monotonic() + timeout if timeout else None,
            matcher=self._matcher(params),
        )
        with self._lock:
            if len(self._waiting) >= self.info.max_waiting:
                raise Overloaded(
                    f"{self.info.max_waiting} requests are already waiting", retry_after=1, fix="retry later"
                )
            self._waiting.append(handle)
        self._wake.set()
        return handle

    def _matcher(self, params: GenerationParams) -> Any:
        """The request's grammar matcher (constrained decoding), or None; a bad grammar is a 422."""
        if params.constraint is None:
            return None
        if self._grammars is None:
            raise InvalidRequest(
                f"{params.constraint.field}: constrained decoding is not available: {self._no_grammars}",
                fix="install Stockade's serve extra (pip install 'stockade[serve]'), or leave the field out",
            )
        return self._grammars.matcher(params.constraint)

    def counters(self) -> EngineCounters:
        return EngineCounters(
            prefill_passes=self._prefill_passes,
            decode_passes=self._decode_passes,
            decoded_rows=self._decoded_rows,
            max_rows_in_pass=self._max_rows,
            running=len(self._rows),
            waiting=len(self._waiting),
        )

    def begin_drain(self) -> None:
        self._draining = True

    def idle(self) -> bool:
        return not self._rows and not self._waiting

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    # --- the model thread ---------------------------------------------------------------------
    def _run(self) -> None:
        with self.torch.inference_mode():
            while not self._stopping:
                try:
                    self._expire_waiting()
                    self._admit()
                    if self._rows:
                        self._step()
                    else:
                        self._flush()  # the last events before sleeping, not after
                        self._wake.wait(IDLE_WAIT_S)
                        self._wake.clear()
                except Exception as exc:  # a failed forward fails its batch, not the server
                    self._fail_all(ServingError(f"generation failed: {exc.__class__.__name__}: {exc}"))
                self._flush()
            self._fail_all(Unavailable("the server stopped before this request finished"), waiting=True)
            self._flush()

    def _expire_waiting(self) -> None:
        """Answer queued requests whose time ran out (oldest first: the rest are younger)."""
        now = time.monotonic()
        with self._lock:
            while self._waiting and (self._waiting[0].cancelled or self._waiting[0].expired(now)):
                handle = self._waiting.popleft()
                if not handle.cancelled:
                    self._post(handle, TokenEvent(0, 0.0, error=RequestTimedOut("timed out while queued")))

    def _admit(self) -> None:
        free = self.info.max_batch_size - len(self._rows)
        if not free or not self._waiting:
            return
        now, joining, budget = time.monotonic(), [], self.prefill_tokens
        with self._lock:
            while self._waiting and len(joining) < free:
                handle = self._waiting[0]
                if handle.cancelled or handle.expired(now):
                    self._waiting.popleft()
                    if not handle.cancelled:
                        self._post(
                            handle, TokenEvent(0, 0.0, error=RequestTimedOut("timed out while queued"))
                        )
                    continue
                width = max([len(h.prompt_ids) for h in joining] + [len(handle.prompt_ids)])
                if joining and width * (len(joining) + 1) > budget:
                    break
                joining.append(self._waiting.popleft())
        if not joining:
            return
        first = len(self._rows)
        for handle in joining:
            handle.admitted = now
        try:
            wanted = [i for i, h in enumerate(joining) if h.params.prompt_logprobs]
            adapters = self._adapter_rows([h.params for h in joining])
            logits = self.runner.prefill(
                [h.prompt_ids for h in joining], first, keep_hidden=bool(wanted), adapters=adapters
            )
            if wanted:
                logits, hidden = logits
                for i in wanted:  # set before the first event is posted: the loop sees it with that event
                    handle = joining[i]
                    handle.prompt_logprobs = self.runner.prompt_logprobs(hidden[i], handle.prompt_ids)
        except Exception as exc:  # the joining requests are in no batch yet: answer them here
            error = ServingError(f"generation failed: {exc.__class__.__name__}: {exc}")
            for handle in joining:
                self._post(handle, TokenEvent(0, 0.0, error=error))
            return
        self._prefill_passes += 1
        if adapters is not None:
            self.adapter_passes[frozenset(adapters)] += 1
        rows = [_Row(h, len(h.prompt_ids)) for h in joining]
        torch = self.torch
        for offset, row in enumerate(rows):
            self._seen[first + offset].zero_()
            self._counts[first + offset].zero_()
            self._seen[first + offset, torch.tensor(row.handle.prompt_ids, device=self._seen.device)] = True
        self._rows.extend(rows)
        settings = row_settings(
            [r.handle.params for r in rows], [r.handle.seed for r in rows], self.vocab, logits.device
        )
        steps = torch.zeros(len(rows), dtype=torch.long, device=logits.device)
        span = slice(first, first + len(rows))
        logits = constrain(logits, self._grammars, [h.matcher for h in joining])
        tokens, logprobs, top = choose(logits, settings, steps, self._seen[span], self._counts[span])
        self._flush()
        self._accept(rows, first, tokens, logprobs, top, joined=True, counted=settings.frequency is not None)

    def _step(self) -> None:
        self._drop_stopped()
        if not self._rows:
            return
        state = self._state
        logits = self.runner.decode(
            state["ids"], state["positions"], max(r.position for r in self._rows), state["adapters"]
        )
        if state["adapters"] is not None:
            self.adapter_passes[frozenset(state["adapters"])] += 1
        count = len(self._rows)
        self._decode_passes += 1
        self._decoded_rows += count
        self._max_rows = max(self._max_rows, count)
        settings = state["settings"]
        logits = constrain(logits, self._grammars, [r.handle.matcher for r in self._rows])
        tokens, logprobs, top = choose(
            logits, settings, state["steps"], self._seen[:count], self._counts[:count]
        )
        self._flush()  # the last step's events go out while the device computes this one
        counted = settings.frequency is not None
        self._accept(self._rows, 0, tokens, logprobs, top, joined=False, counted=counted)

    def _accept(
        self,
        rows: list[_Row],
        first: int,
        tokens: Any,
        logprobs: Any,
        top: Any,
        *,
        joined: bool,
        counted: bool,
    ) -> None:
        """Record the rows' new tokens (one host copy), post events, retire finished rows. ``counted``:
        some row has a frequency or presence penalty (counts are kept only then: a row's penalty is
        fixed, so a penalised row's counts are always current)."""
        torch = self.torch
        slots = torch.arange(first, first + len(rows), device=tokens.device)
        self._seen[slots, tokens] = True
        if counted:
            self._counts[slots, tokens] += 1
        values = [tokens.to(torch.float64)[None], logprobs.to(torch.float64)[None]]
        if top is not None:  # [k, n] ids then [k, n] logprobs, in the same copy
            values += [top[0].T.to(torch.float64), top[1].T.to(torch.float64)]
        host = self._to_host(torch.cat(values))
        width = (len(host) - 2) // 2
        finished = []
        for index, row in enumerate(rows):
            token, logprob = host[0][index], host[1][index]
            row.generated += 1
            row.last_token = token = int(token)
            params = row.handle.params
            if row.handle.matcher is not None and self._grammars is not None:
                self._grammars.advance(row.handle.matcher, token)
            finish = None
            if token in self.info.eos_token_ids or token in params.stop_token_ids:
                finish = "eos_token"
            elif row.generated >= params.max_new_tokens or row.position + 1 >= self.info.context:
                finish = "length"
            wanted = min(params.top_logprobs, width)
            best = tuple((int(host[2 + k][index]), host[2 + width + k][index]) for k in range(wanted))
            self._post(row.handle, TokenEvent(token, logprob, finish=finish, top=best))
            if finish:
                finished.append(row)
        if finished:
            self._remove(finished)
        if finished or joined:
            self._rebuild()
        else:
            self._advance(tokens)

    def _to_host(self, values: Any) -> list[list[float]]:
        """The step's one device-to-host copy; on CUDA the wait releases the interpreter lock, so the
        API thread streams the previous tokens while the GPU works."""
        if values.device.type != "cuda":
            return values.tolist()
        torch = self.torch
        height, count = values.shape
        if self._pinned is None or self._pinned.shape[0] < height or self._pinned.shape[1] < count:
            self._pinned = torch.empty(
                (max(height, 2), max(count, self.info.max_batch_size)), dtype=values.dtype
            ).pin_memory()
        host = self._pinned[:height, :count]
        host.copy_(values, non_blocking=True)
        self._copied.record()
        self._copied.synchronize()
        return host.tolist()

    def _advance(self, tokens: Any) -> None:
        state = self._state
        state["ids"] = tokens
        state["positions"] += 1
        state["steps"] += 1

    def _drop_stopped(self) -> None:
        now = time.monotonic()
        gone = [r for r in self._rows if r.handle.cancelled or r.handle.expired(now)]
        for row in gone:
            if not row.handle.cancelled:
                self._post(row.handle, TokenEvent(0, 0.0, error=RequestTimedOut("the request timed out")))
        if gone:
            self._remove(gone)
            self._rebuild()

    def _remove(self, leaving: list[_Row]) -> None:
        """Keep slots contiguous: each hole is filled by the last running row."""
        leaving_ids = {id(r) for r in leaving}
        keep = [r for r in self._rows if id(r) not in leaving_ids]
        slots = {id(r): i for i, r in enumerate(self._rows)}
        holes = sorted(slots[id(r)] for r in leaving)
        movers = [r for r in self._rows[len(keep) :] if id(r) not in leaving_ids]
        for hole, row in zip((h for h in holes if h < len(keep)), movers, strict=False):
            source = slots[id(row)]
            self.runner.cache.move(source, hole, row.position + 1)
            self._seen[hole].copy_(self._seen[source])
            self._counts[hole].copy_(self._counts[source])
            slots[id(row)] = hole
        self._rows = sorted(keep, key=lambda r: slots[id(r)])

    def _rebuild(self) -> None:
        torch, device = self.torch, self._seen.device
        rows = self._rows
        if not rows:
            self._state = {}
            return
        self._state = {
            "ids": torch.tensor([r.last_token for r in rows], dtype=torch.long, device=device),
            "positions": torch.tensor([r.position for r in rows], dtype=torch.long, device=device),
            "steps": torch.tensor([r.generated for r in rows], dtype=torch.long, device=device),
            "settings": row_settings(
                [r.handle.params for r in rows], [r.handle.seed for r in rows], self.vocab, device
            ),
            "adapters": self._adapter_rows([r.handle.params for r in rows]),
        }

    def _adapter_rows(self, params: list[GenerationParams]) -> list[str | None] | None:
        """Each row's adapter (None: the base) when adapters are served (else None)."""
        return [p.adapter for p in params] if self.adapters else None

    def _fail_all(self, error: ServingError, *, waiting: bool = False) -> None:
        for row in self._rows:
            self._post(row.handle, TokenEvent(0, 0.0, error=error))
        self._rows, self._state = [], {}
        if waiting:
            with self._lock:
                while self._waiting:
                    self._post(self._waiting.popleft(), TokenEvent(0, 0.0, error=error))

    def _post(self, handle: RequestHandle, event: TokenEvent) -> None:
        self._outbox.append((handle, event))

    def _flush(self) -> None:
        """Hand this step's events to their event loops. A loop is woken (a self-pipe write, which
        also hands the interpreter lock over) only when it has not yet drained the last batch."""
        if not self._outbox:
            return
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[RequestHandle, TokenEvent]]] = {}
        for handle, event in self._outbox:
            by_loop.setdefault(handle.loop, []).append((handle, event))
        self._outbox = []
        for loop, batch in by_loop.items():
            mailbox = self._mailboxes.get(loop)
            if mailbox is None or mailbox.closed:
                mailbox = self._mailboxes[loop] = _Mailbox(loop)
            mailbox.post(batch)


class _Mailbox:
    """Events for one event loop, delivered by one scheduled callback however many steps they span."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.lock = threading.Lock()
        self.items: list[tuple[RequestHandle, TokenEvent]] = []
        self.scheduled = False
        self.closed = False

    def post(self, batch: list[tuple[RequestHandle, TokenEvent]]) -> None:
        with self.lock:
            self.items.extend(batch)
            if self.scheduled:
                return
            self.scheduled = True
        try:
            self.loop.call_soon_threadsafe(self.deliver)
        except RuntimeError:  # that loop has closed: nobody is listening
            self.closed = True

    def deliver(self) -> None:
        with self.lock:
            items, self.items, self.scheduled = self.items, [], False
        for handle, event in items:
            handle.events.put_nowait(event)
