"""The privacy gate's contract with the import: its verdict, and the protocol a gate follows.

The import service stages the normalized JSONL (encrypted at rest, see ``stockade.storage.sealed``),
hands it to the gate, and stores what the gate leaves there together with its verdict.
``stockade.privacy.gate.PolicyGate`` is the gate (scan, then desensitize / block / allow by policy).
Every import goes through one: there is no way to store a version unscanned.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any, Literal, Protocol, TextIO

from pydantic import BaseModel, Field

GateStatus = Literal["passed", "desensitized", "refused", "allowed"]


class GateVerdict(BaseModel):
    status: GateStatus
    gate: str
    policy: str | None = None
    report: dict[str, Any] = Field(default_factory=dict)


class StagedRecords(Protocol):
    """The normalized JSONL records an import staged (``stockade.storage.sealed.SealedFile``)."""

    size: int  # bytes of the records (decides how many workers scan them)

    def reader(self) -> AbstractContextManager[TextIO]:
        """The records, one JSON object a line."""

    def writer(self) -> AbstractContextManager[TextIO]:
        """Lines that replace the records when the block ends without an error."""


class PrivacyGate(Protocol):
    name: str

    def inspect(self, staged: StagedRecords, *, dataset: str) -> GateVerdict:
        """Scan (and, if the policy says so, desensitize in place) the staged records."""
