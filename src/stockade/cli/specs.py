"""What spec-driven commands (`serve`, `export`) share: flag parsing settings and ``--dry-run``."""

from __future__ import annotations

from typing import Annotated

import typer

from stockade.cli.output import console, escape
from stockade.cli.spec_options import spec_yaml
from stockade.core.references import parse_model_reference
from stockade.core.specs import Spec

SPEC_CONTEXT = {
    "allow_extra_args": True,
    "ignore_unknown_options": True,
    "help_option_names": ["-h", "--help"],
}
DryRun = Annotated[bool, typer.Option("--dry-run", help="Validate, resolve and print the spec; run nothing.")]


def check_spec(spec: Spec, command: str, dry_run: bool) -> bool:
    """Refuse an unusable model reference; with ``dry_run``, print the resolved spec. True: done."""
    model = getattr(spec, "model", None)
    if model:
        parse_model_reference(model, where=f"{command}: model")
    if dry_run:
        console.print(escape(spec_yaml(spec)), end="")
    return dry_run
