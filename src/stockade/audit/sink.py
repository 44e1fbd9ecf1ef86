"""``AuditSink``: what services receive to record their state changes."""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy.orm import Session

from stockade.storage.tables import AuditRecord


class AuditSink(Protocol):
    def record(
        self,
        action: str,
        target: str | None = None,
        *,
        result: str = "ok",
        reason: str | None = None,
        session: Session | None = None,
        **details: Any,
    ) -> AuditRecord | None:
        """Write one audit event for the current actor and request (inside ``session`` if given)."""
