"""Commands whose engines arrive with later work: they exist, say so, point to what works, and exit 2.

Every form answers the same way — bare, with options (`NAME --port 7860`), arguments
(`NAME FILE`) or sub-commands (`NAME launch ...`) — instead of a raw "No such option".
"""

from __future__ import annotations

from dataclasses import dataclass

import typer

from stockade.core.errors import NotAvailableYet


@dataclass(frozen=True)
class Pending:
    summary: str
    instead: str  # what to run in this build instead


# Every command of this build is real now (the web console arrived with issue 19); a later placeholder
# goes here as NAME: Pending(summary, what to run instead).
PENDING: dict[str, Pending] = {}

_ANY_FORM = {"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": ["-h", "--help"]}


def refusal(name: str) -> NotAvailableYet:
    """The one answer of a placeholder command, whatever was passed to it."""
    return NotAvailableYet(f"`stockade {name}` is not in this build yet", fix=PENDING[name].instead)


def _pending_command(name: str):
    def pending(ctx: typer.Context) -> None:
        raise refusal(name)

    pending.__doc__ = f"{PENDING[name].summary} (not in this build yet)"
    return pending


def register(app: typer.Typer) -> None:
    for name in PENDING:
        app.command(name, context_settings=_ANY_FORM, add_help_option=True)(_pending_command(name))
