"""Run a line processor over a whole file, on every core for large files, in bounded memory.

Lines are grouped into chunks of about ``CHUNK_BYTES``; at most ``2 × workers`` chunks are in
flight, and results are written in input order. Each worker builds its engine once.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any, TextIO

from stockade.privacy.engine import PrivacyEngine
from stockade.privacy.lines import LINE_PROCESSORS
from stockade.privacy.policy import PrivacyPolicy
from stockade.privacy.report import ScanReport
from stockade.storage.staging import open_private

CHUNK_BYTES = 4 * 1024 * 1024
PARALLEL_MIN_BYTES = 16 * 1024 * 1024
PR_SET_PDEATHSIG = 1  # linux/prctl.h

_worker_engine: PrivacyEngine | None = None


def die_with_parent(parent_pid: int) -> None:
    """Make this (worker) process die when its parent does, so a killed import leaves no worker holding
    the database or staged files: ``PR_SET_PDEATHSIG`` (Linux), then a check that the parent is still
    the one that started it (it may have died before the signal was armed)."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):  # no prctl: the parent-pid check below still applies
            pass
    if os.getppid() != parent_pid:
        os._exit(1)


def _init_worker(policy_json: dict[str, Any], secret: bytes, parent_pid: int) -> None:
    global _worker_engine
    from stockade.core import offline

    die_with_parent(parent_pid)

    offline.activate()
    _worker_engine = PrivacyEngine(PrivacyPolicy.model_validate(policy_json), secret)


def _process_chunk(kind: str, lines: list[str], transform: bool) -> tuple[list[str], dict[str, Any]]:
    assert _worker_engine is not None
    report = ScanReport()
    processor = LINE_PROCESSORS[kind]
    return [processor(line, _worker_engine, report, transform=transform) for line in lines], report.to_dict()


def _chunks(path: Path) -> Iterator[list[str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        chunk: list[str] = []
        size = 0
        for line in handle:
            chunk.append(line)
            size += len(line)
            if size >= CHUNK_BYTES:
                yield chunk
                chunk, size = [], 0
        if chunk:
            yield chunk


def default_workers(path: Path) -> int:
    return max(1, os.cpu_count() or 1) if path.stat().st_size >= PARALLEL_MIN_BYTES else 1


def process_file(
    kind: str, source: Path, engine: PrivacyEngine, *, output: Path | None, workers: int | None = None
) -> ScanReport:
    """Scan ``source`` line by line; with ``output``, also write the desensitized file there."""
    report = ScanReport()
    workers = workers or default_workers(source)
    transform = output is not None
    # the output may still hold personal data (a scan's staging): readable by its owner only
    sink = open_private(output, "w", encoding="utf-8", newline="") if output else None
    try:
        if workers == 1:
            processor = LINE_PROCESSORS[kind]
            for chunk in _chunks(source):
                lines = [processor(line, engine, report, transform=transform) for line in chunk]
                if sink:
                    sink.writelines(lines)
        else:
            _parallel(kind, source, engine, report, sink, workers, transform)
        if sink:
            sink.flush()
            os.fsync(sink.fileno())
    finally:
        if sink:
            sink.close()
    return report


def _parallel(
    kind: str,
    source: Path,
    engine: PrivacyEngine,
    report: ScanReport,
    sink: TextIO | None,
    workers: int,
    transform: bool,
) -> None:
    policy_json = engine.policy.model_dump(mode="json")
    with ProcessPoolExecutor(
        workers, initializer=_init_worker, initargs=(policy_json, engine._secret, os.getpid())
    ) as pool:
        pending: deque[Future] = deque()
        for chunk in _chunks(source):
            pending.append(pool.submit(_process_chunk, kind, chunk, transform))
            if len(pending) >= 2 * workers:
                _drain_one(pending, report, sink)
        while pending:
            _drain_one(pending, report, sink)


def _drain_one(pending: deque[Future], report: ScanReport, sink: TextIO | None) -> None:
    lines, partial = pending.popleft().result()
    report.merge(ScanReport.from_dict(partial))
    if sink:
        sink.writelines(lines)
