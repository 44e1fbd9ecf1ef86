"""``backup create``: one consistent, checksummed archive of a workspace that may be in use.

Order matters for consistency: the database is copied first (one committed state), then exactly the
files its rows point to (dataset, model and run folders are immutable once registered) and the rest of
the workspace's own files. Keys (``pki/``) are sealed with a passphrase that is never stored. The audit
record ``backup.create`` is written after the copy, so it is in the live log, not in the archive.
"""

from __future__ import annotations

import io
import re
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import stockade
from stockade.audit.log import utc_now
from stockade.core.errors import StockadeError
from stockade.core.hashing import sha256_bytes
from stockade.core.workspace import DATABASE_FILE, SETTINGS_FILE
from stockade.models.store.weights import WEIGHT_SUFFIXES
from stockade.operations.archive import FORMAT, FORMAT_VERSION, ArchiveWriter
from stockade.operations.sealing import check_passphrase, seal
from stockade.operations.snapshot import Facts, facts_as_dict, snapshot_postgres, snapshot_sqlite

ProgressFactory = Callable[[str, int], Callable[[int], None]]
SECRETS_MEMBER = "secrets.tar.sealed"
WORKSPACE_PREFIX = "workspace/"
KEYS_FOLDER = "pki"
# never archived: the live database files (a consistent copy is) and the login session (a credential)
SKIPPED_ROOT_FILES = {
    DATABASE_FILE,
    f"{DATABASE_FILE}-wal",
    f"{DATABASE_FILE}-shm",
    f"{DATABASE_FILE}-journal",
    "session.token",  # governance.sessions.LEGACY_SESSION_FILE (L3; not imported from L2)
}
SKIPPED_ROOT_FOLDERS = {"sessions"}  # governance.sessions.SESSIONS_FOLDER: login tokens, per terminal
STORE_FOLDERS = ("datasets", "models", "runs")  # their files are archived only when a row owns them
DATABASE_URL_LINE = re.compile(r"^database_url:.*$", re.MULTILINE)


def _no_progress(_phase: str, _total: int) -> Callable[[int], None]:
    return lambda _done: None


@dataclass
class BackupResult:
    path: Path
    members: int
    bytes: int
    database: str
    counts: dict[str, int]
    head_seq: int
    head_hash: str
    omitted: list[dict[str, str]]
    manifest_sha256: str


@dataclass
class _Plan:
    files: list[tuple[str, Path, str]]  # (relative path, file, kind)
    keys: list[tuple[str, Path]]
    omitted: list[dict[str, str]]


def redact_settings(text: str) -> str:
    """The settings file with ``database_url`` emptied: a URL may hold a password, and a restore names
    its own database (``--database-url``) anyway."""
    return DATABASE_URL_LINE.sub(
        "database_url: null  # set by `stockade backup restore` (the backed-up URL is not archived)",
        text,
        count=1,
    )


def _is_weight(relative: str) -> bool:
    return relative.lower().endswith(WEIGHT_SUFFIXES)


def plan_files(root: Path, facts: Facts, include_weights: bool) -> _Plan:
    """Which files go in (and which are left out, with the reason)."""
    owned = facts.owned_folders()
    plan = _Plan([], [], [])
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        parts = relative.split("/")
        if path.is_symlink():
            plan.omitted.append({"path": relative, "reason": "symbolic link (never followed)"})
            continue
        if not path.is_file():
            continue
        if (len(parts) == 1 and relative in SKIPPED_ROOT_FILES) or parts[0] in SKIPPED_ROOT_FOLDERS:
            continue
        if parts[0] == KEYS_FOLDER:
            plan.keys.append((relative, path))
            continue
        if parts[0] in STORE_FOLDERS and len(parts) > 2:  # models/safety-policy.yaml is a workspace file
            if any(part.startswith(".") for part in parts):
                continue  # staging folders and commit markers of work in progress
            if not any(relative.startswith(folder + "/") for folder in owned):
                plan.omitted.append(
                    {"path": relative, "reason": "no database row owns it (in progress, or left over)"}
                )
                continue
            if _is_weight(relative) and not include_weights:
                plan.omitted.append({"path": relative, "reason": "weights (back up with --include-weights)"})
                continue
            plan.files.append((relative, path, "weights" if _is_weight(relative) else "file"))
            continue
        plan.files.append((relative, path, "settings" if relative == SETTINGS_FILE else "file"))
    return plan


def _sealed_keys(keys: list[tuple[str, Path]], passphrase: str) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for relative, path in keys:
            data = path.read_bytes()
            info = tarfile.TarInfo(relative)
            info.size, info.mode = len(data), 0o600
            tar.addfile(info, io.BytesIO(data))
    return seal(buffer.getvalue(), passphrase)


def create_backup(
    context: Any,
    out: Path,
    *,
    passphrase: str,
    include_weights: bool = False,
    progress: ProgressFactory | None = None,
) -> BackupResult:
    """Write the archive ``out`` (a new file, 0600) and record ``backup.create``. The caller has checked the
    ``backup.create`` permission (``governance.roles.require``), as every command does first."""
    progress = progress or _no_progress
    out = out.expanduser().resolve()
    root: Path = context.workspace.root
    check_passphrase(passphrase, where="backup passphrase")
    if out.exists():
        raise StockadeError(
            "the output file exists",
            where=str(out),
            fix="choose a new file name; backups are never overwritten",
        )
    if not out.parent.is_dir():
        raise StockadeError("the output folder does not exist", where=str(out.parent), fix="create it first")
    if out.is_relative_to(root):
        raise StockadeError(
            "the backup would be written inside the workspace it backs up",
            where=str(out),
            fix="write it outside the workspace (ideally to another disk or machine)",
        )
    try:
        result = _write(context, root, out, passphrase, include_weights, progress)
    except StockadeError as exc:
        context.record("backup.create", str(out), result="error", reason=exc.what)
        raise
    context.record(
        "backup.create",
        str(out),
        manifest_sha256=result.manifest_sha256,
        members=result.members,
        bytes=result.bytes,
        database=result.database,
        include_weights=include_weights,
        audit_head_seq=result.head_seq,
        audit_head_hash=result.head_hash,
        omitted=len(result.omitted),
    )
    return result


def _write(
    context: Any, root: Path, out: Path, passphrase: str, include_weights: bool, progress: ProgressFactory
) -> BackupResult:
    kind = context.engine.dialect.name
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".stockade-backup-") as scratch:
        if kind == "sqlite":
            database_file = Path(scratch) / DATABASE_FILE
            facts = snapshot_sqlite(root / DATABASE_FILE, database_file)
            database_member = f"database/{DATABASE_FILE}"
        elif kind == "postgresql":
            database_file = Path(scratch) / "stockade.pgdump"
            facts = snapshot_postgres(context.workspace.database_url, database_file)
            database_member = "database/stockade.pgdump"
        else:
            raise StockadeError(
                f"backups of a {kind} database are not supported", fix="use SQLite or PostgreSQL"
            )
        plan = plan_files(root, facts, include_weights)
        total = database_file.stat().st_size + sum(path.stat().st_size for _, path, _ in plan.files)
        writer = ArchiveWriter(out)
        try:
            advance = progress("archiving", total)
            writer.add_file(database_member, database_file, "database", advance)
            writer.add_bytes(SECRETS_MEMBER, _sealed_keys(plan.keys, passphrase), "secrets")
            for relative, path, member_kind in plan.files:
                if relative == SETTINGS_FILE:
                    text = redact_settings(path.read_text(encoding="utf-8"))
                    writer.add_bytes(WORKSPACE_PREFIX + relative, text.encode("utf-8"), member_kind)
                    advance(path.stat().st_size)
                else:
                    writer.add_file(WORKSPACE_PREFIX + relative, path, member_kind, advance)
            metadata = {
                "format": FORMAT,
                "format_version": FORMAT_VERSION,
                "stockade_version": stockade.__version__,
                "created_at": utc_now(),
                "created_by": context.actor.name,
                "source_workspace": str(root),
                "workspace_id": facts.workspace_id,
                "database": {"kind": kind, "member": database_member, "schema_revision": facts.revision},
                "counts": facts.counts,
                "audit_head": {"seq": facts.head_seq, "hash": facts.head_hash},
                "include_weights": include_weights,
                "secrets": {
                    "member": SECRETS_MEMBER,
                    "files": [relative for relative, _ in plan.keys],
                    "encryption": "scrypt(n=2^15,r=8,p=1) + AES-256-GCM",
                },
                "contents": {
                    key: facts_as_dict(facts)[key] for key in ("datasets", "models", "runs", "reports")
                },
                "omitted": plan.omitted,
            }
            manifest = writer.finish(metadata)
        except BaseException:
            writer.abort()
            raise
    return BackupResult(
        out,
        len(writer.members),
        out.stat().st_size,
        kind,
        facts.counts,
        facts.head_seq,
        facts.head_hash,
        plan.omitted,
        sha256_bytes(manifest),
    )
