"""Privacy services behind `data scan`, `data desensitize` and the import gate."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from stockade.audit.sink import AuditSink
from stockade.core.errors import ConfigError, StockadeError
from stockade.core.hashing import sha256_file
from stockade.core.ids import new_id
from stockade.privacy.engine import PrivacyEngine
from stockade.privacy.files import process_file
from stockade.privacy.gate import PolicyGate, describe_engine
from stockade.privacy.policy import PrivacyPolicy
from stockade.privacy.report import ScanReport, render_html

RAW_SUFFIXES = (".json", ".jsonl")


def _check_raw_input(path: Path) -> None:
    if not path.is_file():
        raise ConfigError("file not found", where=str(path), fix="check the path")
    if path.suffix.lower() not in RAW_SUFFIXES:
        raise ConfigError(
            f"{path.suffix or 'this file type'} is not supported here: only JSON and JSONL files are "
            "scanned and rewritten byte for byte",
            where=str(path),
            fix="convert it to JSONL first; `stockade data import` scans CSV and Parquet through the gate",
        )
    try:
        with path.open(encoding="utf-8") as handle:
            handle.read(1 << 16)
    except UnicodeDecodeError:
        raise ConfigError(
            "not UTF-8 text", where=str(path), fix="convert it first: iconv -f GBK -t UTF-8 IN > OUT"
        ) from None


def scan_file(path: Path, policy: PrivacyPolicy, *, workers: int | None = None) -> ScanReport:
    """Counts by type × field with masked samples. Reads only; needs no key."""
    _check_raw_input(path)
    engine = PrivacyEngine(policy, secret=b"")
    return describe_engine(process_file("raw", path, engine, output=None, workers=workers), engine)


def desensitize_file(
    sink: AuditSink,
    secret: bytes,
    source: Path,
    output: Path,
    policy: PrivacyPolicy,
    *,
    workers: int | None = None,
) -> ScanReport:
    """Write ``output``: ``source`` with personal data transformed and every other byte unchanged."""
    _check_raw_input(source)
    if output.exists():
        raise StockadeError(
            "the output file exists; refusing to overwrite it",
            where=str(output),
            fix="choose a new output path or delete the old file first",
        )
    if output.resolve() == source.resolve():
        raise StockadeError("output and input are the same file", where=str(output), fix="write a new file")
    output.parent.mkdir(parents=True, exist_ok=True)
    staging = output.with_name(f".{output.name}.{new_id()}.tmp")
    engine = PrivacyEngine(policy, secret)
    try:
        report = process_file("raw", source, engine, output=staging, workers=workers)
        os.chmod(staging, 0o600)
        staging.replace(output)
    finally:
        staging.unlink(missing_ok=True)
    describe_engine(report, engine)
    sink.record(
        "data.desensitize",
        str(output.resolve()),
        source_sha256=sha256_file(source),
        output_sha256=sha256_file(output),
        policy=policy.name,
        policy_sha256=report.policy_sha256,
        findings=report.by_type(),
    )
    return report


def write_report(report: ScanReport, path: Path, *, title: str) -> None:
    """``.html`` gets the self-contained page; anything else gets JSON."""
    if path.suffix.lower() in (".html", ".htm"):
        path.write_text(render_html(report, title=title), encoding="utf-8")
    else:
        path.write_text(json.dumps(report.to_dict(), ensure_ascii=False, indent=2), encoding="utf-8")


def import_gate(secret: bytes, policy: PrivacyPolicy, *, workers: int | None = None) -> PolicyGate:
    return PolicyGate(PrivacyEngine(policy, secret), workers=workers)


def report_of(verdict_report: dict[str, Any]) -> ScanReport:
    return ScanReport.from_dict(verdict_report)
