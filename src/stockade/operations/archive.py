"""The backup archive: a tar whose ``MANIFEST.json`` lists every member with its SHA-256 and size.

Members are hashed while they are written and again while they are read, so ``verify`` and ``restore``
name the member that was changed, added or removed. The manifest is the last member (its hashes are
known only then); a reader finds it by name.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import tarfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any

from stockade.core.errors import StockadeError
from stockade.core.hashing import CHUNK

MANIFEST_NAME = "MANIFEST.json"
FORMAT = "stockade-backup"
FORMAT_VERSION = 1
Progress = Callable[[int], None]


class ArchiveRefused(StockadeError):
    """The archive is damaged, tampered with or not a Stockade backup."""


@dataclass(frozen=True)
class Member:
    name: str
    sha256: str
    bytes: int
    kind: str  # database | secrets | settings | file | weights

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "sha256": self.sha256, "bytes": self.bytes, "kind": self.kind}


class _HashingReader:
    """Reads at most ``size`` bytes of ``handle``, hashing them (tarfile copies through it)."""

    def __init__(self, handle: IO[bytes], progress: Progress | None) -> None:
        self.handle, self.progress, self.digest, self.count = handle, progress, hashlib.sha256(), 0

    def read(self, size: int = -1) -> bytes:
        data = self.handle.read(size)
        self.digest.update(data)
        self.count += len(data)
        if self.progress:
            self.progress(len(data))
        return data


class ArchiveWriter:
    """Write members to ``path`` (created 0600; written beside it and renamed into place at the end)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.partial = path.with_name(f".{path.name}.partial-{os.getpid()}")
        descriptor = os.open(self.partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self._file = os.fdopen(descriptor, "wb")
        self._tar = tarfile.open(fileobj=self._file, mode="w", format=tarfile.PAX_FORMAT)  # noqa: SIM115
        self.members: list[Member] = []

    def _info(self, name: str, size: int) -> tarfile.TarInfo:
        info = tarfile.TarInfo(name)
        info.size, info.mode, info.mtime, info.type = size, 0o600, int(time.time()), tarfile.REGTYPE
        return info

    def add_file(self, name: str, source: Path, kind: str, progress: Progress | None = None) -> Member:
        with source.open("rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            reader = _HashingReader(handle, progress)
            try:
                self._tar.addfile(self._info(name, size), reader)  # type: ignore[arg-type]
            except OSError as exc:  # the file shrank while it was read
                raise StockadeError(
                    f"the file changed while it was backed up ({exc})",
                    where=str(source),
                    fix="run the backup again when nothing writes to it (a training run still running?)",
                ) from None
        member = Member(name, reader.digest.hexdigest(), size, kind)
        self.members.append(member)
        return member

    def add_bytes(self, name: str, data: bytes, kind: str) -> Member:
        self._tar.addfile(self._info(name, len(data)), io.BytesIO(data))
        member = Member(name, hashlib.sha256(data).hexdigest(), len(data), kind)
        self.members.append(member)
        return member

    def finish(self, metadata: dict[str, Any]) -> bytes:
        """Write the manifest, fsync, and move the archive into place. Returns the manifest's bytes."""
        manifest = {**metadata, "members": [member.as_dict() for member in self.members]}
        data = json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True).encode("utf-8")
        self._tar.addfile(self._info(MANIFEST_NAME, len(data)), io.BytesIO(data))
        self._tar.close()
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        if self.path.exists():
            self.abort()
            raise StockadeError("the output file appeared while the backup ran", where=str(self.path))
        os.replace(self.partial, self.path)
        return data

    def abort(self) -> None:
        for closing in (self._tar.close, self._file.close):
            with contextlib.suppress(Exception):  # already failing; the partial file is removed below
                closing()
        self.partial.unlink(missing_ok=True)


@dataclass
class OpenArchive:
    """An archive whose index agrees with its manifest (every listed member present, nothing else)."""

    path: Path
    tar: tarfile.TarFile
    manifest: dict[str, Any]
    members: dict[str, Member]

    def where(self, name: str) -> str:
        return f"{self.path} (member {name})"

    def stream(self, name: str, sink: Callable[[bytes], None], progress: Progress | None = None) -> None:
        """Pass the member's bytes to ``sink``; refuse it (naming it) when its hash or size differs."""
        expected = self.members[name]
        handle = self.tar.extractfile(name)
        if handle is None:
            raise ArchiveRefused("the member is not a regular file", where=self.where(name))
        digest, count = hashlib.sha256(), 0
        try:
            while chunk := handle.read(CHUNK):
                digest.update(chunk)
                count += len(chunk)
                sink(chunk)
                if progress:
                    progress(len(chunk))
        except tarfile.TarError as exc:
            raise ArchiveRefused(f"the member cannot be read: {exc}", where=self.where(name)) from None
        if count != expected.bytes or digest.hexdigest() != expected.sha256:
            raise ArchiveRefused(
                "the member was changed: its SHA-256 or size differs from MANIFEST.json",
                where=self.where(name),
                fix="use another copy of the backup; this one was damaged or tampered with",
            )

    def read(self, name: str) -> bytes:
        parts: list[bytes] = []
        self.stream(name, parts.append)
        return b"".join(parts)

    def verify_all(self, progress: Progress | None = None) -> int:
        for name in self.members:
            self.stream(name, lambda _chunk: None, progress)
        return len(self.members)

    def close(self) -> None:
        self.tar.close()

    def __enter__(self) -> OpenArchive:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _safe_name(name: str) -> bool:
    path = PurePosixPath(name)
    return bool(name) and not path.is_absolute() and ".." not in path.parts and "\\" not in name


def open_archive(path: Path) -> OpenArchive:
    """Open ``path`` and check its index against MANIFEST.json (hashes are checked as members are read)."""
    path = path.expanduser().resolve()
    fix = "give the path of a file `stockade backup create` wrote"
    if not path.is_file():
        raise ArchiveRefused("no such backup file", where=str(path), fix=fix)
    try:
        tar = tarfile.open(path, mode="r:")  # noqa: SIM115 - OpenArchive closes it
        entries = tar.getmembers()
    except (tarfile.TarError, OSError) as exc:
        raise ArchiveRefused(f"not a readable tar archive ({exc})", where=str(path), fix=fix) from None
    try:
        return _check_index(path, tar, entries)
    except BaseException:
        tar.close()
        raise


def _check_index(path: Path, tar: tarfile.TarFile, entries: list[tarfile.TarInfo]) -> OpenArchive:
    names = [entry.name for entry in entries]
    if MANIFEST_NAME not in names:
        raise ArchiveRefused(
            f"{MANIFEST_NAME} is missing: this is not a Stockade backup, or its manifest was removed",
            where=str(path),
            fix="use another copy of the backup",
        )
    for entry in entries:
        if names.count(entry.name) > 1:
            raise ArchiveRefused(
                f"member {entry.name} appears twice (a member was added)",
                where=f"{path} (member {entry.name})",
            )
        if not entry.isreg() or not _safe_name(entry.name):
            raise ArchiveRefused(
                f"member {entry.name} is not a plain file with a relative path (a member was added)",
                where=f"{path} (member {entry.name})",
                fix="use another copy of the backup",
            )
    raw = tar.extractfile(MANIFEST_NAME)
    try:
        manifest = json.loads(raw.read().decode("utf-8")) if raw else None
    except (ValueError, UnicodeDecodeError):
        manifest = None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ArchiveRefused(
            f"{MANIFEST_NAME} is not a Stockade backup manifest", where=f"{path} (member {MANIFEST_NAME})"
        )
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ArchiveRefused(
            f"backup format version {manifest.get('format_version')} is not {FORMAT_VERSION}",
            where=str(path),
            fix="restore it with the Stockade version that wrote it "
            f"({manifest.get('stockade_version', 'unknown')})",
        )
    members = {item["name"]: Member(**item) for item in manifest.get("members", [])}
    present = set(names) - {MANIFEST_NAME}
    for name in sorted(present - members.keys()):
        raise ArchiveRefused(
            f"member {name} is not listed in {MANIFEST_NAME}: it was added after the backup was made",
            where=f"{path} (member {name})",
            fix="use another copy of the backup; do not restore files nobody can account for",
        )
    for name in sorted(members.keys() - present):
        raise ArchiveRefused(
            f"member {name} is listed in {MANIFEST_NAME} but missing from the archive (it was removed)",
            where=f"{path} (member {name})",
            fix="use another copy of the backup",
        )
    return OpenArchive(path, tar, manifest, members)
