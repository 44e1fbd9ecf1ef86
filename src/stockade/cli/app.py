"""The `stockade` command. Thin: parses arguments, calls services, prints results.

Heavy libraries (torch, transformers) are imported inside commands, so `stockade --help`
is instant and works without the `train` extra.
"""

from __future__ import annotations

import sys
import traceback
from pathlib import Path
from typing import Annotated

import typer

from stockade.cli import (
    audit,
    backup,
    chat,
    data,
    dev,
    login,
    pki,
    placeholders,
    registry,
    serve,
    token,
    train,
    user,
    workspace,
)
from stockade.cli import eval as eval_command
from stockade.cli import export as export_command
from stockade.cli import model as model_group
from stockade.cli import security as security_group
from stockade.cli.output import errors, print_error, tolerate_unencodable_output
from stockade.cli.state import state
from stockade.core import environment, offline
from stockade.core.errors import StockadeError

app = typer.Typer(
    name="stockade",
    help="Stockade: fine-tune and serve LLMs inside a closed network. Offline, audited, approved.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def root(
    workspace_dir: Annotated[
        Path | None,
        typer.Option(
            "--workspace", "-w", help="Workspace folder (default: $STOCKADE_HOME or ./stockade-workspace)."
        ),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks of errors.")] = False,
) -> None:
    state.workspace = workspace_dir
    state.debug = debug or environment.read_variable("STOCKADE_DEBUG") == "1"


workspace.register(app)
train.register(app)
serve.register(app)
chat.register(app)
app.add_typer(data.app, name="data")
app.add_typer(audit.app, name="audit")
app.add_typer(dev.app, name="dev")
app.add_typer(model_group.app, name="model")
export_command.register(app)
eval_command.register(app)
login.register(app)
app.add_typer(user.app, name="user")
app.add_typer(registry.app, name="registry")
app.add_typer(token.app, name="token")
app.add_typer(pki.app, name="pki")
app.add_typer(security_group.app, name="security")
app.add_typer(backup.app, name="backup")
placeholders.register(app)


def main() -> None:
    """Entry point: the offline guard first, then the command; errors as one clear message."""
    offline.activate()
    tolerate_unencodable_output()
    try:
        app()
    except StockadeError as exc:
        if state.debug:
            traceback.print_exc()
        print_error(str(exc))
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        errors.print("interrupted")
        sys.exit(130)
    except Exception as exc:  # a bug: say so, and how to see more
        if state.debug:
            traceback.print_exc()
        print_error(f"unexpected {exc.__class__.__name__}: {exc}\n  (run with --debug for the traceback)")
        sys.exit(1)
