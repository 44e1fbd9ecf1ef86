"""The hook where the privacy gate runs, between validation and storing a dataset version.

The import service stages the normalized JSONL, hands it to the gate, and stores what the gate
leaves there together with its verdict. Until the privacy work lands, the only gate is
``NoGate``, whose verdict ``not_scanned`` is recorded honestly with every version.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field

GateStatus = Literal["not_scanned", "passed", "desensitized", "refused"]


class GateVerdict(BaseModel):
    status: GateStatus
    gate: str
    policy: str | None = None
    report: dict[str, Any] = Field(default_factory=dict)


class PrivacyGate(Protocol):
    name: str

    def inspect(self, staged: Path, *, dataset: str) -> GateVerdict:
        """Scan (and, if the policy says so, desensitize in place) the staged JSONL file."""


class NoGate:
    """No scan configured: the version is stored as ``not_scanned``."""

    name = "none"

    def inspect(self, staged: Path, *, dataset: str) -> GateVerdict:
        return GateVerdict(status="not_scanned", gate=self.name)
