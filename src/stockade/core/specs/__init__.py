"""Config as data: pydantic specs loaded from YAML with unknown keys rejected.

The spec classes are imported on first use (PEP 562): every command reads the workspace settings
(``core.specs.base``), but only `train`, `serve`, `export` and their kin need the big pydantic models,
whose construction is a noticeable part of a command's start-up."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from stockade.core.specs.base import Spec
from stockade.core.specs.loader import load_spec, parse_overrides, read_yaml_mapping

if TYPE_CHECKING:
    from stockade.core.specs.serve import ExportSpec, ServeSpec
    from stockade.core.specs.train import TrainSpec

_LAZY = {
    "ExportSpec": "stockade.core.specs.serve",
    "ServeSpec": "stockade.core.specs.serve",
    "TrainSpec": "stockade.core.specs.train",
}

__all__ = [
    "ExportSpec",
    "ServeSpec",
    "Spec",
    "TrainSpec",
    "load_spec",
    "parse_overrides",
    "read_yaml_mapping",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
