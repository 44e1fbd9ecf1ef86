"""`stockade serve`: the TGI/OpenAI-compatible API over an approved version (a folder in dev mode)."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import typer

from stockade.cli.output import console, escape
from stockade.cli.spec_options import spec_command, spec_from_args
from stockade.cli.specs import SPEC_CONTEXT, DryRun, check_spec
from stockade.cli.state import state
from stockade.core.paths import user_path

Dev = Annotated[bool, typer.Option("--dev", help="Serve an unapproved version or a folder (announced).")]


class PiiFilter(str, Enum):
    mask = "mask"
    block = "block"
    off = "off"


PiiFilterOption = Annotated[
    PiiFilter | None,
    typer.Option(
        "--pii-filter",
        help="Personal data the privacy detectors find in a response: mask (typed placeholders such as "
        "<身份证号>; streams hold back a short tail), block (the response ends in an error, the value is "
        "never sent) or off. Default: serve_pii_filter in stockade.yaml (mask).",
        show_default=False,
    ),
]
PiiFilterPrompts = Annotated[
    PiiFilter,
    typer.Option(
        "--pii-filter-prompts",
        help="The same for incoming prompts, before generation: mask, block (HTTP 451) or off.",
    ),
]


class LogFormat(str, Enum):
    json = "json"
    text = "text"


LogFormatOption = Annotated[
    LogFormat,
    typer.Option(
        "--log-format",
        help="Format of the access log (one line per request: time, request id, credential, route, status, "
        "latency, tokens; never prompts or outputs) in the workspace's logs/server-access.log.",
    ),
]


def register(app: typer.Typer) -> None:
    @app.command(context_settings=SPEC_CONTEXT, cls=spec_command("ServeSpec"))
    def serve(
        ctx: typer.Context,
        dry_run: DryRun = False,
        dev: Dev = False,
        pii_filter: PiiFilterOption = None,
        pii_filter_prompts: PiiFilterPrompts = PiiFilter.off,
        log_format: LogFormatOption = LogFormat.json,
    ) -> None:
        """Serve a model over HTTP: stockade serve [CONFIG.yaml] --model NAME@vN [--port 5000 ...].

        Also takes the deployment guide's flags (--model_name_or_path, --template, --infer_backend hf|vllm,
        --port, --load_in_4bit (nf4), --load_in_8bit, --max_batch_size). --adapters risk@v2,kyc@v1 serves
        approved adapter versions of this base unmerged: requests choose one by model (OpenAI) or
        parameters.adapter_id (TGI). Binds 127.0.0.1 unless --host says otherwise. Every
        route but /health needs Authorization: Bearer TOKEN. SIGTERM drains in-flight requests, then exits.
        Personal data in responses is masked unless --pii-filter (or serve_pii_filter) says otherwise.
        """
        from stockade.core.specs import ServeSpec

        spec, _ = spec_from_args(ServeSpec, list(ctx.args) + (["--dev", "true"] if dev else []))
        if spec.adapter and user_path(spec.adapter).is_dir():  # a folder (else a run id): the one path rule
            spec = spec.model_copy(update={"adapter": str(user_path(spec.adapter))})
        if check_spec(spec, "serve", dry_run):
            return
        from stockade.api.launch import serve as run_server
        from stockade.governance.roles import require
        from stockade.workspace.service import open_workspace

        with open_workspace(state.workspace) as context:
            require(context, "serve.run")
            run_server(
                context,
                spec,
                announce=lambda line: console.print(escape(line)),
                pii_filter=pii_filter.value if pii_filter else None,
                pii_filter_prompts=pii_filter_prompts.value,
                log_format=log_format.value,
            )
