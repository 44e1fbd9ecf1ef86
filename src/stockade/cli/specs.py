"""`stockade serve | export`: specs validated from YAML and flags.

The serving and model issues give these commands their engines; until then a
command validates its configuration completely (``--dry-run`` prints the resolved spec) and
says plainly that the engine is not in this build.
"""

from __future__ import annotations

from typing import Annotated

import typer

from stockade.cli.output import console, escape
from stockade.cli.spec_options import spec_epilog, spec_from_args, spec_yaml
from stockade.core.errors import NotAvailableYet
from stockade.core.references import parse_model_reference
from stockade.core.specs import ExportSpec, ServeSpec, Spec

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


def _resolve(spec: Spec, command: str, dry_run: bool) -> None:
    if check_spec(spec, command, dry_run):
        return
    raise NotAvailableYet(
        f"`stockade {command}` validated its configuration, but its engine is not in this build yet",
        fix=f"use `stockade {command} ... --dry-run` to print the resolved configuration",
    )


def register(app: typer.Typer) -> None:
    @app.command(context_settings=SPEC_CONTEXT, epilog=spec_epilog(ServeSpec))
    def serve(ctx: typer.Context, dry_run: DryRun = False) -> None:
        """Serve a model: stockade serve [CONFIG.yaml] [--model_name_or_path P --template T --port N ...]."""
        spec, _ = spec_from_args(ServeSpec, list(ctx.args))
        _resolve(spec, "serve", dry_run)

    @app.command(context_settings=SPEC_CONTEXT, epilog=spec_epilog(ExportSpec))
    def export(ctx: typer.Context, dry_run: DryRun = False) -> None:
        """Merge or export an adapter: stockade export [CONFIG.yaml] [--key value ...]."""
        spec, _ = spec_from_args(ExportSpec, list(ctx.args))
        _resolve(spec, "export", dry_run)
