"""SHA-256 manifests of model folders, and what differs between two of them.

The manifest hash is the same as :func:`stockade.core.hashing.folder_manifest`'s (a hash over the
canonical JSON of ``{relative path: sha256}``), so a training run's ``base_manifest_sha256`` and a
registered version's ``manifest_sha256`` agree when the files do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stockade.core.errors import StockadeError
from stockade.core.hashing import manifest_sha256, sha256_file

Progress = Callable[[int], None]  # called with the number of bytes just hashed


@dataclass(frozen=True)
class FileEntry:
    path: str  # relative, POSIX
    sha256: str
    bytes: int
    # stat times when hashed (ns): the fast check before use trusts a file whose size and both times are
    # unchanged; ``None`` in manifests written before they were recorded (those files are always hashed)
    mtime_ns: int | None = None
    ctime_ns: int | None = None

    def as_dict(self) -> dict[str, Any]:
        value: dict[str, Any] = {"path": self.path, "sha256": self.sha256, "bytes": self.bytes}
        if self.mtime_ns is not None:
            value["mtime_ns"], value["ctime_ns"] = self.mtime_ns, self.ctime_ns
        return value


@dataclass(frozen=True)
class Manifest:
    files: tuple[FileEntry, ...]

    @property
    def sha256(self) -> str:
        return manifest_sha256({f.path: f.sha256 for f in self.files})

    @property
    def total_bytes(self) -> int:
        return sum(f.bytes for f in self.files)

    def as_dict(self) -> dict[str, Any]:
        return {
            "sha256": self.sha256,
            "total_bytes": self.total_bytes,
            "files": [f.as_dict() for f in self.files],
        }

    @classmethod
    def from_dict(cls, value: dict[str, Any]) -> Manifest:
        return cls(
            tuple(
                FileEntry(f["path"], f["sha256"], int(f["bytes"]), f.get("mtime_ns"), f.get("ctime_ns"))
                for f in value["files"]
            )
        )


@dataclass
class ManifestDiff:
    changed: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (self.changed or self.added or self.removed)

    def describe(self) -> str:
        parts = [
            f"{label}: {', '.join(names)}"
            for label, names in (("changed", self.changed), ("added", self.added), ("removed", self.removed))
            if names
        ]
        return "; ".join(parts) or "no difference"

    def as_dict(self) -> dict[str, list[str]]:
        return {"changed": self.changed, "added": self.added, "removed": self.removed}


def list_files(folder: Path) -> list[Path]:
    """Every regular file under ``folder``, sorted; symbolic links are refused (they can point anywhere)."""
    files = []
    for path in sorted(folder.rglob("*")):
        if path.is_symlink():
            raise StockadeError(
                "the model folder contains a symbolic link",
                where=str(path),
                fix="replace the link with the file it points to (copy it in), then import again",
            )
        if path.is_file():
            files.append(path)
    return files


def build_manifest(folder: Path, progress: Progress | None = None) -> Manifest:
    entries = []
    for path in list_files(folder):
        digest = sha256_file(path, progress)
        stat = path.stat()
        entries.append(
            FileEntry(
                path.relative_to(folder).as_posix(), digest, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns
            )
        )
    return Manifest(tuple(entries))


def folder_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in list_files(folder))


def compare(expected: Manifest, actual: Manifest) -> ManifestDiff:
    """Which files changed, appeared or disappeared between ``expected`` and ``actual``."""
    before = {f.path: f.sha256 for f in expected.files}
    after = {f.path: f.sha256 for f in actual.files}
    return ManifestDiff(
        changed=sorted(p for p in before.keys() & after.keys() if before[p] != after[p]),
        added=sorted(after.keys() - before.keys()),
        removed=sorted(before.keys() - after.keys()),
    )
