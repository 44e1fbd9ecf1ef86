"""Run a line processor over a whole file, on every core for large files, in bounded memory.

Lines are grouped into chunks of about ``CHUNK_BYTES``; at most ``2 × workers`` chunks are in
flight, and results are written in input order. Each worker builds its engine once.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any, TextIO

from stockade.privacy.engine import PrivacyEngine
from stockade.privacy.lines import LINE_PROCESSORS
from stockade.privacy.policy import PrivacyPolicy
from stockade.privacy.report import ScanReport
from stockade.storage.staging import die_with_parent, open_private

CHUNK_BYTES = 4 * 1024 * 1024
PARALLEL_MIN_BYTES = 16 * 1024 * 1024

_worker_engine: PrivacyEngine | None = None


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


def _chunks(lines: Iterable[str]) -> Iterator[list[str]]:
    chunk: list[str] = []
    size = 0
    for line in lines:
        chunk.append(line)
        size += len(line)
        if size >= CHUNK_BYTES:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


def default_workers(size: int) -> int:
    """Every core for ``size`` bytes of input at or above :data:`PARALLEL_MIN_BYTES`, else one."""
    return max(1, os.cpu_count() or 1) if size >= PARALLEL_MIN_BYTES else 1


def process_file(
    kind: str, source: Path, engine: PrivacyEngine, *, output: Path | None, workers: int | None = None
) -> ScanReport:
    """Scan ``source`` line by line; with ``output``, also write the desensitized file there."""
    # the output may still hold personal data (a scan's staging): readable by its owner only
    with ExitStack() as stack:
        lines = stack.enter_context(source.open(encoding="utf-8", newline=""))
        sink = (
            stack.enter_context(open_private(output, "w", encoding="utf-8", newline="")) if output else None
        )
        report = process_lines(kind, lines, source.stat().st_size, engine, sink=sink, workers=workers)
        if sink:
            sink.flush()
            os.fsync(sink.fileno())
    return report


def process_lines(
    kind: str,
    lines: Iterable[str],
    size: int,
    engine: PrivacyEngine,
    *,
    sink: TextIO | None,
    workers: int | None = None,
) -> ScanReport:
    """Scan ``lines`` (``size`` bytes in all: it decides the default number of workers); with ``sink``,
    also write the desensitized lines there, in order."""
    report = ScanReport()
    workers = workers or default_workers(size)
    transform = sink is not None
    if workers == 1:
        processor = LINE_PROCESSORS[kind]
        for chunk in _chunks(lines):
            processed = [processor(line, engine, report, transform=transform) for line in chunk]
            if sink:
                sink.writelines(processed)
    else:
        _parallel(kind, lines, engine, report, sink, workers, transform)
    return report


def _parallel(
    kind: str,
    lines: Iterable[str],
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
        for chunk in _chunks(lines):
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
