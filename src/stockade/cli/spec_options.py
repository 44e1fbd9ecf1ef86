"""CLI flags generated from a spec: ``[CONFIG.yaml] [--key value ...]`` with help from the fields."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from typer.core import TyperCommand

from stockade.cli.state import state
from stockade.core.paths import existing_path
from stockade.core.specs import Spec, load_spec, parse_overrides
from stockade.core.specs.base import Spec as SpecBase
from stockade.core.workspace import default_location


def spec_epilog(spec: type[SpecBase]) -> str:
    """The help text listing every key of ``spec`` (also valid as YAML keys)."""
    lines = [f"Keys of {spec.__name__} (in CONFIG.yaml, or as --key value to override it):", ""]
    for name, alias_of in sorted(spec.accepted_keys().items()):
        if alias_of != name:
            continue
        info = spec.model_fields[name]
        aliases = [a for a, f in spec.accepted_keys().items() if f == name and a != name]
        default = info.get_default(call_default_factory=True)
        also = f" (also --{', --'.join(aliases)})" if aliases else ""
        lines.append(f"--{name}{also} (default {default!r}): {info.description or ''}")
    return "\n\n".join(lines)


def spec_command(spec_name: str) -> type[TyperCommand]:
    """A command class whose help epilog is ``spec_epilog`` of ``stockade.core.specs.<spec_name>``,
    built when the help is shown: the spec's pydantic model is imported only by a command that uses it
    (``@app.command(cls=spec_command("TrainSpec"))`` in place of ``epilog=spec_epilog(TrainSpec)``)."""

    class SpecCommand(TyperCommand):
        @property  # type: ignore[override]
        def epilog(self) -> str:
            from stockade.core import specs

            return spec_epilog(getattr(specs, spec_name))

        @epilog.setter
        def epilog(self, value: Any) -> None:
            if value is not None:
                raise ValueError(f"the epilog of a {spec_name} command is its keys' list; it takes no other")

    SpecCommand.__name__ = SpecCommand.__qualname__ = f"{spec_name}Command"
    return SpecCommand


def spec_from_args(spec: type[Spec], args: list[str]) -> tuple[Spec, Path | None]:
    """An optional leading CONFIG.yaml (relative: from the current folder, core/paths.py), then
    ``--key value`` overrides."""
    config = None
    if args and not args[0].startswith("--"):
        config = existing_path(args[0], what="config file", workspace_root=_workspace_guess())
        args = args[1:]
    return load_spec(spec, config, overrides=parse_overrides(args)), config


def _workspace_guess() -> Path:
    """The workspace this command would open (for a hint only: it may not exist)."""
    return (state.workspace or default_location()).expanduser().absolute()


def spec_yaml(spec: Spec) -> str:
    return yaml.safe_dump(spec.model_dump(mode="json"), allow_unicode=True, sort_keys=False)
