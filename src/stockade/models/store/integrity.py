"""Verify before use: a version's files are checked against its manifest before serving, chat, eval,
export or training loads them.

* ``fast`` (default): a file whose size, mtime and ctime are what the manifest recorded is trusted; any
  other file is re-hashed with SHA-256. Versions whose manifests predate the recorded times are hashed.
* ``full``: every file is re-hashed (``--verify full``).

Files that appeared (including symbolic links) or disappeared count as changes. A mismatch is refused
with the files named and audited as ``model.verify_failed`` (paths only, never content).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from stockade.core.errors import StockadeError
from stockade.core.hashing import sha256_file
from stockade.models.store.manifest import FileEntry, Manifest, ManifestDiff
from stockade.models.store.resolve import model_path
from stockade.storage.model_tables import ModelVersion

VerifyMode = Literal["fast", "full"]
VERIFY_MODES = ("fast", "full")
Recorder = Callable[..., Any]  # WorkspaceContext.record


class ModelTampered(StockadeError):
    """A version's files no longer match its manifest (exit code 1, like `stockade model verify`)."""

    exit_code = 1


@dataclass(frozen=True)
class UseCheck:
    """What the check before use did: recorded with ``serve.start`` and friends."""

    ref: str
    mode: str
    files: int
    hashed: int  # files re-hashed (all of them with ``full``)

    def as_dict(self) -> dict[str, Any]:
        return {"ref": self.ref, "mode": self.mode, "files": self.files, "hashed": self.hashed}


def _unchanged_stat(entry: FileEntry, path: Path) -> bool:
    if entry.mtime_ns is None or entry.ctime_ns is None:
        return False
    stat = path.stat()
    return (stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns) == (entry.bytes, entry.mtime_ns, entry.ctime_ns)


def check_files(folder: Path, expected: Manifest, mode: str = "fast") -> tuple[ManifestDiff, int]:
    """Compare ``folder`` with ``expected``: the difference and how many files were hashed."""
    if mode not in VERIFY_MODES:
        raise StockadeError(f"unknown verify mode {mode!r}", fix="use --verify fast or --verify full")
    diff = ManifestDiff()
    if not folder.is_dir():
        diff.removed = [f.path for f in expected.files]
        return diff, 0
    present: dict[str, Path] = {}
    links: set[str] = set()
    for path in folder.rglob("*"):
        relative = path.relative_to(folder).as_posix()
        if path.is_symlink():
            links.add(relative)
        elif path.is_file():
            present[relative] = path
    hashed = 0
    for entry in expected.files:
        if entry.path in links:
            diff.changed.append(entry.path)
            continue
        path = present.pop(entry.path, None)
        if path is None:
            diff.removed.append(entry.path)
            continue
        if mode == "fast" and _unchanged_stat(entry, path):
            continue
        hashed += 1
        if path.stat().st_size != entry.bytes or sha256_file(path) != entry.sha256:
            diff.changed.append(entry.path)
    diff.added = sorted(set(present) | (links - {f.path for f in expected.files}))
    diff.changed.sort()
    diff.removed.sort()
    return diff, hashed


def verify_before_use(
    root: Path,
    row: ModelVersion,
    *,
    purpose: str,
    mode: str = "fast",
    record: Recorder | None = None,
) -> UseCheck:
    """Refuse (:class:`ModelTampered`, audited) a version whose files differ from its manifest."""
    ref = f"{row.name}@v{row.version}"
    expected = Manifest.from_dict(json.loads(row.manifest))
    folder = model_path(root, row)
    diff, hashed = check_files(folder, expected, mode)
    if not diff.clean:
        if record is not None:
            record(
                "model.verify_failed",
                ref,
                result="denied",
                purpose=purpose,
                mode=mode,
                manifest_sha256=row.manifest_sha256,
                **diff.as_dict(),
            )
        raise ModelTampered(
            f"the files of {ref} no longer match its manifest ({diff.describe()}); it will not be "
            f"used for {purpose}",
            where=str(folder),
            fix=f"restore the files from the original release or a backup (`stockade model verify {ref}` "
            "names them), or import the model again as a new version",
        )
    return UseCheck(ref, mode, len(expected.files), hashed)
