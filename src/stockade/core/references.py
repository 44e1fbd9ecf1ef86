"""Model references: a local folder, a registered ``NAME@vN``, or (refused) a hub id."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from stockade.core.errors import ConfigError, ModelReferenceError

VERSIONED = re.compile(r"^(?P<name>[A-Za-z0-9][\w.-]*)(?:@v(?P<version>\d+))?$")
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*$")


def parse_versioned_name(text: str, *, what: str = "name") -> tuple[str, int | None]:
    """``NAME`` or ``NAME@vN`` into (name, version or None for the latest)."""
    match = VERSIONED.match(text.strip())
    if not match:
        raise ConfigError(
            f"{text!r} is not a valid {what}",
            fix="write NAME or NAME@vN (letters, digits, '.', '_' and '-'; e.g. finance@v2)",
        )
    version = match.group("version")
    return match.group("name"), int(version) if version else None


def refuse_hub_id(text: str, *, where: str) -> None:
    """Raise the one explanation of a model hub id or URL given where a local folder was expected.

    Call it only for a ``text`` that is not a folder here: ``org/name`` or a URL then means a download.
    """
    text = text.strip()
    if not (HUB_ID.match(text) or text.startswith(("http://", "https://", "hf://"))):
        return
    local = text.rstrip("/").rsplit("/", 1)[-1]
    raise ModelReferenceError(
        f"{text!r} is not a folder on this machine; as a model hub id or URL it would need a "
        "download, and Stockade never downloads",
        where=where,
        fix=(
            "copy the model folder onto this machine (config.json, *.safetensors, tokenizer files), "
            f"then register it: `stockade model import /path/to/{local} --name {local.lower()}` "
            f"and use `model: {local.lower()}` (a local folder path also works in dev mode)"
        ),
    )


@dataclass(frozen=True)
class ModelReference:
    kind: Literal["path", "registered"]
    text: str
    path: Path | None = None
    name: str | None = None
    version: int | None = None


def parse_model_reference(text: str, *, base_dir: Path | None = None, where: str = "model") -> ModelReference:
    """Classify a reference without any network access.

    An existing folder is a path. ``NAME`` / ``NAME@vN`` is a registered version (resolved by
    the model store). ``org/name`` that is not a local folder is a hub id, refused with the
    way to bring the weights in.
    """
    text = text.strip()
    candidate = Path(text).expanduser()
    if not candidate.is_absolute() and base_dir is not None and (base_dir / candidate).exists():
        candidate = base_dir / candidate
    if candidate.is_dir():
        return ModelReference(kind="path", text=text, path=candidate.resolve())
    refuse_hub_id(text, where=where)
    match = VERSIONED.match(text)
    if match and "/" not in text:
        version = match.group("version")
        return ModelReference(
            kind="registered", text=text, name=match.group("name"), version=int(version) if version else None
        )
    raise ModelReferenceError(
        f"model folder {text!r} not found",
        where=where,
        fix="give an existing local folder, or a registered model as NAME or NAME@vN",
    )
