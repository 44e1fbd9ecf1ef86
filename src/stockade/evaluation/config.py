"""``eval.yaml``: the options of `stockade eval` kept in a file (``task init`` writes one), so a team
reruns the same evaluation for every candidate version. Options given on the command line win."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from stockade.core.errors import ConfigError
from stockade.core.suggestions import did_you_mean


class EvalConfig(BaseModel):
    """Every key is the `stockade eval` option of the same name (``max_new_tokens`` for
    ``--max-new-tokens``); the model version to evaluate stays on the command line."""

    model_config = ConfigDict(extra="forbid", strict=True)

    dataset: str | None = None
    baseline: str | None = None
    task: str | None = None
    benchmark: str | None = None
    data: str | None = Field(None, description="Benchmark folder; relative: from the file's folder.")
    shots: int | None = Field(None, ge=0)
    split: str | None = None
    limit: int | None = Field(None, ge=1)
    max_new_tokens: int | None = Field(None, ge=1)
    template: str | None = None
    batch_size: int | None = Field(None, ge=1)


def load_eval_config(path: Path) -> EvalConfig:
    """Read and check ``path``; a bad key or value is refused naming the file and the key."""
    fix = "correct the file (its keys are the options of `stockade eval --help`)"
    try:
        raw: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError("no such file", where=str(path), fix="give the path of an eval.yaml") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise ConfigError(
            f"not valid YAML ({getattr(error, 'problem', error)})", where=where, fix=fix
        ) from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError("expected a mapping of option: value", where=str(path), fix=fix)
    unknown = [key for key in raw if key not in EvalConfig.model_fields]
    if unknown:
        named = ", ".join(did_you_mean(str(key), EvalConfig.model_fields) for key in unknown)
        raise ConfigError(f"unknown key {named}", where=str(path), fix=fix)
    try:
        config = EvalConfig.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        key = ".".join(str(part) for part in first["loc"])
        raise ConfigError(f"{key}: {first['msg']}", where=str(path), fix=fix) from None
    if config.data is not None and not Path(config.data).is_absolute():
        config.data = str(path.parent / config.data)
    return config
