"""Load a spec from YAML (``yaml.safe_load``) plus ``--key value`` overrides.

Every problem is collected and raised once: unknown keys (each with a did-you-mean),
a key given twice under two names, and type errors, all naming the file and the key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import TypeAdapter, ValidationError

from stockade.core.errors import ConfigError
from stockade.core.specs.base import Spec
from stockade.core.suggestions import did_you_mean

S = TypeVar("S", bound=Spec)


def read_yaml_mapping(path: Path) -> dict[str, Any]:
    """Read a YAML file that must hold a mapping; syntax errors name the line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("file not found", where=str(path), fix="check the path") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"not UTF-8 text (byte {exc.start})", where=str(path), fix="save the file as UTF-8"
        ) from None
    try:
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise ConfigError(f"invalid YAML: {exc.problem}", where=where, fix="fix the YAML syntax") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"expected a mapping of keys to values, found a {type(data).__name__}",
            where=str(path),
            fix="write one `key: value` per line",
        )
    return data


def _check_keys(spec: type[Spec], data: dict[str, Any], prefix: str, problems: list[str]) -> dict:
    """Collect unknown and duplicated keys; return the data keyed by field name."""
    accepted = spec.accepted_keys()
    nested = spec.nested_specs()
    refused = _refused_keys(spec)
    prefixed = {f"{prefix}{a}": f for a, f in accepted.items()}
    for key in data:
        if str(key) in refused and str(key) not in accepted:
            problems.append(f"{prefix}{refused[str(key)]}")
        elif str(key) not in accepted:
            problems.append("unknown key " + did_you_mean(f"{prefix}{key}", prefixed))
    normalized: dict[str, Any] = {}
    given_as: dict[str, str] = {}
    for key, value in data.items():
        field = accepted.get(str(key))
        if field is None:
            continue
        if field in normalized:
            problems.append(f"{prefix}{field} is given twice (as {given_as[field]!r} and {key!r}); keep one")
            continue
        if field in nested and isinstance(value, dict):
            value = _check_keys(nested[field], value, f"{prefix}{field}.", problems)
        normalized[field] = value
        given_as[field] = str(key)
    return normalized


def _refused_keys(spec: type[Spec]) -> dict[str, str]:
    """Keys a spec refuses by name (e.g. LLaMA-Factory keys Stockade does not take), with the message."""
    refused = getattr(spec, "refused_keys", None)
    return refused() if callable(refused) else {}


def parse_overrides(args: list[str]) -> dict[str, Any]:
    """``--key value``, ``--key=value`` and bare ``--flag`` (true) into a mapping.

    Values stay strings (a bare flag is ``True``); `load_spec` reads them with the field's type.
    Dashes in keys become underscores, so ``--learning-rate`` equals ``--learning_rate``.
    """
    result: dict[str, Any] = {}
    index = 0
    while index < len(args):
        arg = args[index]
        if not arg.startswith("--") or arg == "--":
            raise ConfigError(
                f"unexpected argument {arg!r}",
                where="command line",
                fix="overrides are written `--key value` (e.g. --learning_rate 2e-4)",
            )
        key, has_value, value = arg[2:].partition("=")
        if not has_value:
            following = args[index + 1] if index + 1 < len(args) else None
            if following is None or following.startswith("--"):
                value = True
            else:
                value = following
                index += 1
        result[key.replace("-", "_")] = value
        index += 1
    return result


def _dotted(data: dict[str, Any]) -> dict[str, Any]:
    """Turn ``{"audit.retention_days": v}`` into nested mappings."""
    nested: dict[str, Any] = {}
    for key, value in data.items():
        target = nested
        *parents, leaf = key.split(".")
        for parent in parents:
            target = target.setdefault(parent, {})
        target[leaf] = value
    return nested


def _typed_overrides(spec: type[Spec], overrides: dict[str, Any]) -> dict[str, Any]:
    """Read each ``--key value`` string with its field's type, as a YAML file would give it.

    A command line has only strings; most fields convert them (pydantic's lax mode), but not every
    type does (``Literal[4, 8]`` refuses ``"4"``). A string the field refuses is read as a YAML scalar
    (``4``, ``true``, ``null``) and used when the field accepts that instead.
    """
    nested = spec.nested_specs()
    typed: dict[str, Any] = {}
    for name, value in overrides.items():
        if isinstance(value, dict) and name in nested:
            typed[name] = _typed_overrides(nested[name], value)
            continue
        typed[name] = value
        info = spec.model_fields.get(name)
        if info is None or not isinstance(value, str):
            continue
        adapter: TypeAdapter[Any] = TypeAdapter(info.annotation)
        try:
            adapter.validate_python(value)
            continue
        except ValidationError:
            pass
        try:
            scalar = yaml.safe_load(value)
            adapter.validate_python(scalar)
        except (yaml.YAMLError, ValidationError):
            continue
        if not isinstance(scalar, str):
            typed[name] = scalar
    return typed


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _format_validation(exc: ValidationError) -> list[str]:
    lines = []
    for error in exc.errors():
        location = ".".join(str(part) for part in error["loc"]) or "(top level)"
        message = error["msg"]
        if "input" in error and error["type"] not in ("missing",):
            message += f" (got {error['input']!r})"
        lines.append(f"{location}: {message}")
    return lines


def load_spec(
    spec: type[S],
    path: Path | None = None,
    *,
    data: dict[str, Any] | None = None,
    overrides: dict[str, Any] | None = None,
) -> S:
    """Build ``spec`` from a YAML file and/or a mapping, with CLI overrides on top."""
    where = str(path) if path else "configuration"
    raw: dict[str, Any] = {}
    if path is not None:
        raw = read_yaml_mapping(path)
    if data:
        raw = _merge(raw, data)
    problems: list[str] = []
    normalized = _check_keys(spec, raw, "", problems)
    if overrides:
        normalized_overrides = _check_keys(spec, _dotted(overrides), "--", problems)
        normalized = _merge(normalized, _typed_overrides(spec, normalized_overrides))
    try:
        result = spec.model_validate(normalized)
    except ValidationError as exc:
        problems.extend(_format_validation(exc))
    if not problems:
        return result
    count = len(problems)
    raise ConfigError(
        f"{count} problem{'s' if count > 1 else ''} in {spec.__name__}:\n  - " + "\n  - ".join(problems),
        where=where,
        fix="correct the keys above (see `stockade <command> --help` or docs/configuration.md)",
    )
