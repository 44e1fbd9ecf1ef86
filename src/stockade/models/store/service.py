"""`stockade model import | list | show | verify | rm`: the audited services of the model store."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from stockade.core.errors import StockadeError
from stockade.core.references import parse_versioned_name, refuse_hub_id
from stockade.models.store.detect import inspect_folder
from stockade.models.store.manifest import (
    Manifest,
    ManifestDiff,
    Progress,
    build_manifest,
    compare,
    folder_bytes,
)
from stockade.models.store.resolve import find_by_manifest, find_model_version, model_path
from stockade.models.store.safety import check_folder, load_policy
from stockade.models.store.versions import ModelView, NewVersion, commit_version, discard, new_staging_folder
from stockade.storage.model_tables import ModelVersion
from stockade.storage.staging import crash_window

# (phase, total bytes) → a callback advanced with the bytes just processed
ProgressFactory = Callable[[str, int], Progress]


@dataclass
class ImportOutcome:
    view: ModelView
    created: bool


def _no_progress(_phase: str, _total: int) -> Progress:
    return lambda _n: None


def _check_name(name: str) -> None:
    _, version = parse_versioned_name(name, what="model name")
    if version is not None:
        raise StockadeError(
            f"give the name without a version: {name!r}",
            fix="versions are numbered by the store: --name NAME registers NAME@v1, then NAME@v2, ...",
        )


def import_model(
    context: Any,
    source: Path | str,
    name: str,
    *,
    copy: bool = True,
    tags: list[str] | None = None,
    progress: ProgressFactory | None = None,
    expected_manifest_sha256: str | None = None,
) -> ImportOutcome:
    """Check, hash and register the model folder ``source`` as ``name@vN`` (copied into the workspace).

    ``expected_manifest_sha256`` (a verified model bundle's) refuses files that hash otherwise."""
    _check_name(name)
    progress = progress or _no_progress
    given = str(source)  # as typed: Path() would fold the '//' of a URL
    source = Path(source).expanduser()
    if not source.exists():
        refuse_hub_id(given, where="model import")
    source = source.resolve()
    info = inspect_folder(source)
    if info.kind != "model":
        raise StockadeError(
            "this is a LoRA adapter folder, not a complete model",
            where=str(source),
            fix="import the base model; adapters come from training (`stockade export RUN`)",
        )
    code = check_folder(info, load_policy(context.workspace.root))
    total = folder_bytes(source)
    manifest = build_manifest(source, progress("hashing", total))
    if expected_manifest_sha256 is not None and manifest.sha256 != expected_manifest_sha256:
        raise StockadeError(
            f"the model files hash to {manifest.sha256[:16]}…, not to the bundle's "
            f"{expected_manifest_sha256[:16]}… (changed after it was verified)",
            where=str(source),
            fix="copy the bundle again and import it while nothing writes to it; nothing was registered",
        )
    with Session(context.engine) as session:
        same = find_by_manifest(session, manifest.sha256, name)
        if same is not None:
            return ImportOutcome(ModelView.of(same), created=False)
    new = NewVersion(
        name=name,
        kind="base",
        architecture=info.architecture,
        template=info.template,
        manifest=manifest,
        lineage={"source": str(source), "model_type": info.model_type, "copied": copy},
        tags=list(tags or []),
    )
    details = {
        "source": str(source),
        "architecture": info.architecture,
        "weights": info.weights_format,
        "weight_files": info.weights,
        "remote_code": code,
    }
    if not copy:
        view = commit_version(context, new, staged=None, in_place=source, action="model.import", **details)
        return ImportOutcome(view, created=True)
    target = (context.workspace.folder("models") / name).resolve()
    if source == target or source.is_relative_to(target) or target.is_relative_to(source):
        raise StockadeError(
            f"the folder is where the store keeps {name}'s versions (models/{name}/vN)",
            where=str(source),
            fix="move it out of the workspace's models/ folder first, or import it under another --name",
        )
    staged = new_staging_folder(context.workspace.folder("models"), name)
    try:
        _copy_files(source, staged, manifest, progress("copying", total))
        copied = build_manifest(staged, progress("verifying", total))
        diff = compare(manifest, copied)
        if not diff.clean:
            raise StockadeError(
                f"the copy does not match the source ({diff.describe()})",
                where=str(staged),
                fix="check the disk (`stockade doctor`) and that nothing writes to the source folder",
            )
    except BaseException:
        discard(staged)
        raise
    new.manifest = copied  # same hashes; the sizes and times of the store's copy (the fast check uses them)
    view = commit_version(context, new, staged=staged, action="model.import", **details)
    return ImportOutcome(view, created=True)


def _copy_files(source: Path, target: Path, manifest: Manifest, advance: Progress) -> None:
    for entry in manifest.files:
        destination = target / entry.path
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / entry.path, destination)
        advance(entry.bytes)
        crash_window("model.staging")


def list_models(context: Any, name: str | None = None) -> list[ModelView]:
    query = select(ModelVersion).order_by(ModelVersion.name, ModelVersion.version)
    if name:
        query = query.where(ModelVersion.name == name)
    with Session(context.engine) as session:
        return [ModelView.of(row) for row in session.scalars(query)]


def show_model(context: Any, reference: str) -> ModelView:
    with Session(context.engine) as session:
        return ModelView.of(find_model_version(session, reference))


@dataclass
class VerifyResult:
    view: ModelView
    diff: ManifestDiff

    @property
    def ok(self) -> bool:
        return self.diff.clean


def diff_files(workspace_root: Path, row: ModelVersion, progress: Progress | None = None) -> ManifestDiff:
    """Re-hash the version's folder and compare it with its registered manifest."""
    folder = model_path(workspace_root, row)
    expected = Manifest.from_dict(json.loads(row.manifest))
    if not folder.is_dir():
        return ManifestDiff(removed=[f.path for f in expected.files])
    return compare(expected, build_manifest(folder, progress))


def verify_model(context: Any, reference: str, *, progress: ProgressFactory | None = None) -> VerifyResult:
    """Re-hash every file; the audit event names each file that changed, appeared or disappeared."""
    progress = progress or _no_progress
    with Session(context.engine) as session, session.begin():
        row = find_model_version(session, reference)
        if row.status != "active":
            raise StockadeError(f"{row.name}@v{row.version} was removed; its files are gone")
        folder = model_path(context.workspace.root, row)
        total = folder_bytes(folder) if folder.is_dir() else 0
        diff = diff_files(context.workspace.root, row, progress("verifying", total))
        context.record(
            "model.verify",
            f"{row.name}@v{row.version}",
            session=session,
            result="ok" if diff.clean else "error",
            manifest_sha256=row.manifest_sha256,
            **diff.as_dict(),
        )
        return VerifyResult(ModelView.of(row), diff)


def remove_model(context: Any, reference: str, *, reason: str | None = None) -> ModelView:
    """Delete a version's files (if the store holds them); its row, manifest and lineage stay."""
    _, version = parse_versioned_name(reference, what="model reference")
    if version is None:
        raise StockadeError(
            f"say which version of {reference!r} to remove",
            fix=f"name it exactly, e.g. `stockade model rm {reference}@v1` (see `stockade model list`)",
        )
    models_root = context.workspace.folder("models").resolve()
    with Session(context.engine) as session, session.begin():
        row = find_model_version(session, reference)
        if row.status == "removed":
            raise StockadeError(f"{reference} was already removed")
        if row.stage in ("approved", "deployed"):
            raise StockadeError(
                f"{reference} is {row.stage} (it may be served)",
                fix=f"retire it first (`stockade registry retire {reference}`), then remove it",
            )
        folder = model_path(context.workspace.root, row).resolve()
        owned = folder.is_relative_to(models_root)
        row.status = "removed"
        context.record(
            "model.remove",
            reference,
            session=session,
            reason=reason,
            manifest_sha256=row.manifest_sha256,
            files_deleted=owned,
        )
        view = ModelView.of(row)
    if owned:
        shutil.rmtree(folder, ignore_errors=True)
    return view
