"""The generation flow both protocols share: submit to the engine, iterate chunks, account for it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from fastapi import Request

from stockade.api.state import ServerState
from stockade.serving.detokenize import TextAssembler
from stockade.serving.params import GenerationParams
from stockade.serving.pii_guard import OutputFilter
from stockade.serving.protocol import RequestHandle
from stockade.serving.stream import Chunk, Outcome, chunk_batches


@dataclass
class Generation:
    state: ServerState
    request: Request
    prompt_ids: list[int]
    params: GenerationParams
    include_stop: bool
    echo: str = ""  # prompt text put before the generated text (TGI return_full_text), already guarded
    end_user: str | None = None  # OpenAI ``user``: recorded (hashed) in the audit record
    handle: RequestHandle = field(init=False)
    assembler: TextAssembler = field(init=False)
    guard: OutputFilter | None = field(init=False)
    outcome: Outcome = field(default_factory=Outcome)

    def __post_init__(self) -> None:
        self.guard = self.state.pii_guard.output_filter()
        if self.guard is not None:
            self.guard.counts = self.state.personal_data(self.request)["output"]
        self.handle = self.state.engine.submit(
            self.prompt_ids, self.params, timeout=self.state.request_timeout
        )
        self.assembler = TextAssembler(self.state.tokenizer, self.params.stop, include_stop=self.include_stop)

    def batches(self) -> AsyncIterator[list[Chunk]]:
        """Chunks as they arrive, a batch per wake-up (a stream writes each batch in one send).

        With the output guard on, the chunks are the guard's: held back while they could be part of
        personal data, masked (``outcome.text`` is then the masked text), or ending in
        :class:`~stockade.serving.errors.PersonalDataBlocked` in block mode.
        """
        source = chunk_batches(self.handle, self.assembler, self.state.metrics, self.outcome)
        return source if self.guard is None else self._guarded(source, self.guard)

    @property
    def text(self) -> str:
        """The response text: ``echo`` and the generated text as sent (masked when the guard is on)."""
        return self.echo + self.outcome.text

    async def _guarded(
        self, source: AsyncIterator[list[Chunk]], guard: OutputFilter
    ) -> AsyncIterator[list[Chunk]]:
        try:
            async for batch in source:
                safe = guard.push(batch)
                self.outcome.text = guard.text  # never the raw text once the guard is on
                if guard.blocked is not None:
                    self.handle.cancel()
                    raise guard.blocked_error()
                if safe:
                    yield safe
        finally:
            await source.aclose()  # type: ignore[attr-defined]

    async def collect(self) -> list[Chunk]:
        return [chunk async for batch in self.batches() for chunk in batch]

    def account(self, status: int) -> None:
        self.state.account(
            self.request,
            status=status,
            prompt_tokens=len(self.prompt_ids),
            generated_tokens=self.outcome.generated,
            end_user=self.end_user,
        )
