"""Audit records written by a background thread, so recording a request never delays generation."""

from __future__ import annotations

import logging
import queue
import threading
from typing import Any

log = logging.getLogger("stockade.serving")
_STOP = object()


class AuditWriter:
    """``record(action, target, **details)`` queues; the thread appends through ``context.record``."""

    def __init__(self, context: Any) -> None:
        self.context = context
        self._queue: queue.Queue[Any] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="stockade-audit-writer", daemon=True)
        self._thread.start()

    def record(self, action: str, target: str | None, *, result: str = "ok", **details: Any) -> None:
        self._queue.put((action, target, result, details))

    def close(self) -> None:
        """Write everything queued, then stop."""
        self._queue.put(_STOP)
        self._thread.join(timeout=60)

    def _run(self) -> None:
        while (item := self._queue.get()) is not _STOP:
            action, target, result, details = item
            try:
                self.context.record(action, target, result=result, **details)
            except Exception:  # the audit store failing must be visible, but not kill serving
                log.exception("could not write the audit record %s", action)
