"""Start-up of a command (issue 13 item 6): the root builds only the sub-command it runs, a spec's pydantic
model is imported only by the commands that use it, and neither changes what a command does or shows."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
import typer.main
from typer.testing import CliRunner

from stockade.cli.app import DEFERRED, app
from stockade.cli.lazy_commands import LazyCommands
from stockade.cli.spec_options import spec_command
from stockade.core.specs import ExportSpec, ServeSpec, TrainSpec

RECORD = {"instruction": "Say hello to the world", "input": "", "output": "Hello world, plain text."}


def _shape(command: Any) -> dict[str, Any]:
    """What typer made of a command: its help, options and sub-commands, recursively."""
    return {
        "class": type(command).__name__,
        "help": command.help,
        "short_help": command.short_help,
        "epilog": command.epilog,
        "hidden": command.hidden,
        "no_args_is_help": command.no_args_is_help,
        "context_settings": command.context_settings,
        "panel": getattr(command, "rich_help_panel", None),
        "params": [
            (
                p.name,
                tuple(p.opts),
                tuple(p.secondary_opts),
                repr(p.default),
                p.required,
                getattr(p, "help", None),
            )
            for p in command.params
        ],
        "commands": {name: _shape(sub) for name, sub in getattr(command, "commands", {}).items()},
    }


def test_each_command_built_on_demand_is_the_one_typer_builds_in_the_whole_tree() -> None:
    eager = typer.Typer()  # every deferred registration, built the usual way, all at once
    eager.registered_commands.extend(DEFERRED.commands.values())
    eager.registered_groups.extend(DEFERRED.groups.values())
    everything = typer.main.get_command(eager).commands  # type: ignore[attr-defined]
    root = typer.main.get_command(app)
    lazy = root.commands  # type: ignore[attr-defined]
    assert isinstance(lazy, LazyCommands) and lazy.built_names == frozenset()
    assert list(lazy) == list(everything) and len(lazy) > 20
    for name, command in everything.items():
        built = _shape(lazy[name])
        assert built.pop("panel") is not None, name  # the root gave it its guide panel
        expected = _shape(command)
        expected.pop("panel")
        assert built == expected, name


def test_desensitize_builds_only_the_data_group(workspace_dir: Path, tmp_path: Path) -> None:
    source, output = tmp_path / "one.jsonl", tmp_path / "out.jsonl"
    source.write_text(json.dumps(RECORD) + "\n", encoding="utf-8")
    root = typer.main.get_command(app)
    args = [
        "-w",
        str(workspace_dir),
        "data",
        "desensitize",
        str(source),
        "--output",
        str(output),
        "--workers",
        "1",
    ]
    root.main(args, prog_name="stockade", standalone_mode=False)
    assert output.read_bytes() == source.read_bytes()
    assert root.commands.built_names == {"data"}  # type: ignore[attr-defined]


def test_unknown_commands_still_get_suggestions_and_help_lists_every_command() -> None:
    result = CliRunner().invoke(app, ["dat"])
    assert result.exit_code == 2 and "No such command 'dat'" in result.output and "'data'" in result.output
    shown = CliRunner().invoke(app, ["--help"], terminal_width=200).output
    commands = typer.main.get_command(app).commands  # type: ignore[attr-defined]
    for name in [*DEFERRED.commands, *DEFERRED.groups]:
        if not commands[name].hidden:
            assert f"│ {name} " in shown, name


@pytest.mark.parametrize(
    ("command", "spec"), [("train", TrainSpec), ("serve", ServeSpec), ("export", ExportSpec)]
)
def test_spec_commands_list_their_specs_keys_in_help(command: str, spec: type) -> None:
    """The keys' list is built when help is shown (the spec's model is not imported before)."""
    shown = CliRunner().invoke(app, [command, "--help"], terminal_width=400).output
    assert f"Keys of {spec.__name__}" in shown
    missing = [name for name in spec.model_fields if f"--{name}" not in shown]
    assert missing == [], (command, missing)


def test_a_spec_command_refuses_another_epilog() -> None:
    with pytest.raises(ValueError, match="TrainSpec"):
        spec_command("TrainSpec")(name="train", epilog="something else")


@pytest.mark.slow
def test_desensitize_does_not_import_modules_it_does_not_use(tmp_path: Path) -> None:
    """`click` (typer runs on its own copy), the train/serve spec models (only spec commands use them) and
    the login lockout (only `login` uses it) stay out of `data desensitize`'s process."""
    from stockade.workspace.service import initialize_workspace

    workspace = tmp_path / "ws"
    initialize_workspace(workspace)
    source, output, modules = tmp_path / "one.jsonl", tmp_path / "out.jsonl", tmp_path / "modules.json"
    source.write_text(json.dumps(RECORD) + "\n", encoding="utf-8")
    argv = ["stockade", "-w", str(workspace), "data", "desensitize", str(source), "--output", str(output)]
    code = (
        "import atexit, json, sys\n"
        f"atexit.register(lambda: open({str(modules)!r}, 'w').write(json.dumps(sorted(sys.modules))))\n"
        f"sys.argv = {argv!r} + ['--workers', '1']\n"
        "from stockade.cli.app import main\n"
        "main()\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert output.read_bytes() == source.read_bytes()
    loaded = set(json.loads(modules.read_text()))
    assert "stockade.privacy.service" in loaded  # the probe saw the command's imports
    unused = {"click", "stockade.core.specs.train", "stockade.core.specs.serve", "stockade.security.lockout"}
    assert not unused & loaded
