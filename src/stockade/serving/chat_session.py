"""A terminal chat over an engine: multi-turn history, streamed replies (used by ``stockade chat``)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from stockade.serving.detokenize import TextAssembler
from stockade.serving.params import GenerationParams
from stockade.serving.prompts import chat_prompt_ids
from stockade.serving.stream import Outcome, chunks


@dataclass
class Reply:
    text: str
    prompt_tokens: int
    generated_tokens: int
    finish: str | None
    seconds: float


@dataclass
class ChatSession:
    engine: Any
    template: Any
    params: GenerationParams
    system: str | None = None
    history: list[dict[str, str]] = field(default_factory=list)

    def reset(self) -> None:
        self.history.clear()

    def ask(
        self, loop: asyncio.AbstractEventLoop, text: str, on_text: Callable[[str], None] | None = None
    ) -> Reply:
        messages = ([{"role": "system", "content": self.system}] if self.system else []) + [
            *self.history,
            {"role": "user", "content": text},
        ]
        reply = loop.run_until_complete(self._generate(messages, on_text))
        self.history += [
            {"role": "user", "content": text},
            {"role": "assistant", "content": reply.text or " "},
        ]
        return reply

    async def _generate(self, messages: list[dict[str, str]], on_text: Callable[[str], None] | None) -> Reply:
        started = time.perf_counter()
        tokenizer = self.engine.tokenizer
        prompt = chat_prompt_ids(tokenizer, self.template, messages)
        room = self.engine.info.context - len(prompt)
        params = self.params
        if params.max_new_tokens > room:
            params = GenerationParams(**{**params.__dict__, "max_new_tokens": max(1, room)})
        handle = self.engine.submit(prompt, params)
        outcome = Outcome()
        async for chunk in chunks(handle, TextAssembler(tokenizer, params.stop), None, outcome):
            if on_text and chunk.text:
                on_text(chunk.text)
        return Reply(
            outcome.text, len(prompt), outcome.generated, outcome.finish, time.perf_counter() - started
        )
