"""Command groups whose engines arrive with later work: they exist, say so, and exit 2."""

from __future__ import annotations

import typer

from stockade.core.errors import NotAvailableYet

PENDING = {
    "webui": "The web console.",
    "estimate": "Estimate memory and time of a training run from config.json.",
    "bundle": "Offline install bundles (wheels, models) for air-gapped servers.",
}


def _pending_group(name: str, summary: str) -> typer.Typer:
    group = typer.Typer(help=f"{summary} (not in this build yet)")

    @group.callback(invoke_without_command=True)
    def pending() -> None:
        raise NotAvailableYet(
            f"`stockade {name}` is not in this build yet",
            fix="see `stockade --help` for the commands this build has",
        )

    return group


def register(app: typer.Typer) -> None:
    for name, summary in PENDING.items():
        app.add_typer(_pending_group(name, summary), name=name)
