"""The one staging mechanism: private folders named after the process that owns them, and commit markers.

* A staging folder (``datasets/.staging/import-HOST-PID-xxxx``, ``models/NAME/.staging-HOST-PID-xxxx``) is
  created 0700 and its files 0600; its name says which process on which host owns it, so leftovers of a
  process that is gone (kill -9, power loss) are recognised and removed by the next workspace open.
* A commit marker (``NAME/.commit-vN-HOST-PID``) is written before a version folder is put in place and
  removed once the database row is committed (or the attempt cleaned up). A marker whose process is gone
  means the folder ``vN`` may be an orphan: it is removed unless the database registered it.

``HOST`` is a short hash of the host name: a folder owned by another host is never judged (only reported).

:func:`crash_window` names the points where a crash would leave half-done work; the crash-safety suite
(``tests/integrity``) sets ``STOCKADE_TEST_KILL_AT=NAME`` to make the process kill itself there with
SIGKILL, as ``kill -9`` would. Unset (always, outside that suite), it does nothing.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import re
import secrets
import signal
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from stockade.core.environment import read_variable

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
OWNER = re.compile(r"(?P<host>[0-9a-f]{8})-(?P<pid>\d+)")
MARKER_PREFIX = ".commit-v"
PR_SET_PDEATHSIG = 1  # linux/prctl.h
KILL_VARIABLE = "STOCKADE_TEST_KILL_AT"
# Every named write window (a name passed to crash_window), for the crash-safety suite to cover them all.
CRASH_WINDOWS = (
    "dataset.staging",  # every record staged (sealed), the privacy gate not yet run
    "dataset.rename",  # datasets/NAME/vN placed, its row not committed
    "dataset.commit",  # the row committed, the marker and the staging folder not yet removed
    "model.staging",  # models/NAME/.staging-* being filled (model import, export)
    "model.rename",  # models/NAME/vN renamed in place, its row not committed
    "model.commit",  # the row committed, the marker not yet removed
    "train.started",  # a run recorded as running, before its first checkpoint
    "train.checkpoint",  # a checkpoint half written into checkpoints/.tmp-step-N
)


def host_tag() -> str:
    return hashlib.sha256(socket.gethostname().encode("utf-8")).hexdigest()[:8]


def owner_tag() -> str:
    return f"{host_tag()}-{os.getpid()}"


@dataclass(frozen=True)
class Owner:
    host: str
    pid: int

    @property
    def here(self) -> bool:
        return self.host == host_tag()

    @property
    def gone(self) -> bool:
        """The owning process is provably gone: on this host, and no process has its id."""
        return self.here and not pid_alive(self.pid)


def owner_of(name: str) -> Owner | None:
    match = OWNER.search(name)
    return Owner(match["host"], int(match["pid"])) if match else None


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return _not_zombie(pid)


def _not_zombie(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


def die_with_parent(parent_pid: int) -> None:
    """Make this (child) process die when its parent does, so a killed parent leaves no child holding the
    database, staged files or a GPU (privacy workers, training ranks under a launcher): ``PR_SET_PDEATHSIG``
    (Linux), then a check that the parent is still the one that started it (it may have died before the
    signal was armed)."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):  # no prctl: the parent-pid check below still applies
            pass
    if os.getppid() != parent_pid:
        os._exit(1)


def make_staging_folder(parent: Path, prefix: str) -> Path:
    """A new private folder ``parent/PREFIX-HOST-PID-xxxx`` (``parent`` created 0700 if missing)."""
    parent.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
    folder = parent / f"{prefix}{owner_tag()}-{secrets.token_hex(4)}"
    folder.mkdir(mode=PRIVATE_DIR)
    os.chmod(folder, PRIVATE_DIR)  # whatever the umask
    return folder


def open_private(path: Path, mode: str = "w", **kwargs: object):
    """Open a new file for writing readable by its owner only (0600 from its creation on)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    os.fchmod(descriptor, PRIVATE_FILE)
    return os.fdopen(descriptor, mode, **kwargs)


def marker_path(parent: Path, version: int) -> Path:
    return parent / f"{MARKER_PREFIX}{version}-{owner_tag()}"


@contextmanager
def commit_marker(parent: Path, version: int) -> Iterator[Path]:
    """Mark ``parent/vN`` as being committed by this process for the duration of the block."""
    parent.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
    marker = marker_path(parent, version)
    marker.touch(mode=PRIVATE_FILE)
    try:
        yield marker
    finally:
        marker.unlink(missing_ok=True)


def crash_window(name: str) -> None:
    """Kill this process with SIGKILL if ``$STOCKADE_TEST_KILL_AT`` names this window (tests only)."""
    if name not in CRASH_WINDOWS:
        raise ValueError(f"unknown crash window {name!r}")
    if read_variable(KILL_VARIABLE) == name:
        os.kill(os.getpid(), signal.SIGKILL)


def marker_version(name: str) -> int | None:
    match = re.match(rf"{re.escape(MARKER_PREFIX)}(\d+)-", name)
    return int(match[1]) if match else None
