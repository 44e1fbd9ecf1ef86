"""Components chosen by registered name, never by a dotted import path from a config file."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from stockade.core.errors import ConfigError
from stockade.core.suggestions import closest

T = TypeVar("T")


class Registry(Generic[T]):
    """A named table of components (builders, detectors, operators, engines...)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def decorator(item: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._items[name] = item
            return item

        return decorator

    def add(self, name: str, item: T) -> None:
        self.register(name)(item)

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            close = closest(name, self._items)
            hint = f"did you mean {close!r}? " if close else ""
            raise ConfigError(
                f"unknown {self.kind} {name!r}",
                fix=f"{hint}choose one of: {', '.join(sorted(self._items))}",
            ) from None

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
