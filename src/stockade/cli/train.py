"""`stockade train` and `stockade runs list | show | rm`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from stockade.cli.output import console, errors, escape, new_table, print_json, status_text
from stockade.cli.spec_options import spec_command, spec_from_args, spec_yaml
from stockade.cli.specs import SPEC_CONTEXT, DryRun, Verify, VerifyMode, check_spec
from stockade.cli.state import state
from stockade.core.paths import user_path
from stockade.governance.roles import require

runs_app = typer.Typer(help="Training runs: list, show, remove.", no_args_is_help=True)


def _progress_printer(as_json: bool):
    if as_json:

        def emit(event) -> None:
            print(json.dumps({"event": "progress", **event.__dict__}), flush=True)

        return emit, lambda: None
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    bar = Progress(
        TextColumn("[bold]training"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeRemainingColumn(),
        TextColumn("{task.fields[info]}"),
        console=console,
    )
    task = bar.add_task("train", total=None, info="")
    bar.start()

    def update(event) -> None:
        loss = f"loss {event.loss:.4f}" if event.loss is not None else ""
        bar.update(
            task,
            completed=event.step,
            total=event.total_steps,
            info=f"{loss}  {event.tokens_per_s:,.0f} tok/s",
        )

    return update, bar.stop


def register(app: typer.Typer) -> None:
    @app.command(context_settings=SPEC_CONTEXT, cls=spec_command("TrainSpec"))
    def train(
        ctx: typer.Context,
        dry_run: DryRun = False,
        resume: Annotated[str | None, typer.Option(help="Continue RUN_ID from its last checkpoint.")] = None,
        json_progress: Annotated[bool, typer.Option(help="Progress as JSON lines (for machines).")] = False,
        save_config: Annotated[
            Path | None,
            typer.Option(help="Save the resolved spec as YAML (a relative path: from the current folder)."),
        ] = None,
        verify: Verify = VerifyMode.fast,
        force: Annotated[
            bool,
            typer.Option(
                "--force",
                help="Start even if the memory estimate says the run will not fit (see `stockade estimate`).",
            ),
        ] = False,
    ) -> None:
        """Fine-tune: stockade train [CONFIG.yaml] [--key value ...] (LLaMA-Factory keys accepted)."""
        from stockade.core.specs import TrainSpec
        from stockade.training.service import dry_run as resolve_dry_run
        from stockade.training.service import resume_training, start_training
        from stockade.workspace.service import open_workspace

        if force and (resume or dry_run):
            raise typer.BadParameter("--force starts a new run; it does nothing with --resume or --dry-run")
        if resume:
            if ctx.args or dry_run:
                raise typer.BadParameter(
                    "--resume takes the run's own spec; give no config, overrides or --dry-run"
                )
            spec = None
        else:
            spec, _ = spec_from_args(TrainSpec, list(ctx.args))
            check_spec(spec, "train spec", False)
            if dry_run and not save_config and not _has_workspace():
                console.print(escape(spec_yaml(spec)), end="")
                errors.print(
                    "note: no workspace here, so the model, datasets, template and adapter were not "
                    "resolved; with one (--workspace or STOCKADE_HOME), --dry-run resolves all of them"
                )
                return
        with open_workspace(state.workspace) as context:
            require(context, "train.run")
            if save_config and spec is not None:
                target = user_path(save_config)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(spec_yaml(spec), encoding="utf-8")
                context.record("config.save", str(target), kind="TrainSpec")
                console.print(f"saved the resolved spec to {escape(str(target))}")
            if dry_run and spec is not None:
                spec, facts = resolve_dry_run(context, spec, verify.value)
                console.print(escape(spec_yaml(spec)), end="")
                console.print(escape(_comment_lines(facts)), end="")
                return
            callback, finish = _progress_printer(json_progress)
            try:
                if resume:
                    outcome = resume_training(context, resume, progress=callback, verify=verify.value)
                else:
                    announce = (
                        (lambda run_id: print(json.dumps({"event": "start", "run": run_id}), flush=True))
                        if json_progress
                        else (lambda run_id: console.print(f"run [bold]{run_id}[/] started"))
                    )
                    outcome = start_training(
                        context, spec, progress=callback, on_start=announce, verify=verify.value, force=force
                    )
            finally:
                finish()
        run = outcome.run
        if json_progress:
            print(
                json.dumps({"event": "finish", "run": run.id, "status": run.status, **run.summary}),
                flush=True,
            )
        else:
            console.print(
                f"run [bold]{run.id}[/] {run.status}: final loss {run.summary['final_loss']}, "
                f"{run.summary['steps']} steps, {run.summary['seconds']} s — {escape(run.path)}"
            )

    app.add_typer(runs_app, name="runs")


def _has_workspace() -> bool:
    from stockade.core.workspace import Workspace, default_location

    return Workspace.is_workspace((state.workspace or default_location()).expanduser().resolve())


def _comment_lines(facts: dict) -> str:
    """What --dry-run resolved, as YAML comments (the output stays a loadable config)."""
    lines = ["# resolved as a real run would, without loading weights:"]
    for key, value in facts.items():
        if value in (None, []):
            continue
        lines.append(f"#   {key}: {', '.join(value) if isinstance(value, list) else value}")
    return "\n".join(lines) + "\n"


@runs_app.command("list")
def list_(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """List training runs."""
    from stockade.training.runs import list_runs
    from stockade.workspace.service import open_workspace

    with open_workspace(state.workspace) as context:
        require(context, "runs.read")
        runs = list_runs(context.engine)
    if as_json:
        print_json([run.as_dict() for run in runs])
        return
    table = new_table("run", "status", "datasets", "final loss", "steps", "by", "started (UTC)")
    for run in runs:
        table.add_row(
            run.id,
            status_text(run.status),
            ", ".join(d["ref"] for d in run.datasets),
            str(run.summary.get("final_loss", "")),
            str(run.summary.get("steps", "")),
            escape(run.created_by),
            run.created_at[:19].replace("T", " "),
        )
    console.print(table)


@runs_app.command()
def show(run_id: Annotated[str, typer.Argument(help="The run id printed when training started.")]) -> None:
    """Show one run: lineage, spec, environment, outcome (JSON)."""
    from stockade.training.runs import show_run
    from stockade.workspace.service import open_workspace

    with open_workspace(state.workspace) as context:
        require(context, "runs.read")
        print_json(show_run(context.engine, run_id).as_dict())


@runs_app.command()
def rm(
    run_id: Annotated[str, typer.Argument(help="The run to remove.")],
    reason: Annotated[str | None, typer.Option(help="Why; kept in the audit log.")] = None,
) -> None:
    """Delete a run's weights and checkpoints; its spec, lineage, metrics and audit records stay."""
    from stockade.training.runs import remove_run
    from stockade.workspace.service import open_workspace

    with open_workspace(state.workspace) as context:
        require(context, "runs.remove")
        view = remove_run(context, run_id, context.workspace.root, reason=reason)
    console.print(
        f"removed the weights of {view.id}; kept its spec, lineage and metrics (lineage needs them)"
    )
