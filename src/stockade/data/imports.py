"""Turn `data import` arguments into import plans (a file, or LLaMA-Factory entries) and run them."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stockade.core.errors import ConfigError
from stockade.data.importer import ImportOutcome, ImportRequest, import_dataset
from stockade.data.readers import DatasetSource, resolve_dataset_info, source_for_file
from stockade.privacy.verdict import PrivacyGate


@dataclass
class ImportPlan:
    name: str
    source: DatasetSource
    provenance: dict[str, Any]


def _name_from_stem(path: Path) -> str:
    name = re.sub(r"[^\w.-]+", "_", path.stem).strip("._-")
    if not name:
        raise ConfigError(f"cannot derive a dataset name from {path.name!r}", fix="pass --name NAME")
    return name


def plan_imports(
    *,
    path: Path | None,
    name: str | None,
    formatting: str,
    encoding: str,
    dataset_dir: Path | None,
    datasets: str | None,
) -> list[ImportPlan]:
    if (path is None) == (dataset_dir is None):
        raise ConfigError(
            "give either a file (PATH) or a LLaMA-Factory folder (--dataset-dir DIR --dataset NAME)",
            where="stockade data import",
            fix="e.g. `stockade data import data/finance/dataset.json --name finance`",
        )
    if path is not None:
        if datasets:
            raise ConfigError("--dataset needs --dataset-dir", fix="add --dataset-dir DIR, or drop --dataset")
        source = source_for_file(path, formatting=formatting, encoding=encoding)
        return [ImportPlan(name or _name_from_stem(path), source, {"file": str(path.resolve())})]
    names = [part.strip() for part in (datasets or "").split(",") if part.strip()]
    if not names:
        raise ConfigError(
            "--dataset-dir needs --dataset NAME[,NAME]", fix="name entries of dataset_info.json"
        )
    if name and len(names) > 1:
        raise ConfigError("--name works with one --dataset entry", fix="import entries under their own names")
    sources = resolve_dataset_info(dataset_dir, names, encoding=encoding)
    return [
        ImportPlan(
            name or source.name,
            source,
            {"dataset_dir": str(dataset_dir.resolve()), "dataset_info_entry": source.name},
        )
        for source in sources
    ]


def run_imports(
    context: Any,
    plans: list[ImportPlan],
    *,
    gate: PrivacyGate,
    allow_reason: str | None = None,
    skip_invalid: bool,
    max_problems: int,
    tokenizer: Path | None,
    progress: Callable[[int], None] | None = None,
) -> list[ImportOutcome]:
    """Import every plan in order through the workspace context (each version is audited)."""
    outcomes = []
    for plan in plans:
        request = ImportRequest(
            name=plan.name,
            source=plan.source,
            datasets_root=context.workspace.folder("datasets"),
            actor=context.actor.name,
            gate=gate,
            allow_reason=allow_reason,
            skip_invalid=skip_invalid,
            max_problems=max_problems,
            tokenizer=tokenizer,
            provenance={**plan.provenance, "request_id": context.request_id},
        )
        outcomes.append(import_dataset(context, request, progress=progress))
    return outcomes
