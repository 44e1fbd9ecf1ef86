"""The privacy gate's contract with the import: its verdict, and the protocol a gate follows.

The import service stages the normalized JSONL, hands it to the gate, and stores what the gate
leaves there together with its verdict. ``stockade.privacy.gate.PolicyGate`` is the gate
(scan, then desensitize / block / allow by policy). Every import goes through one: there is no
way to store a version unscanned.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field

GateStatus = Literal["passed", "desensitized", "refused", "allowed"]


class GateVerdict(BaseModel):
    status: GateStatus
    gate: str
    policy: str | None = None
    report: dict[str, Any] = Field(default_factory=dict)


class PrivacyGate(Protocol):
    name: str

    def inspect(self, staged: Path, *, dataset: str) -> GateVerdict:
        """Scan (and, if the policy says so, desensitize in place) the staged JSONL file."""
