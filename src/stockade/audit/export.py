"""Export audit records between two times to JSONL or CSV (the export itself is audited).

API-call records carry ``model_version``, ``prompt_tokens``, ``completion_tokens`` and
``latency_ms`` in their details; CSV gives them their own columns.
"""

from __future__ import annotations

import csv
import json
import os
from datetime import datetime, timezone
from pathlib import Path

from stockade.audit.log import AuditLog, record_as_dict
from stockade.audit.sink import AuditSink
from stockade.core.errors import StockadeError
from stockade.core.workspace import SECRET_FILE_MODE

FORMATS = ("jsonl", "csv")
API_FIELDS = ("model_version", "prompt_tokens", "completion_tokens", "latency_ms")
CSV_COLUMNS = (
    "seq",
    "ts",
    "actor",
    "role",
    "source",
    "action",
    "target",
    "result",
    "request_id",
    "reason",
    *API_FIELDS,
    "details",
    "prev_hash",
    "hash",
)


def parse_time(text: str | None, *, option: str) -> str | None:
    """``2026-11-01`` or ``2026-11-01T08:00:00+08:00`` → the log's UTC form (naive means UTC)."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise StockadeError(
            f"not a date or time: {text!r}", where=option, fix="use 2026-11-01 or 2026-11-01T08:00:00+08:00"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def export_records(
    log: AuditLog,
    sink: AuditSink,
    out: Path,
    *,
    fmt: str = "jsonl",
    since: str | None = None,
    until: str | None = None,
) -> int:
    """Write records with ``since <= ts < until`` to a new 0600 file ``out``; returns how many."""
    if fmt not in FORMATS:
        raise StockadeError(f"unknown format {fmt!r}", where="--format", fix=f"use {' or '.join(FORMATS)}")
    start, end = parse_time(since, option="--since"), parse_time(until, option="--until")
    try:
        descriptor = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, SECRET_FILE_MODE)
    except FileExistsError:
        raise StockadeError("the file exists", where=str(out), fix="choose a new file name") from None
    count = 0
    with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, CSV_COLUMNS) if fmt == "csv" else None
        if writer is not None:
            writer.writeheader()
        for record in log.between(start, end):
            data = record_as_dict(record)
            if writer is None:
                handle.write(json.dumps(data, ensure_ascii=False) + "\n")
            else:
                row = {key: data.get(key) for key in CSV_COLUMNS if key not in API_FIELDS}
                row.update({key: data["details"].get(key) for key in API_FIELDS})
                row["details"] = json.dumps(data["details"], ensure_ascii=False, sort_keys=True)
                writer.writerow(row)
            count += 1
        handle.flush()
        os.fsync(handle.fileno())
    sink.record("audit.export", str(out), format=fmt, since=start, until=end, records=count)
    return count
