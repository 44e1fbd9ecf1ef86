"""`stockade data import`: validate → privacy gate → store a version, in one streaming pass.

Memory stays bounded whatever the file size: records are read, validated, normalized and written
to a staging file one at a time; hashes and statistics are streaming too. Nothing is stored when
any record is invalid (unless ``skip_invalid``), and identical content is a no-op.

Raw records never reach the disk in plaintext before the gate has run: the staging file is encrypted
with a key made for this import and held only in memory (:class:`stockade.storage.sealed.SealedFile`),
destroyed when the import ends. Plaintext is written only into the version folder, after the gate.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from stockade.audit.log import utc_now
from stockade.audit.sink import AuditSink
from stockade.core.errors import StockadeError
from stockade.core.hashing import canonical_json, sha256_file
from stockade.core.references import parse_versioned_name
from stockade.data.readers import DatasetSource, read_records
from stockade.data.records import LEARNED_ROLES, Record, RecordProblem
from stockade.data.statistics import LengthStatistics
from stockade.data.token_counter import TokenCounter
from stockade.data.versions import (
    DATA_FILE,
    MANIFEST_FILE,
    VersionView,
    latest_active,
    next_version_number,
    version_folder,
)
from stockade.privacy.verdict import GateVerdict, PrivacyGate
from stockade.storage.sealed import SealedFile
from stockade.storage.staging import commit_marker, crash_window, make_staging_folder
from stockade.storage.tables import DatasetVersion

PRIVACY_REPORT_JSON = "privacy-report.json"
PRIVACY_REPORT_HTML = "privacy-report.html"
PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
TOKEN_BATCH = 2000
STAGING_FOLDER = ".staging"  # datasets/.staging/import-HOST-PID-xxxx: raw records before the gate
STAGING_PREFIX = "import-"
STAGED_FILE = "records.sealed"  # the staged records, encrypted (storage.sealed)


class DataValidationFailed(StockadeError):
    """Some records are invalid; nothing was stored."""

    def __init__(self, source: str, problems: list[RecordProblem], total: int) -> None:
        self.problems = problems
        self.total = total
        shown = "\n  - ".join(problem.render() for problem in problems)
        more = f"\n  ... and {total - len(problems)} more" if total > len(problems) else ""
        super().__init__(
            f"{total} invalid record{'s' if total != 1 else ''}; nothing was imported:\n  - {shown}{more}",
            where=source,
            fix="correct these records, or pass --skip-invalid to import only the valid ones (recorded so)",
        )


class PrivacyBlocked(StockadeError):
    """The privacy gate refused the data (policy mode ``block``); nothing was stored."""

    def __init__(self, where: str, verdict: GateVerdict) -> None:
        self.verdict = verdict
        found = ", ".join(f"{kind} {count}" for kind, count in verdict.report.get("by_type", {}).items())
        super().__init__(
            f"personal data found ({found}); the policy {verdict.policy!r} blocks it, nothing was imported",
            where=where,
            fix="desensitize it first (`stockade data desensitize`), or import with the desensitize policy",
        )


class ImportContext(AuditSink, Protocol):
    """What the data services need from an open workspace (see ``workspace.service``)."""

    engine: Engine


@dataclass
class ImportRequest:
    name: str
    source: DatasetSource
    datasets_root: Path
    actor: str
    gate: PrivacyGate
    skip_invalid: bool = False
    max_problems: int = 20
    tokenizer: Path | None = None
    allow_reason: str | None = None  # required when the gate allows personal data through unchanged
    provenance: dict[str, Any] = field(default_factory=dict)


@dataclass
class ImportOutcome:
    version: VersionView
    created: bool  # False: identical to the latest version, nothing stored
    skipped: int
    problems: list[RecordProblem]


@dataclass
class _Pass:
    """Everything one streaming pass over the records collects."""

    rows: int = 0
    problems: list[RecordProblem] = field(default_factory=list)
    problem_count: int = 0
    prompt_chars: LengthStatistics = field(default_factory=LengthStatistics)
    answer_chars: LengthStatistics = field(default_factory=LengthStatistics)
    prompt_tokens: LengthStatistics = field(default_factory=LengthStatistics)
    answer_tokens: LengthStatistics = field(default_factory=LengthStatistics)
    turns: LengthStatistics = field(default_factory=LengthStatistics)
    kinds: dict[str, int] = field(
        default_factory=dict
    )  # records by kind (conversation, text, preference, kto)


def _check_name(name: str) -> None:
    parsed, version = parse_versioned_name(name, what="dataset name")
    if version is not None or parsed != name:
        raise StockadeError(
            f"dataset name {name!r} must not carry a version",
            fix="versions are assigned on import; pass --name finance (it becomes finance@v1, @v2, ...)",
        )


def _stage(request: ImportRequest, staged: SealedFile, progress: Callable[[int], None] | None) -> _Pass:
    result = _Pass()
    counter = TokenCounter(request.tokenizer) if request.tokenizer else None
    pending: list[Record] = []

    def count_tokens() -> None:
        for prompt, answer in counter.count(pending):
            result.prompt_tokens.add(prompt)
            result.answer_tokens.add(answer)
        pending.clear()

    with staged.writer() as out:
        for item in read_records(request.source):
            if isinstance(item, RecordProblem):
                result.problem_count += 1
                if len(result.problems) < request.max_problems:
                    result.problems.append(item)
                continue
            out.write(canonical_json(item.to_json()) + "\n")
            result.rows += 1
            prompt = sum(len(t.content) for t in item.messages if t.role not in LEARNED_ROLES)
            result.prompt_chars.add(prompt)
            result.answer_chars.add(sum(len(t.content) for t in item.messages if t.role in LEARNED_ROLES))
            result.turns.add(item.turn_pairs)
            kind = getattr(item, "kind", "conversation")
            result.kinds[kind] = result.kinds.get(kind, 0) + 1
            if counter is not None:
                pending.append(item)
                if len(pending) >= TOKEN_BATCH:
                    count_tokens()
            if progress is not None and result.rows % 10_000 == 0:
                progress(result.rows)
        if counter is not None and pending:
            count_tokens()
    return result


def _statistics(collected: _Pass, tokenizer: Path | None) -> dict[str, Any]:
    stats: dict[str, Any] = {
        "turn_pairs": collected.turns.summary(),
        "prompt_chars": collected.prompt_chars.summary(),
        "answer_chars": collected.answer_chars.summary(),
    }
    if set(collected.kinds) - {"conversation"}:  # stage pt/dpo/kto data: say what it holds
        stats["records"] = dict(sorted(collected.kinds.items()))
    if tokenizer is not None:
        stats["tokenizer"] = str(tokenizer)
        stats["prompt_tokens"] = collected.prompt_tokens.summary()
        stats["answer_tokens"] = collected.answer_tokens.summary()
    return stats


def _source_hashes(source: DatasetSource) -> list[dict[str, Any]]:
    return [{"path": str(p), "sha256": sha256_file(p), "bytes": p.stat().st_size} for p in source.paths]


def import_dataset(
    context: ImportContext, request: ImportRequest, *, progress: Callable[[int], None] | None = None
) -> ImportOutcome:
    """Import one source as the next version of ``request.name`` (or find it unchanged)."""
    _check_name(request.name)
    # raw records are staged before the gate, encrypted under a key held only in memory, in a private
    # folder named after this process: a kill -9 leaves ciphertext that the next workspace open removes
    staging = make_staging_folder(request.datasets_root / STAGING_FOLDER, STAGING_PREFIX)
    staged = SealedFile(staging / STAGED_FILE)
    try:
        collected = _stage(request, staged, progress)
        crash_window("dataset.staging")  # every record staged (sealed), the gate not yet run
        where = ", ".join(str(p) for p in request.source.paths)
        if collected.problem_count and not request.skip_invalid:
            raise DataValidationFailed(where, collected.problems, collected.problem_count)
        if collected.rows == 0:
            raise StockadeError("no valid records", where=where, fix="check the file and its --format")
        verdict: GateVerdict = request.gate.inspect(staged, dataset=request.name)
        if verdict.status == "refused":
            raise PrivacyBlocked(where, verdict)
        if verdict.status == "allowed" and not (request.allow_reason or "").strip():
            raise StockadeError(
                "personal data found and the policy allows it unchanged, which needs a recorded reason",
                where=where,
                fix="pass --reason 'why this data may keep personal data' (it goes to the audit log)",
            )
        assert staged.sha256 is not None  # written by _stage (or the gate's desensitized records)
        content_sha256 = staged.sha256
        with Session(context.engine) as session:
            latest = latest_active(session, request.name)
            if latest is not None and latest.content_sha256 == content_sha256:
                return ImportOutcome(
                    VersionView.of(latest), False, collected.problem_count, collected.problems
                )
        return _store(context, request, staged, collected, verdict, content_sha256)
    finally:
        staged.destroy()
        shutil.rmtree(staging, ignore_errors=True)


def _store(
    context: ImportContext,
    request: ImportRequest,
    staged: SealedFile,
    collected: _Pass,
    verdict: GateVerdict,
    content_sha256: str,
) -> ImportOutcome:
    sources = _source_hashes(request.source)
    provenance = {
        **request.provenance,
        "format": request.source.formatting,
        "encoding": request.source.encoding,
        "skipped_invalid": collected.problem_count,
    }
    with ExitStack() as marked, Session(context.engine) as session, session.begin():
        version = next_version_number(session, request.name)
        folder = version_folder(request.datasets_root, request.name, version)
        # until the row is committed, a marker says this process is placing vN (an orphan if it dies)
        marked.enter_context(commit_marker(folder.parent, version))
        marked.callback(crash_window, "dataset.commit")  # runs after the commit, before the marker goes
        row = DatasetVersion(
            name=request.name,
            version=version,
            created_at=utc_now(),
            created_by=request.actor,
            status="active",
            content_sha256=content_sha256,
            rows=collected.rows,
            path=str(folder.relative_to(request.datasets_root.parent) / DATA_FILE),
            sources=canonical_json(sources),
            stats=canonical_json(_statistics(collected, request.tokenizer)),
            provenance=canonical_json(provenance),
            privacy=canonical_json(verdict.model_dump()),
        )
        session.add(row)
        try:
            session.flush()
        except IntegrityError:
            raise StockadeError(
                f"another import of {request.name!r} stored version {version} first",
                fix="run the import again; identical content will be recognised",
            ) from None
        view = VersionView.of(row)
        try:
            _place_files(staged, folder, view)
            if verdict.status == "allowed":
                context.record(
                    "privacy.allow",
                    view.ref,
                    session=session,
                    reason=request.allow_reason,
                    policy=verdict.policy,
                    findings=verdict.report.get("by_type", {}),
                )
            context.record(
                "dataset.import",
                view.ref,
                session=session,
                rows=view.rows,
                content_sha256=content_sha256,
                sources=[
                    {"sha256": s["sha256"], "bytes": s["bytes"], "file": Path(s["path"]).name}
                    for s in sources
                ],
                privacy=verdict.status,
                skipped_invalid=collected.problem_count,
            )
            crash_window("dataset.rename")
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)  # the transaction rolls back: leave no orphan files
            raise
    return ImportOutcome(view, True, collected.problem_count, collected.problems)


def _place_files(staged: SealedFile, folder: Path, view: VersionView) -> None:
    folder.mkdir(parents=True, mode=PRIVATE_DIR)
    os.chmod(folder.parent, PRIVATE_DIR)
    staged.decrypt_to(folder / DATA_FILE)  # 0600; the records as the gate left them
    manifest = folder / MANIFEST_FILE
    manifest.write_text(json.dumps(view.as_dict(), ensure_ascii=False, indent=2), encoding="utf-8")
    os.chmod(manifest, PRIVATE_FILE)
    if view.privacy.get("report"):
        from stockade.privacy.report import ScanReport, render_html

        report = ScanReport.from_dict(view.privacy["report"])
        (folder / PRIVACY_REPORT_JSON).write_text(
            json.dumps(report.to_dict(), ensure_ascii=False, indent=2), encoding="utf-8"
        )
        (folder / PRIVACY_REPORT_HTML).write_text(
            render_html(report, title=f"Privacy scan of {view.ref}"), encoding="utf-8"
        )
