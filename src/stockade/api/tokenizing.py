"""Prompt preparation (the prompt PII filter, the chat template, the tokenizer) in worker threads.

Never on the event loop: a slow prompt must not stall every other request's streaming. At most
``workers`` prompts are prepared at once, and at most ``per_credential`` for one credential, so one
caller cannot occupy every worker; the rest wait their turn (in order, per credential).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
DEFAULT_WORKERS = 4
DEFAULT_PER_CREDENTIAL = 1


class PromptWorkers:
    def __init__(self, workers: int = DEFAULT_WORKERS, per_credential: int = DEFAULT_PER_CREDENTIAL) -> None:
        if workers < 1 or per_credential < 1:
            raise ValueError("workers and per_credential must be at least 1")
        self.workers = workers
        self.per_credential = per_credential
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="stockade-prompt")
        self._slots: dict[str, tuple[asyncio.Semaphore, int]] = {}  # credential -> (slots, users)

    async def run(self, credential: str, work: Callable[[], T]) -> T:
        """``work()`` in a worker thread, within ``credential``'s share of the workers."""
        loop = asyncio.get_running_loop()
        slots = self._enter(credential)
        try:
            await slots.acquire()
        except BaseException:
            self._leave(credential)
            raise
        future = loop.run_in_executor(self._executor, work)

        def release(_: object) -> None:  # when the work ends, even if the caller stopped waiting
            slots.release()
            self._leave(credential)

        future.add_done_callback(release)
        return await asyncio.shield(future)  # a cancelled caller keeps the slot until the work ends

    def _enter(self, credential: str) -> asyncio.Semaphore:
        slots, users = self._slots.get(credential) or (asyncio.Semaphore(self.per_credential), 0)
        self._slots[credential] = (slots, users + 1)
        return slots

    def _leave(self, credential: str) -> None:
        slots, users = self._slots[credential]
        if users <= 1:
            del self._slots[credential]  # no memory kept for callers that stopped calling
        else:
            self._slots[credential] = (slots, users - 1)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
