"""`stockade export RUN --merge | --adapter-only`: a training run's adapter becomes a model version."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from stockade.cli.output import console, errors, escape
from stockade.cli.spec_options import spec_command, spec_from_args, spec_yaml
from stockade.cli.specs import SPEC_CONTEXT, DryRun, Verify, VerifyMode
from stockade.cli.state import state


def register(app: typer.Typer) -> None:
    @app.command(context_settings=SPEC_CONTEXT, cls=spec_command("ExportSpec"))
    def export(
        ctx: typer.Context,
        run_id: Annotated[
            str, typer.Argument(metavar="RUN", help="The training run (see `stockade runs list`).")
        ],
        merge: Annotated[
            bool, typer.Option("--merge", help="Merge the adapter into its base (kind merged).")
        ] = False,
        adapter_only: Annotated[
            bool, typer.Option("--adapter-only", help="Register the adapter alone (kind adapter).")
        ] = False,
        name: Annotated[
            str | None, typer.Option(help="Name of the new version (default: BASE-merged / BASE-adapter).")
        ] = None,
        dry_run: DryRun = False,
        verify: Verify = VerifyMode.fast,
    ) -> None:
        """Export a run: stockade export RUN --merge [CONFIG.yaml] [--export_size GB --key value ...].

        Merging runs on CPU, writes sharded safetensors, and registers the version only if the merged
        model reproduces base + adapter logits on a probe batch within the tolerance."""
        from stockade.core.specs import ExportSpec
        from stockade.governance.roles import require
        from stockade.models.store.export import export_run
        from stockade.workspace.service import open_workspace

        if merge == adapter_only:
            raise typer.BadParameter("choose exactly one of --merge and --adapter-only")
        spec, _ = spec_from_args(ExportSpec, list(ctx.args))
        if spec.model or spec.adapter:  # a LLaMA-Factory merge YAML names them; the run's lineage decides
            errors.print(
                "note: model_name_or_path / adapter_name_or_path are ignored: "
                f"{run_id}'s lineage names its base version and adapter"
            )
        if dry_run:
            console.print(escape(spec_yaml(spec)), end="")
            return
        with open_workspace(state.workspace) as context:
            require(context, "model.export")
            with console.status("merging and checking..." if merge else "exporting..."):
                outcome = export_run(
                    context,
                    run_id,
                    merge=merge,
                    name=name,
                    shard_gb=spec.export_size,
                    tolerance=spec.export_tolerance,
                    device=spec.export_device,
                    template=spec.template,
                    export_dir=Path(spec.export_dir) if spec.export_dir else None,
                    verify=verify.value,
                )
        view, check = outcome.view, outcome.check
        console.print(f"[green]registered[/] {view.ref} ({view.kind}) from {run_id}: {escape(view.path)}")
        if check:
            console.print(
                f"  logits check: max abs diff {check['max_abs_diff']:.3g} "
                f"≤ tolerance {check['tolerance']:g} "
                f"({check['dtype']}, probe {check['probe_shape'][0]}×{check['probe_shape'][1]} tokens), "
                f"{check['shards']} shard(s)"
            )
