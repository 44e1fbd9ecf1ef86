"""`stockade logs tail`: the server's access log, or a training run's step log."""

from __future__ import annotations

from typing import Annotated

import typer

from stockade.cli.state import state

app = typer.Typer(no_args_is_help=True, help="Read the workspace's logs.")


@app.command()
def tail(
    server: Annotated[
        bool, typer.Option("--server", help="The server's access log (logs/server-access.log).")
    ] = False,
    job: Annotated[
        str | None,
        typer.Option(
            "--job", help="A training run's step log (runs/RUN_ID/metrics.jsonl: one line per step)."
        ),
    ] = None,
    lines: Annotated[int, typer.Option("-n", "--lines", min=0, help="How many last lines to print.")] = 20,
    follow: Annotated[
        bool, typer.Option("-f", "--follow", help="Keep printing lines as they are written (Ctrl-C exits).")
    ] = False,
) -> None:
    """Print the last lines of the server's access log (--server) or of a run's log (--job RUN_ID)."""
    from stockade.governance.roles import require
    from stockade.operations import monitor as service
    from stockade.workspace.service import open_workspace

    with open_workspace(state.workspace) as context:
        # the access log names credentials: audit readers; a run's log: who may read runs
        require(context, "audit.read" if server else "runs.read")
        path = service.log_file(context.workspace.root, context.engine, server=server, run_id=job)
    for line in service.last_lines(path, lines):
        print(line, flush=True)
    if follow:
        try:
            for line in service.follow(path):
                print(line, flush=True)
        except KeyboardInterrupt:
            return
