"""`stockade serve`: the TGI/OpenAI-compatible API over an approved version (a folder in dev mode)."""

from __future__ import annotations

from typing import Annotated

import typer

from stockade.cli.output import console, escape
from stockade.cli.spec_options import spec_epilog, spec_from_args
from stockade.cli.specs import SPEC_CONTEXT, DryRun, check_spec
from stockade.cli.state import state
from stockade.core.specs import ServeSpec

Dev = Annotated[bool, typer.Option("--dev", help="Serve an unapproved version or a folder (announced).")]


def register(app: typer.Typer) -> None:
    @app.command(context_settings=SPEC_CONTEXT, epilog=spec_epilog(ServeSpec))
    def serve(ctx: typer.Context, dry_run: DryRun = False, dev: Dev = False) -> None:
        """Serve a model over HTTP: stockade serve [CONFIG.yaml] --model NAME@vN [--port 5000 ...].

        Also takes the deployment guide's flags (--model_name_or_path, --template, --infer_backend hf|vllm,
        --port, --load_in_4bit, --max_batch_size). Binds 127.0.0.1 unless --host says otherwise. Every
        route but /health needs Authorization: Bearer TOKEN. SIGTERM drains in-flight requests, then exits.
        """
        spec, _ = spec_from_args(ServeSpec, list(ctx.args) + (["--dev", "true"] if dev else []))
        if check_spec(spec, "serve", dry_run):
            return
        from stockade.api.launch import serve as run_server
        from stockade.governance.roles import require
        from stockade.workspace.service import open_workspace

        with open_workspace(state.workspace) as context:
            require(context, "serve.run")
            run_server(context, spec, announce=lambda line: console.print(escape(line)))
