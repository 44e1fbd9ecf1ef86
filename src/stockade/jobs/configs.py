"""Training configs kept in the workspace's ``configs/`` folder (the deployment guide's
``configs/finance_cfg.yaml``), saved and loaded by the console's Train page. A name is a plain file name
(``finance_cfg.yaml``): no folder, no ``..``, nothing outside ``configs/``. A saved config is the spec the
Train page would start, validated as `stockade train` validates it; saving it needs ``train.run`` and is
audited as the CLI's ``--save-config`` (``config.save``). `stockade train configs/NAME.yaml`, run from the
workspace, trains the same spec."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from stockade.core.errors import ConfigError
from stockade.governance.roles import require

if TYPE_CHECKING:
    from stockade.workspace.service import WorkspaceContext

CONFIGS_FOLDER = "configs"  # one of the workspace's folders (core.workspace.FOLDERS)
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,99}\.ya?ml")


def config_path(context: WorkspaceContext, name: str) -> Path:
    """``configs/<name>`` in the workspace; a name that is not a plain ``.yaml``/``.yml`` file name is
    refused (so no path leaves the folder)."""
    if not _NAME.fullmatch(name or "") or ".." in name:
        raise ConfigError(
            f"{name!r} is not a config file name",
            where="config name",
            fix="use a plain file name ending in .yaml (letters, digits, '.', '_', '-'), "
            "such as finance_cfg.yaml; configs are kept in the workspace's configs/ folder",
        )
    return context.workspace.root / CONFIGS_FOLDER / name


def list_configs(context: WorkspaceContext) -> list[str]:
    """The names of the configs in ``configs/`` (needs ``train.run``)."""
    require(context, "train.run")
    folder = context.workspace.root / CONFIGS_FOLDER
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if p.is_file() and _NAME.fullmatch(p.name))


def load_config(context: WorkspaceContext, name: str) -> dict[str, Any]:
    """The spec in ``configs/<name>`` as set keys (TrainSpec field names), validated as `stockade train`
    validates a file (every problem at once, with did-you-mean and line)."""
    from stockade.core.specs import TrainSpec, load_spec

    require(context, "train.run")
    path = config_path(context, name)
    if not path.is_file():
        raise ConfigError(
            f"no config named {name}", where=f"{CONFIGS_FOLDER}/", fix="choose one of the saved configs"
        )
    spec = load_spec(TrainSpec, path)
    return spec.model_dump(mode="json", exclude_unset=True)


def save_config(context: WorkspaceContext, name: str, spec: Any, *, overwrite: bool = False) -> Path:
    """Write ``spec`` (a validated TrainSpec) to ``configs/<name>``; audited ``config.save``. An
    existing file is kept unless ``overwrite``."""
    require(context, "train.run")
    path = config_path(context, name)
    if path.exists() and not overwrite:
        raise ConfigError(
            f"{CONFIGS_FOLDER}/{name} exists",
            where="config name",
            fix="choose another name, or tick 'overwrite'",
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(
        spec.model_dump(mode="json", exclude_unset=True), allow_unicode=True, sort_keys=False
    )
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)
    context.record("config.save", str(path), kind="TrainSpec", via="web", overwrite=overwrite)
    return path
