"""`stockade init`, `stockade doctor`, `stockade version`."""

from __future__ import annotations

import importlib.metadata
import platform
from pathlib import Path
from typing import Annotated

import typer

from stockade import __version__
from stockade.cli.output import console, escape, new_table, print_json, status_text
from stockade.cli.state import state

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def init(
    directory: Annotated[
        Path | None,
        typer.Argument(
            help="Workspace folder. Default: --workspace, $STOCKADE_HOME or ./stockade-workspace."
        ),
    ] = None,
    admin_name: Annotated[
        str | None, typer.Option(help="The first admin's user name (default: the OS user).")
    ] = None,
    admin_password_file: Annotated[
        Path | None,
        typer.Option(
            help="The first admin's password (line 1). Else $STOCKADE_ADMIN_PASSWORD, a prompt at a "
            "terminal, or a generated one printed once."
        ),
    ] = None,
) -> None:
    """Create a workspace (settings, database, audit log, folders, a logged-in first admin). Idempotent."""
    from stockade.cli.login import first_admin_password
    from stockade.core.workspace import default_location
    from stockade.workspace.service import initialize_workspace

    root = directory or state.workspace or default_location()
    password = first_admin_password(root, admin_password_file)
    result = initialize_workspace(root, admin_name=admin_name, admin_password=password)
    if result.schema_before is None:
        console.print(f"Created workspace [bold]{escape(str(result.root))}[/]")
        console.print(f"  folders: {escape(', '.join(result.created))}")
        console.print(f"  database schema: {result.schema_after}; audit record #{result.record.seq}")
        console.print(
            f"Next: [bold]export STOCKADE_HOME={escape(str(result.root))}[/] and run `stockade doctor`."
        )
    if result.admin is not None:
        console.print(f"  first admin: [bold]{escape(result.admin.name)}[/] (logged in)")
        if result.admin.generated_password:
            console.print("  generated admin password (shown once; store it safely):")
            print(f"  {result.admin.generated_password}")
    elif result.changed:
        console.print(
            f"Updated workspace {escape(str(result.root))}: created {escape(', '.join(result.created))}"
            f"; schema {result.schema_before} -> {result.schema_after}"
        )
    else:
        console.print(
            f"Workspace {escape(str(result.root))} is already initialised and current; nothing changed."
        )


def doctor(
    as_json: JsonOption = False,
    repair: Annotated[
        bool,
        typer.Option(
            "--repair",
            help="First clear what crashes left: staging folders, unregistered version and run folders, runs "
            "stuck running (audited as recovery.*); leftovers of processes still running are kept.",
        ),
    ] = False,
    for_spec: Annotated[
        Path | None,
        typer.Option(
            "--for",
            help="A training spec (CONFIG.yaml): also say whether this machine can run it (the estimated "
            "peak memory against the free GPU memory, or RAM on CPU, and the smallest change that fits).",
        ),
    ] = None,
) -> None:
    """Check Python, libraries, GPU, disk, locale, the offline guard, the workspace and its database."""
    from stockade.workspace.doctor import exit_code, run_doctor

    if repair:
        from stockade.workspace.recovery import recover
        from stockade.workspace.service import open_workspace

        with open_workspace(state.workspace) as context:
            done = recover(context, everything=True)
        if not as_json:
            console.print(
                f"repaired: {len(done.staging)} staging folder(s), {len(done.orphans)} unregistered "
                f"version or run folder(s) removed, {len(done.runs)} run(s) marked failed (interrupted)"
            )
    checks = run_doctor(state.workspace)
    if for_spec is not None:
        checks.append(_fit_check(for_spec))
    if as_json:
        print_json([check.as_dict() for check in checks])
    else:
        table = new_table("group", "check", "status", "detail", "how to fix", title="stockade doctor")
        for check in checks:
            table.add_row(
                check.group, check.name, status_text(check.status), escape(check.detail), escape(check.fix)
            )
        console.print(table)
    raise typer.Exit(exit_code(checks))


def _fit_check(config: Path):  # type: ignore[no-untyped-def]
    """The ``--for`` row: the spec loaded as `stockade train` loads it, its base model found (a folder, or
    a registered version in the workspace), then the estimator's verdict."""
    from stockade.cli.spec_options import spec_from_args
    from stockade.core.errors import ConfigError, StockadeError
    from stockade.core.references import parse_model_reference
    from stockade.core.specs import TrainSpec
    from stockade.workspace.doctor import Check, check_training_spec

    spec, _ = spec_from_args(TrainSpec, [str(config)])
    try:
        if not spec.model:
            raise ConfigError(f"{config} names no model", where="--for", fix="set model_name_or_path in it")
        reference = parse_model_reference(spec.model, where=f"model in {config}")
        if reference.kind == "path" and reference.path is not None:
            model_dir = reference.path
        else:
            from stockade.governance.roles import require
            from stockade.resources.plan import registered_model_folder
            from stockade.workspace.service import open_workspace

            with open_workspace(state.workspace) as context:
                require(context, "model.read")
                model_dir = registered_model_folder(context.engine, context.workspace.root, spec.model)
    except StockadeError as exc:
        return Check("resources", f"fits {config.name}", "fail", exc.what, exc.fix or "")
    return check_training_spec(spec, model_dir)


def version(as_json: JsonOption = False) -> None:
    """Print the versions of Stockade, Python and the main libraries (without importing them)."""
    packages = ("torch", "transformers", "peft", "accelerate", "tokenizers", "pydantic", "sqlalchemy")
    found = {}
    for package in packages:
        try:
            found[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            found[package] = None
    info = {"stockade": __version__, "python": platform.python_version(), **found}
    if as_json:
        print_json(info)
        return
    console.print(f"stockade {__version__} (Python {info['python']})")
    for package, value in found.items():
        console.print(f"  {package}: {value or 'not installed'}")


def register(app: typer.Typer) -> None:
    app.command()(init)
    app.command()(doctor)
    app.command()(version)
