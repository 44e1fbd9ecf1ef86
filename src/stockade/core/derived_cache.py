"""Derived data kept on disk between processes, so that each process need not rebuild it.

What is kept here is computed from files that ship with the installed packages (jieba's dictionary
for the name detector, see ``privacy.detectors.lexicon``): deleting the folder only costs the next
process the time to rebuild. Nothing here is personal data, and nothing is fetched.

Each entry is one file, ``NAME-KEY.marshal``, where KEY is a hash of everything the data depends on
(the source file's size and time, package versions, the Python version, the format). It is read
only when the file belongs to this user and nobody else may write it (the folder is made 0700 and
the file 0600), and its SHA-256 matches the digest in its header; anything else (a damaged,
foreign or stale file, a read-only home) means the data is rebuilt, and the cache is rewritten
where possible. ``marshal`` is used because it is Python's fastest loader of plain dicts, lists and
strings (the lexicon loads in half the time it takes to build); it runs no code.

``STOCKADE_CACHE_DIR`` moves the folder (``off`` turns the cache off); see ``core.environment``.
"""

from __future__ import annotations

import contextlib
import hashlib
import marshal
import os
import stat
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from stockade.core import environment

_MAGIC = b"STOCKADE-DERIVED-1\n"
_DIGEST = hashlib.sha256().digest_size


def entry_path(name: str, key_parts: tuple[object, ...]) -> Path | None:
    """The file of entry ``name`` for these key parts, or None when caching is off."""
    folder = environment.cache_location()
    if folder is None:
        return None
    key = hashlib.sha256(repr((key_parts, sys.version_info[:2], marshal.version)).encode()).hexdigest()[:24]
    return folder / f"{name}-{key}.marshal"


def load_or_build(name: str, key_parts: tuple[object, ...], build: Callable[[], Any]) -> Any:
    """The cached value of entry ``name`` (``key_parts`` name what it depends on), or ``build()``'s,
    written to the cache for the next process. ``build`` must return what ``marshal`` can write
    (None, bools, numbers, strings, bytes, and tuples, lists, dicts, sets and frozensets of them)."""
    path = entry_path(name, key_parts)
    if path is not None:
        value = _read(path)
        if value is not None:
            return value[0]
    value = build()
    if path is not None:
        _write(path, value)
    return value


def _read(path: Path) -> tuple[Any] | None:
    """``(value,)`` from a sound, private entry, else None."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o022:
            return None  # someone else's, or writable by others: not trusted
        blob = handle.read()
    head = len(_MAGIC) + _DIGEST
    if not blob.startswith(_MAGIC) or hashlib.sha256(blob[head:]).digest() != blob[len(_MAGIC) : head]:
        return None  # damaged or half-written
    try:
        # Why allowed: the file is this user's own, private, and checked against its digest; marshal
        # builds values but runs no code (a user who can write it could change the installed code).
        return (marshal.loads(blob[head:]),)  # noqa: S302
    except (EOFError, ValueError, TypeError):
        return None


def _write(path: Path, value: Any) -> None:
    """Write the entry atomically (temporary file, then rename); a folder that cannot be written
    (read-only home, full disk) only means no cache."""
    try:
        payload = marshal.dumps(value)
    except ValueError:
        return
    with contextlib.suppress(OSError):
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        for stale in path.parent.glob(f"{path.name.rsplit('-', 1)[0]}-*.marshal"):  # older keys
            if stale != path:
                stale.unlink(missing_ok=True)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mode 0600
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(_MAGIC + hashlib.sha256(payload).digest() + payload)
            os.replace(temporary, path)
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
