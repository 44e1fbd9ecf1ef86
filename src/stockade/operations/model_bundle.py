"""`stockade bundle model`: carry a model folder through the compliant channel, verified at both ends.

    OUT/model/...        the model's files, copied
    OUT/MANIFEST.json    SHA-256 and size of every file, and ``model.manifest_sha256``: the hash over the
                         folder that `model import` registers (the model store's own manifest function)
    OUT/MANIFEST.json.sig  with --sign-key

``stockade model import OUT`` checks the bundle (signature, every file) and then that the files it
copies hash to ``model.manifest_sha256`` before anything is registered.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stockade.audit.log import utc_now
from stockade.core.errors import StockadeError
from stockade.models.store.detect import inspect_folder
from stockade.models.store.manifest import Progress, build_manifest, compare
from stockade.operations.bundle_manifest import MANIFEST_NAME, VerifiedBundle, verify_bundle, write_manifest

MODEL_FOLDER = "model"


@dataclass(frozen=True)
class ModelBundle:
    folder: Path
    model_folder: Path
    manifest_sha256: str
    files: int
    bytes: int
    signed_by: str | None


def pack_model(
    source: Path, out: Path, *, sign_key: Path | None = None, progress: Progress | None = None
) -> ModelBundle:
    """Copy the model folder ``source`` into ``out/model`` and write the signed manifest."""
    source = source.expanduser().resolve()
    if not source.is_dir():
        raise StockadeError("no such model folder", where=str(source), fix="give a local model folder")
    info = inspect_folder(source)  # refuses what `model import` would refuse, before anything is copied
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise StockadeError(
            "the output folder exists and is not empty", where=str(out), fix="give a new --out"
        )
    expected = build_manifest(source, progress)
    staging = out.with_name(f"{out.name}.partial")
    if staging.exists():
        shutil.rmtree(staging)
    try:
        target = staging / MODEL_FOLDER
        for entry in expected.files:
            destination = target / entry.path
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source / entry.path, destination)
        diff = compare(expected, build_manifest(target))
        if not diff.clean:
            raise StockadeError(f"the copy differs from the source ({diff.describe()})", where=str(source))
        metadata = {
            "kind": "model",
            "name": source.name,
            "created_at": utc_now(),
            "model": {
                "manifest_sha256": expected.sha256,
                "architecture": info.architecture,
                "model_type": info.model_type,
                "kind": info.kind,
            },
        }
        manifest = write_manifest(staging, metadata, sign_key=sign_key)
        if out.exists():
            out.rmdir()
        os.replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return ModelBundle(
        out, out / MODEL_FOLDER, expected.sha256, len(manifest["files"]), expected.total_bytes,
        manifest["signed_by"],
    )  # fmt: skip


def is_model_bundle(folder: Path) -> bool:
    """Whether ``folder`` is a bundle `pack_model` wrote (a model folder itself has no such manifest)."""
    path = folder / MANIFEST_NAME
    if not path.is_file():
        return False
    try:
        manifest: Any = json.loads(path.read_bytes())
    except ValueError:
        return False
    return isinstance(manifest, dict) and manifest.get("format") == "stockade-bundle"


def open_model_bundle(
    folder: Path, *, trusted_key: Path | None, allow_unsigned: bool, progress: Progress | None = None
) -> ModelBundle:
    """Verify a model bundle (signature, then every file) and say where its model folder is."""
    checked: VerifiedBundle = verify_bundle(
        folder, trusted_key=trusted_key, allow_unsigned=allow_unsigned, progress=progress
    )
    if checked.kind != "model":
        raise StockadeError(
            f"this is a {checked.kind!r} bundle, not a model bundle",
            where=str(folder),
            fix="install bundles are installed with their install.sh; model bundles come from "
            "`stockade bundle model`",
        )
    return ModelBundle(
        checked.folder, checked.folder / MODEL_FOLDER, checked.manifest["model"]["manifest_sha256"],
        checked.files, checked.bytes, checked.signer,
    )  # fmt: skip
