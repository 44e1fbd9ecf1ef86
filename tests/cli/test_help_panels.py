"""`stockade --help` groups the commands in the deployment guide's order (issue 15)."""

from __future__ import annotations

import typer.main

from stockade.cli.app import GUIDE_PANELS, PANEL_OF, app
from tests.conftest import run_cli

# The guide's order, written here independently of the code: environment and offline install, the
# dataset, fine-tuning, evaluation and export, the approval flow, serving with access control, operations.
GUIDE_ORDER = ("Install", "Data", "Train", "Evaluate", "approval", "Serve", "Operate")


def _root_commands() -> dict:
    return typer.main.get_command(app).commands  # type: ignore[attr-defined]


def test_every_registered_command_has_a_panel() -> None:
    commands = _root_commands()
    assert len(commands) > 20
    without = [name for name, command in commands.items() if not getattr(command, "rich_help_panel", None)]
    assert without == [], f"add these to GUIDE_PANELS in src/stockade/cli/app.py: {without}"
    assert {str(command.rich_help_panel) for command in commands.values()} <= set(GUIDE_PANELS)


def test_commands_in_progress_elsewhere_already_have_their_panel() -> None:
    for name in ("bundle", "upgrade", "estimate", "monitor", "logs", "jobs", "webui"):
        assert name in PANEL_OF, name


def test_help_lists_the_panels_in_the_guides_order() -> None:
    result = run_cli("--help")
    assert result.returncode == 0, result.stderr
    titles = [line for line in result.stdout.splitlines() if line.startswith("╭─ ")]
    panels = [title.removeprefix("╭─ ").split(" ─")[0] for title in titles]
    assert panels[0] == "Options" and "Commands" not in panels  # no command left in typer's default panel
    assert [next(i for i, word in enumerate(GUIDE_ORDER) if word in panel) for panel in panels[1:]] == list(
        range(len(GUIDE_ORDER))
    ), panels
    # each command is listed under its own panel
    text = result.stdout
    starts = [text.index(f"╭─ {panel} ") for panel in panels[1:]] + [len(text)]
    for index, panel in enumerate(panels[1:]):
        section = text[starts[index] : starts[index + 1]]
        for name in GUIDE_PANELS[panel]:
            if name in _root_commands():
                assert f"│ {name} " in section, (name, panel)
