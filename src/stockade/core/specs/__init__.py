"""Config as data: pydantic specs loaded from YAML with unknown keys rejected."""

from stockade.core.specs.base import Spec
from stockade.core.specs.loader import load_spec, parse_overrides, read_yaml_mapping
from stockade.core.specs.serve import ExportSpec, ServeSpec
from stockade.core.specs.train import TrainSpec

__all__ = [
    "ExportSpec",
    "ServeSpec",
    "Spec",
    "TrainSpec",
    "load_spec",
    "parse_overrides",
    "read_yaml_mapping",
]
