"""What spec-driven commands (`serve`, `export`) share: flag parsing settings and ``--dry-run``."""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING, Annotated

import typer

from stockade.cli.output import console, escape

if TYPE_CHECKING:
    from stockade.core.specs import Spec

SPEC_CONTEXT = {
    "allow_extra_args": True,
    "ignore_unknown_options": True,
    "help_option_names": ["-h", "--help"],
}
DryRun = Annotated[bool, typer.Option("--dry-run", help="Validate, resolve and print the spec; run nothing.")]


class VerifyMode(str, Enum):
    fast = "fast"
    full = "full"


Verify = Annotated[
    VerifyMode,
    typer.Option(
        "--verify",
        help="Check the model's files against its manifest before loading: fast (sizes and times recorded "
        "at import, changed files re-hashed) or full (re-hash every file).",
    ),
]


def check_spec(spec: Spec, command: str, dry_run: bool) -> bool:
    """Refuse an unusable model reference; with ``dry_run``, print the resolved spec. True: done."""
    from stockade.cli.spec_options import spec_yaml
    from stockade.core.references import parse_model_reference

    model = getattr(spec, "model", None)
    if model:
        parse_model_reference(model, where=f"{command}: model")
    if dry_run:
        console.print(escape(spec_yaml(spec)), end="")
    return dry_run
