"""Options given before the command (``stockade --workspace W --debug CMD``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass
class CliState:
    workspace: Path | None = None
    debug: bool = False


state = CliState()
