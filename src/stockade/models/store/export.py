"""`stockade export RUN`: turn a training run's weights into a registered model version.

* ``merge=True``: a LoRA adapter merged into its base → kind ``merged`` (sharded safetensors, checked
  against base + adapter logits by :mod:`stockade.models.merge` before it is registered). A full or
  freeze run's ``model/`` is re-sharded with the base's tokenizer files and checked the same way.
* ``merge=False``: the adapter alone → kind ``adapter``, linked to its base version.

Lineage: the run, its base version (name, id, manifest hash) and the dataset versions with their hashes.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from stockade.core.errors import StockadeError
from stockade.core.references import parse_model_reference
from stockade.models.store.integrity import verify_before_use
from stockade.models.store.manifest import build_manifest
from stockade.models.store.resolve import find_by_manifest, model_path, resolve_model_version
from stockade.models.store.versions import ModelView, NewVersion, commit_version, discard, new_staging_folder
from stockade.storage.model_tables import ModelVersion
from stockade.storage.tables import TrainingRun

GB = 1024**3


@dataclass
class ExportOutcome:
    view: ModelView
    check: dict[str, Any] | None


def _run_row(session: Session, run_id: str) -> TrainingRun:
    row = session.get(TrainingRun, run_id)
    if row is None:
        raise StockadeError(f"no run {run_id!r}", fix="see `stockade runs list`")
    if row.status != "succeeded":
        raise StockadeError(
            f"{run_id} is {row.status}; only a run that succeeded can be exported",
            fix="finish it first (`stockade train --resume RUN`), or export another run",
        )
    return row


def _base_version(session: Session, run: TrainingRun) -> ModelVersion:
    """The registered version the run trained on: its spec's ``NAME@vN``, else the one with its files."""
    spec = json.loads(run.spec)
    reference = str(spec.get("model") or "")
    try:
        kind = parse_model_reference(reference).kind if reference else None
    except StockadeError:
        kind = None  # a dev-mode folder that is gone: look it up by its manifest hash
    if kind == "registered":
        row = resolve_model_version(session, reference)
    else:
        row = find_by_manifest(session, run.base_manifest_sha256)
    if row is None or row.manifest_sha256 != run.base_manifest_sha256:
        raise StockadeError(
            f"the base model of {run.id} is not registered with the files it trained on "
            f"(manifest sha256 {run.base_manifest_sha256[:16]}…)",
            where=run.base_model,
            fix=f"register that exact folder first: `stockade model import {run.base_model} --name NAME`, "
            "then export again",
        )
    return row


def _weights_of(run_dir: Path, run_id: str, spec: dict[str, Any], merge: bool) -> tuple[Path, bool]:
    """The run's ``adapter/`` (LoRA, QLoRA) or ``model/`` (full, freeze; ``merge`` only) and which it is."""
    if (run_dir / "adapter" / "adapter_config.json").is_file():
        return run_dir / "adapter", False
    if (run_dir / "model" / "config.json").is_file():
        if not merge:
            raise StockadeError(
                f"{run_id} trained its weights directly ({spec.get('finetuning_type')}): it has no adapter",
                fix=f"export the whole model: `stockade export {run_id} --merge`",
            )
        return run_dir / "model", True
    raise StockadeError(
        f"{run_id} has no adapter/ or model/ folder (its weights were removed)",
        where=str(run_dir),
        fix="export a run whose weights are still there (`stockade runs list`)",
    )


def export_run(
    context: Any,
    run_id: str,
    *,
    merge: bool,
    name: str | None = None,
    shard_gb: float = 5.0,
    tolerance: float | None = None,
    device: str = "cpu",
    template: str | None = None,
    export_dir: Path | None = None,
    verify: str = "fast",
) -> ExportOutcome:
    root = context.workspace.root
    if export_dir is not None and export_dir.exists():
        raise StockadeError(
            "export_dir already exists; the copy goes into a new folder",
            where=str(export_dir),
            fix="give a path that does not exist yet (the model store keeps its own copy in any case)",
        )
    with Session(context.engine) as session:
        run = _run_row(session, run_id)
        base = _base_version(session, run)
        weights, full = _weights_of(root / run.path, run_id, json.loads(run.spec), merge)
        verify_before_use(root, base, purpose="export", mode=verify, record=context.record)
        spec, datasets = json.loads(run.spec), json.loads(run.datasets)
        base_ref, base_dir = f"{base.name}@v{base.version}", model_path(root, base)
        base_arch, base_template, base_id = base.architecture, base.template, base.id
    name = name or f"{base.name}-{'merged' if merge else 'adapter'}"
    staged = new_staging_folder(context.workspace.folder("models"), name)
    check = None
    try:
        if merge:
            from stockade.models.merge import merge_adapter, reshard_model

            options = {"shard_bytes": int(shard_gb * GB), "tolerance": tolerance, "device": device}
            if full:
                check = reshard_model(weights, base_dir, staged, **options).as_dict()
            else:
                check = merge_adapter(base_dir, weights, staged, **options).as_dict()
        else:
            shutil.copytree(weights, staged, dirs_exist_ok=True)
        manifest = build_manifest(staged)
    except BaseException:
        discard(staged)
        raise
    lineage = {
        "run": run_id,
        "base_version": base_ref,
        "base_version_id": base_id,
        "base_manifest_sha256": run.base_manifest_sha256,
        "datasets": datasets,
        "finetuning_type": spec.get("finetuning_type"),
        "merge_check": check,
    }
    view = commit_version(
        context,
        NewVersion(
            name=name,
            kind="merged" if merge else "adapter",
            architecture=base_arch,
            template=template or spec.get("template") or base_template,
            manifest=manifest,
            lineage=lineage,
            tags=[],
        ),
        staged=staged,
        action="model.export",
        run=run_id,
        base=base_ref,
        datasets=[d.get("ref") for d in datasets],
        merge_check=check,
    )
    if export_dir is not None:
        shutil.copytree(root / view.path, export_dir)
    return ExportOutcome(view, check)
