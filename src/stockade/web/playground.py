"""The Playground's models: an approved version loaded in this process as `stockade chat` loads it
(same resolution, same permission ``model.call``, same ``chat.start`` audit record), kept for the next
question; one prompt at a time per model, greedy unless a temperature is given."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from typing import Any

from stockade.governance.roles import require

MAX_LOADED = 2  # compare two versions; a third replaces the oldest


@dataclass
class Loaded:
    label: str
    engine: Any
    template: Any
    lock: threading.Lock


class Playground:
    def __init__(self) -> None:
        self._models: dict[str, Loaded] = {}
        self._lock = threading.Lock()

    def _load(self, context: Any, reference: str) -> Loaded:
        from stockade.core.specs import ServeSpec
        from stockade.serving.service import build_engine, chat_template
        from stockade.serving.target import resolve_target

        spec = ServeSpec(model=reference, max_batch_size=1)
        target = resolve_target(context, spec)  # only approved (or deployed) versions, as `stockade chat`
        with self._lock:
            if target.label in self._models:
                return self._models[target.label]
        engine = build_engine(target, spec)
        engine.start()
        loaded = Loaded(target.label, engine, chat_template(target, engine.tokenizer), threading.Lock())
        with self._lock:
            if len(self._models) >= MAX_LOADED:
                oldest = next(iter(self._models))
                self._models.pop(oldest).engine.stop()
            self._models[target.label] = loaded
        context.record(
            "chat.start", target.label, dev_mode=False, one_shot=True, verified=target.verified, via="web"
        )
        return loaded

    def ask(self, context: Any, reference: str, prompt: str, *, max_new_tokens: int = 64) -> dict[str, Any]:
        from stockade.serving.chat_session import ChatSession
        from stockade.serving.params import GenerationParams

        require(context, "model.call")
        loaded = self._load(context, reference)
        params = GenerationParams(max_new_tokens=max_new_tokens, temperature=None, do_sample=False, seed=None)
        session = ChatSession(loaded.engine, loaded.template, params)
        loop = asyncio.new_event_loop()
        try:
            with loaded.lock:
                reply = session.ask(loop, prompt)
        finally:
            loop.close()
        return {
            "model": loaded.label,
            "text": reply.text,
            "tokens": reply.generated_tokens,
            "seconds": reply.seconds,
        }

    def close(self) -> None:
        with self._lock:
            for loaded in self._models.values():
                loaded.engine.stop()
            self._models.clear()
