"""Options given before the command (``stockade --workspace W --debug CMD``), and what this
invocation has printed about itself."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass
class CliState:
    workspace: Path | None = None
    debug: bool = False
    show_actor: bool = False  # print "as NAME" at this invocation's first audit record
    actor_shown: bool = False


state = CliState()
