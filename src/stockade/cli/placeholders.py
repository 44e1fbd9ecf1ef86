"""Commands whose engines arrive with later work: they exist, say so, point to what works, and exit 2.

Every form answers the same way — bare, with options (`webui --port 7860`), arguments
(`estimate FILE`) or sub-commands (`bundle create ...`) — instead of a raw "No such option".
"""

from __future__ import annotations

from dataclasses import dataclass

import typer

from stockade.core.errors import NotAvailableYet


@dataclass(frozen=True)
class Pending:
    summary: str
    instead: str  # what to run in this build instead


PENDING = {
    "webui": Pending(
        "The web console.",
        "the CLI does what the web UI does: `stockade train --model M --dataset D --template T ... "
        "--save-config /abs/path/finance_cfg.yaml` trains and saves the resolved settings (LLaMA-Factory "
        "keys), `stockade train /abs/path/finance_cfg.yaml` runs them again (`stockade train --help` "
        "lists every key), and `stockade chat` talks to a model",
    ),
    "estimate": Pending(
        "Estimate memory and time of a training run from config.json.",
        "`stockade train CONFIG.yaml --dry-run` checks and resolves a training config without loading "
        "weights; for memory, start with a short run (--max_steps 5) and watch nvidia-smi",
    ),
    "bundle": Pending(
        "Offline install bundles (wheels, models) for air-gapped servers.",
        "on a connected machine, in a Stockade checkout, "
        "`pip wheel -w wheels torch==2.13.0 '.[train,serve]'`; carry the folder in, then "
        "`pip install --no-index --find-links wheels torch==2.13.0 'stockade[train,serve]'`; "
        "bring models in with `stockade model import FOLDER --name NAME` and move workspaces with "
        "`stockade backup`",
    ),
}

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
