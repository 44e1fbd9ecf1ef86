"""The `stockade` command. Thin: parses arguments, calls services, prints results.

Heavy libraries (torch, transformers) are imported inside commands, so `stockade --help`
is instant and works without the `train` extra.
"""

from __future__ import annotations

import sys
import traceback
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

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
    webui,
    workspace,
)
from stockade.cli import bundle as bundle_group
from stockade.cli import estimate as estimate_command
from stockade.cli import eval as eval_command
from stockade.cli import export as export_command
from stockade.cli import jobs as jobs_group
from stockade.cli import logs as logs_group
from stockade.cli import model as model_group
from stockade.cli import monitor as monitor_command
from stockade.cli import security as security_group
from stockade.cli import task as task_group
from stockade.cli import upgrade as upgrade_command
from stockade.cli.lazy_commands import LazyCommands, defer_commands
from stockade.cli.output import (
    errors,
    print_error,
    show_acting_user,
    stop_showing_acting_user,
    tolerate_unencodable_output,
)
from stockade.cli.state import state
from stockade.core import environment, offline
from stockade.core.errors import StockadeError

if TYPE_CHECKING:  # typer parses with its own copy of click: the click package is not loaded at run time
    import click

# `stockade --help` groups the commands in the deployment guide's order (docs/deployment-guide.md).
# Names registered later by other modules belong here too; tests/cli/test_help_panels.py checks that
# every registered command has a panel and that the panels keep this order.
GUIDE_PANELS: dict[str, tuple[str, ...]] = {
    "1. Install and environment": ("init", "doctor", "version", "bundle", "upgrade", "model"),
    "2. Data": ("data", "task"),
    "3. Train": ("train", "runs", "webui", "estimate"),
    "4. Evaluate and export": ("eval", "export"),
    "5. Users and approval": ("user", "login", "logout", "whoami", "registry"),
    "6. Serve and access control": ("serve", "chat", "token", "pki", "security"),
    "7. Operate and audit": ("monitor", "logs", "jobs", "audit", "backup", "dev"),
}
PANEL_OF = {name: panel for panel, names in GUIDE_PANELS.items() for name in names}
PANEL_RANK = {panel: rank for rank, panel in enumerate(GUIDE_PANELS)}
GUIDE_POSITION = {name: position for position, name in enumerate(PANEL_OF)}


class GuideOrderedGroup(TyperGroup):
    """The root command: each sub-command gets its panel from GUIDE_PANELS when the command tree is
    built (after every module registered its commands, whatever the line order), and help lists the
    panels in the guide's order. Sub-commands are built when first used (cli/lazy_commands.py)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, command in self.commands.items():
            self.give_panel(name, command)
        self.commands = LazyCommands(self.commands, DEFERRED, self.give_panel)

    @staticmethod
    def give_panel(name: str, command: Any) -> None:
        if not getattr(command, "rich_help_panel", None) and name in PANEL_OF:  # unset: a falsy default
            command.rich_help_panel = PANEL_OF[name]

    def list_commands(self, ctx: click.Context) -> list[str]:
        names = super().list_commands(ctx)

        def rank(name: str) -> int:
            panel = getattr(self.commands.get(name), "rich_help_panel", None)
            return PANEL_RANK.get(str(panel), len(PANEL_RANK)) if panel else -1

        return sorted(names, key=lambda name: (rank(name), GUIDE_POSITION.get(name, 0), names.index(name)))


# peft (PeftModel, get_peft_model) reads transformers' deprecated `is_gradient_checkpointing` alias when
# it wraps a model, and transformers warns on every read: the user can do nothing about it, and it is
# not about their model. Only that message is silenced; every other warning still shows.
warnings.filterwarnings("ignore", message="`is_gradient_checkpointing` is deprecated", category=FutureWarning)

app = typer.Typer(
    name="stockade",
    cls=GuideOrderedGroup,
    help="Stockade: fine-tune and serve LLMs inside a closed network. Offline, audited, approved.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def root(
    ctx: typer.Context,
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
    if not ctx.resilient_parsing and not {"-h", "--help"} & set(sys.argv[1:]):  # help stays instant
        show_acting_user()
        ctx.call_on_close(stop_showing_acting_user)


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
estimate_command.register(app)
monitor_command.register(app)
app.add_typer(logs_group.app, name="logs")
app.add_typer(jobs_group.app, name="jobs")
login.register(app)
app.add_typer(user.app, name="user")
app.add_typer(registry.app, name="registry")
app.add_typer(token.app, name="token")
app.add_typer(pki.app, name="pki")
app.add_typer(security_group.app, name="security")
app.add_typer(backup.app, name="backup")
app.add_typer(bundle_group.app, name="bundle")
app.add_typer(task_group.app, name="task")
upgrade_command.register(app)
webui.register(app)
placeholders.register(app)
DEFERRED = defer_commands(app)  # built when used: `data desensitize` does not build `train`'s options


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
