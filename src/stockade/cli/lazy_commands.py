"""The root command's sub-commands, each turned into a click command only when it is used.

Typer turns every registered command into a click command (reading its signature and evaluating its
annotations) each time the program starts: ~80 commands, ~50 ms of every command's start-up, though
one runs. ``defer_commands(app)`` takes the root's registrations off ``app`` and ``LazyCommands`` builds
each one, with typer's own machinery and the app's settings, the first time click asks for it by name.
Help, which lists every command, builds them all; its output is unchanged (tests/cli/test_lazy_commands.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import typer
import typer.main
from typer.core import TyperGroup
from typer.models import CommandInfo, TyperInfo

# The app settings that shape how typer builds a sub-command (those that typer.main.get_group passes on).
_BUILD_SETTINGS = ("rich_markup_mode", "pretty_exceptions_short", "suggest_commands")


@dataclass
class DeferredCommands:
    """The root's commands and command groups, by name, in registration order, not yet built."""

    settings: dict[str, Any]
    commands: dict[str, CommandInfo] = field(default_factory=dict)
    groups: dict[str, TyperInfo] = field(default_factory=dict)

    def build(self, name: str) -> Any:
        """The click command ``name``, built exactly as typer builds it inside the whole tree."""
        holder = typer.Typer(**self.settings)
        holder.callback()(_no_options)  # a group, even with one entry: typer then builds it as a member
        if name in self.commands:
            holder.registered_commands.append(self.commands[name])
        else:
            holder.registered_groups.append(self.groups[name])
        group = typer.main.get_command(holder)
        assert isinstance(group, TyperGroup)
        return group.commands[name]


def _no_options() -> None:
    """Holder of one deferred command while typer builds it."""


def _command_name(info: CommandInfo) -> str | None:
    if info.name:
        return info.name
    return typer.main.get_command_name(info.callback.__name__) if info.callback else None


def defer_commands(app: typer.Typer) -> DeferredCommands:
    """Move ``app``'s registered commands and groups (all registered by now) into a ``DeferredCommands``.

    An entry whose name typer would derive differently (no name, or a nameless group whose commands
    join the root) stays on ``app`` and is built the usual way."""
    deferred = DeferredCommands({name: getattr(app, name) for name in _BUILD_SETTINGS if hasattr(app, name)})
    kept_commands = []
    for command_info in app.registered_commands:
        name = _command_name(command_info)
        if name and name not in deferred.commands:
            deferred.commands[name] = command_info
        else:
            kept_commands.append(command_info)
    kept_groups = []
    for group_info in app.registered_groups:
        name = group_info.name if isinstance(group_info.name, str) else None
        if name and name not in deferred.commands and name not in deferred.groups:
            deferred.groups[name] = group_info
        else:
            kept_groups.append(group_info)
    app.registered_commands[:] = kept_commands
    app.registered_groups[:] = kept_groups
    return deferred


class LazyCommands(MutableMapping[str, Any]):
    """A group's ``commands`` mapping whose deferred entries are built on first access.

    Keys come in the order typer would have built them: commands (deferred, then the others), then
    groups (the same). ``on_build`` sees each command as it is built (the root gives it its help panel).
    """

    def __init__(
        self,
        built: Mapping[str, Any],
        deferred: DeferredCommands,
        on_build: Callable[[str, Any], None],
    ) -> None:
        self._deferred = deferred
        self._on_build = on_build
        eager_commands = [name for name, command in built.items() if not isinstance(command, TyperGroup)]
        eager_groups = [name for name in built if name not in eager_commands]
        order = [*deferred.commands, *eager_commands, *deferred.groups, *eager_groups]
        self._order = list(dict.fromkeys(order))
        self._built: dict[str, Any] = dict(built)

    @property
    def built_names(self) -> frozenset[str]:
        """The names whose click commands exist now (for tests: a command builds only what it runs)."""
        return frozenset(self._built)

    def _is_deferred(self, name: str) -> bool:
        return name in self._deferred.commands or name in self._deferred.groups

    def __getitem__(self, name: str) -> Any:
        if name not in self._built:
            if name not in self._order or not self._is_deferred(name):
                raise KeyError(name)
            command = self._deferred.build(name)
            self._on_build(name, command)
            self._built[name] = command
        return self._built[name]

    def __setitem__(self, name: str, command: Any) -> None:
        if name not in self._order:
            self._order.append(name)
        self._built[name] = command

    def __delitem__(self, name: str) -> None:
        if name not in self._order:
            raise KeyError(name)
        self._order.remove(name)
        self._built.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._order))

    def __len__(self) -> int:
        return len(self._order)

    def __contains__(self, name: object) -> bool:
        return name in self._order
