"""Is a job's process still ours and alive? A pid alone is not enough: after a crash or a reboot the
number can belong to another program, so the process's start time (from /proc) is kept beside it."""

from __future__ import annotations

import os
import signal
from pathlib import Path


def start_time(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (clock ticks since boot, as text), ``None`` if it is gone or
    a zombie (exited, not yet reaped)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    if fields[0] in {"Z", "X"}:
        return None
    return fields[19]


def is_alive(pid: int | None, started: str | None) -> bool:
    """True when ``pid`` runs and is the same process that was started (same start time)."""
    if not pid:
        return False
    current = start_time(pid)
    return current is not None and (started is None or current == started)


def terminate_group(pid: int) -> bool:
    """SIGTERM the job's process group (the worker and the command it runs); False if already gone."""
    try:
        os.killpg(pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        return False
    return True
