"""The generation flow both protocols share: submit to the engine, iterate chunks, account for it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from fastapi import Request

from stockade.api.state import ServerState
from stockade.serving.detokenize import TextAssembler
from stockade.serving.params import GenerationParams
from stockade.serving.protocol import RequestHandle
from stockade.serving.stream import Chunk, Outcome, chunk_batches


@dataclass
class Generation:
    state: ServerState
    request: Request
    prompt_ids: list[int]
    params: GenerationParams
    include_stop: bool
    handle: RequestHandle = field(init=False)
    assembler: TextAssembler = field(init=False)
    outcome: Outcome = field(default_factory=Outcome)

    def __post_init__(self) -> None:
        self.handle = self.state.engine.submit(
            self.prompt_ids, self.params, timeout=self.state.request_timeout
        )
        self.assembler = TextAssembler(self.state.tokenizer, self.params.stop, include_stop=self.include_stop)

    def batches(self) -> AsyncIterator[list[Chunk]]:
        """Chunks as they arrive, a batch per wake-up (a stream writes each batch in one send)."""
        return chunk_batches(self.handle, self.assembler, self.state.metrics, self.outcome)

    async def collect(self) -> list[Chunk]:
        return [chunk async for batch in self.batches() for chunk in batch]

    def account(self, status: int) -> None:
        self.state.account(
            self.request,
            status=status,
            prompt_tokens=len(self.prompt_ids),
            generated_tokens=self.outcome.generated,
        )
