"""SHA-256 of bytes, files and canonical JSON."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

CHUNK = 1024 * 1024


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path, progress: Callable[[int], None] | None = None) -> str:
    """Stream-hash a file (``CHUNK`` at a time: a 15 GB shard never sits in memory); ``progress`` is
    called with the number of bytes just hashed."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            if progress:
                progress(len(chunk))
    return digest.hexdigest()


def canonical_json(value: Any) -> str:
    """One byte-exact JSON form: sorted keys, no spaces, UTF-8 kept (not \\u escapes)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def folder_manifest(folder: Path) -> dict[str, Any]:
    """SHA-256 of every file under ``folder`` (relative POSIX paths, sorted) and one hash over them all."""
    files = {
        path.relative_to(folder).as_posix(): sha256_file(path)
        for path in sorted(folder.rglob("*"))
        if path.is_file() and not path.is_symlink()
    }
    return {"files": files, "sha256": manifest_sha256(files)}


def manifest_sha256(files: dict[str, str]) -> str:
    """The one hash over a folder's ``{relative path: sha256}`` (the model store's manifests use it too)."""
    return sha256_bytes(canonical_json(files).encode("utf-8"))
