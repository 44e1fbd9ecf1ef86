"""``backup verify`` and ``backup restore``: check every member, then rebuild a workspace and prove it whole.

A restore writes into a private staging folder beside the target, checks every member's hash as it is
written, then opens the result and verifies it: the audit chain and its signed checkpoints, the audit head
and record counts against the backup's manifest, every dataset version's hash and every model version's
manifest. Only then (and after ``authorize``: the admin logs in to the restored workspace) is
``backup.restore`` recorded and the folder moved into place. A failure leaves nothing behind.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from stockade.core.errors import StockadeError
from stockade.core.hashing import sha256_file
from stockade.core.workspace import DATABASE_FILE, DIRECTORY_MODE, FOLDERS, SETTINGS_FILE
from stockade.operations.archive import OpenArchive, open_archive
from stockade.operations.backup import KEYS_FOLDER, SECRETS_MEMBER, WORKSPACE_PREFIX, ProgressFactory
from stockade.operations.sealing import unseal
from stockade.operations.snapshot import (
    COUNTED,
    copy_sqlite_into,
    ensure_empty,
    load_postgres_dump,
)
from stockade.storage.database import engine_url_safe

Authorize = Callable[[Any], None]  # called with the restored workspace's context; raises to refuse


_UP_TO_HEAD = {"audit_records": " WHERE seq <= :seq", "audit_checkpoints": " WHERE seq <= :seq"}


def _count(connection: Any, table: str, head_seq: int) -> int:
    query = f"SELECT COUNT(*) FROM {table}{_UP_TO_HEAD.get(table, '')}"  # noqa: S608 - names from COUNTED
    return int(connection.execute(text(query), {"seq": head_seq}).scalar() or 0)


class RestoreFailed(StockadeError):
    """The archive was intact but the restored workspace does not verify."""


@dataclass
class VerifiedArchive:
    path: Path
    manifest: dict[str, Any]
    members: int
    bytes: int


@dataclass
class RestoreResult:
    root: Path
    database: str
    archive_database: str
    checks: list[tuple[str, str]] = field(default_factory=list)  # (what, outcome)
    weights_not_in_backup: list[str] = field(default_factory=list)
    manifest: dict[str, Any] = field(default_factory=dict)


def _no_progress(_phase: str, _total: int) -> Callable[[int], None]:
    return lambda _done: None


def verify_backup(path: Path, progress: ProgressFactory | None = None) -> VerifiedArchive:
    """Check the index against the manifest and every member's SHA-256 and size (no passphrase needed)."""
    progress = progress or _no_progress
    with open_archive(path) as archive:
        total = sum(member.bytes for member in archive.members.values())
        archive.verify_all(progress("verifying", total))
        return VerifiedArchive(archive.path, archive.manifest, len(archive.members), total)


def _check_target(into: Path) -> None:
    if into.exists() and not into.is_dir():
        raise StockadeError("exists and is not a folder", where=str(into), fix="choose a new or empty folder")
    if into.is_dir() and any(into.iterdir()):
        raise StockadeError(
            "the folder is not empty: a restore only writes into an empty or new folder",
            where=str(into),
            fix="choose a new folder (restore never overwrites or mixes into existing files)",
        )


def _database_target(archive_kind: str, database_url: str | None) -> str:
    if database_url is None:
        if archive_kind != "sqlite":
            raise StockadeError(
                "this backup holds a PostgreSQL database: it restores into a PostgreSQL database",
                where="--database-url",
                fix="create an empty database (createdb NAME) and pass "
                "--database-url postgresql+psycopg://USER:PASSWORD@HOST/NAME",
            )
        return "sqlite"
    dialect = make_url(database_url).get_backend_name() if "://" in database_url else ""
    if dialect != "postgresql":
        raise StockadeError(
            f"--database-url must name a PostgreSQL database (got {engine_url_safe(database_url)})",
            where="--database-url",
            fix="leave it out to restore into SQLite inside the folder",
        )
    ensure_empty(database_url)
    return "postgresql"


def _safe_target(root: Path, relative: str, where: str) -> Path:
    pure = PurePosixPath(relative)
    if not relative or pure.is_absolute() or ".." in pure.parts:
        raise StockadeError(
            "a member's path leaves the workspace", where=where, fix="use another copy of the backup"
        )
    return root.joinpath(*pure.parts)


def _write_member(archive: OpenArchive, name: str, target: Path, advance: Callable[[int], None]) -> None:
    target.parent.mkdir(parents=True, exist_ok=True, mode=DIRECTORY_MODE)
    descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        archive.stream(name, handle.write, advance)
        handle.flush()
        os.fsync(handle.fileno())


def _write_keys(keys_tar: bytes, root: Path, where: str) -> int:
    count = 0
    with tarfile.open(fileobj=io.BytesIO(keys_tar), mode="r:") as tar:
        for entry in tar.getmembers():
            if not entry.isreg() or not entry.name.startswith(KEYS_FOLDER + "/"):
                raise StockadeError(f"unexpected entry {entry.name} among the keys", where=where)
            target = _safe_target(root, entry.name, where)
            target.parent.mkdir(parents=True, exist_ok=True, mode=DIRECTORY_MODE)
            handle = tar.extractfile(entry)
            assert handle is not None
            descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "wb") as out:
                out.write(handle.read())
            count += 1
    return count


def _set_database_url(root: Path, database_url: str | None) -> None:
    path = root / SETTINGS_FILE
    value = "null" if database_url is None else json.dumps(database_url)
    text_ = path.read_text(encoding="utf-8")
    text_, replaced = re.subn(
        r"^database_url:.*$", f"database_url: {value}", text_, count=1, flags=re.MULTILINE
    )
    if not replaced:
        text_ = f"database_url: {value}\n" + text_
    path.write_text(text_, encoding="utf-8")


def restore_backup(
    archive_path: Path,
    into: Path,
    *,
    passphrase: str,
    authorize: Authorize,
    database_url: str | None = None,
    progress: ProgressFactory | None = None,
) -> RestoreResult:
    """Restore ``archive_path`` into the empty or new folder ``into`` (see the module docstring)."""
    progress = progress or _no_progress
    into = into.expanduser().resolve()
    _check_target(into)
    with open_archive(archive_path) as archive:
        manifest = archive.manifest
        archive_kind = manifest["database"]["kind"]
        target_kind = _database_target(archive_kind, database_url)
        keys_tar = unseal(archive.read(SECRETS_MEMBER), passphrase, where=archive.where(SECRETS_MEMBER))
        into.parent.mkdir(parents=True, exist_ok=True)
        staging = into.parent / f".{into.name}.restoring-{os.getpid()}"
        staging.mkdir(mode=DIRECTORY_MODE)
        loaded_database = False
        try:
            result = RestoreResult(into, target_kind, archive_kind, manifest=manifest)
            total = sum(m.bytes for name, m in archive.members.items() if name != SECRETS_MEMBER)
            advance = progress("restoring", total)
            for folder in FOLDERS:
                (staging / folder).mkdir(mode=DIRECTORY_MODE, exist_ok=True)
            for name in archive.members:
                if name.startswith(WORKSPACE_PREFIX):
                    target = _safe_target(staging, name[len(WORKSPACE_PREFIX) :], archive.where(name))
                    _write_member(archive, name, target, advance)
            result.checks.append(
                ("keys", f"{_write_keys(keys_tar, staging, archive.where(SECRETS_MEMBER))} files")
            )
            _set_database_url(staging, database_url)
            database_member = manifest["database"]["member"]
            if target_kind == "sqlite":
                _write_member(archive, database_member, staging / DATABASE_FILE, advance)
            else:
                scratch = staging / f".restore-{PurePosixPath(database_member).name}"
                _write_member(archive, database_member, scratch, advance)
                loaded_database = True
                if archive_kind == "postgresql":
                    load_postgres_dump(scratch, database_url or "")
                else:
                    copy_sqlite_into(scratch, database_url or "", manifest["database"]["schema_revision"])
                scratch.unlink()
            _verify_and_record(staging, into, archive, result, authorize)
            if into.exists():
                into.rmdir()  # empty (checked above)
            os.replace(staging, into)
            return result
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            if loaded_database and database_url:
                _empty_database(database_url)
            raise


def _empty_database(url: str) -> None:
    """Drop what a failed restore created in the (formerly empty) target database."""
    from stockade.storage import governance_tables, model_tables, security_tables, tables  # noqa: F401
    from stockade.storage.database import Base, make_engine

    engine = make_engine(url)
    try:
        Base.metadata.drop_all(engine)
        with engine.begin() as connection:
            connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
    except Exception:  # noqa: S110 - best effort; the original error is what the user needs
        pass
    finally:
        engine.dispose()


def _verify_and_record(
    staging: Path, into: Path, archive: OpenArchive, result: RestoreResult, authorize: Authorize
) -> None:
    from stockade.storage.migrate import head_revision
    from stockade.workspace.service import Actor, initialize_workspace, open_workspace

    manifest = result.manifest
    if manifest["database"]["schema_revision"] != head_revision():
        initialize_workspace(staging, actor=Actor.os_user())  # migrates (audited as workspace.upgrade)
    with open_workspace(staging, actor=Actor.os_user()) as context:
        problems = verify_restored(context, manifest, result)
        if problems:
            raise RestoreFailed(
                "the restored workspace does not verify:\n    " + "\n    ".join(problems),
                where=str(archive.path),
                fix="the archive's members are intact, so the workspace was already damaged when it was "
                "backed up: restore an older backup, or report this; nothing was restored",
            )
        authorize(context)
        context.record(
            "backup.restore",
            str(into),
            archive=str(archive.path),
            source_workspace=manifest.get("source_workspace"),
            backup_created_at=manifest.get("created_at"),
            database=result.database,
            audit_head_seq=manifest["audit_head"]["seq"],
            audit_head_hash=manifest["audit_head"]["hash"],
            checks=dict(result.checks),
            weights_not_in_backup=len(result.weights_not_in_backup),
        )


def verify_restored(context: Any, manifest: dict[str, Any], result: RestoreResult) -> list[str]:
    """Every check a restore makes; returns the problems (empty: the workspace is whole)."""
    from stockade.audit import verify_chain
    from stockade.audit.checkpoints import CheckpointVerifier
    from stockade.models.store.service import diff_files
    from stockade.models.store.weights import WEIGHT_SUFFIXES
    from stockade.storage.model_tables import EvalReport, ModelVersion
    from stockade.storage.tables import AuditRecord, DatasetVersion

    root: Path = context.workspace.root
    problems: list[str] = []
    verifier = CheckpointVerifier.for_workspace(root)
    chain = verify_chain(context.audit, verifier)
    if chain.ok and chain.checkpoints and verifier is None:
        chain.ok, chain.problem = (
            False,
            "checkpoints exist but the audit public key (pki/audit-signing.pub) is missing",
        )
    if chain.ok:
        result.checks.append(
            ("audit chain", f"{chain.checked} records, {chain.checkpoints} signed checkpoints")
        )
    else:
        problems.append(f"audit log: {chain.problem}")
    head = manifest["audit_head"]
    with context.engine.connect() as connection:
        # audit tables: up to the backed-up head (a migration on restore may append workspace.upgrade)
        counts = {table: _count(connection, table, head["seq"]) for table in COUNTED}
    for table, expected in manifest["counts"].items():
        if counts.get(table) != expected:
            problems.append(f"table {table}: {counts.get(table)} rows, the backup's manifest says {expected}")
    with Session(context.engine) as session:
        record = session.get(AuditRecord, head["seq"]) if head["seq"] else None
        if head["seq"] and (record is None or record.hash != head["hash"]):
            problems.append(
                f"audit record #{head['seq']} is not the head the backup recorded ({head['hash'][:16]}…)"
            )
        else:
            result.checks.append(("audit head", f"#{head['seq']} {head['hash'][:16]}…"))
        datasets = session.scalars(select(DatasetVersion).where(DatasetVersion.status == "active")).all()
        for row in datasets:
            path = root / row.path
            if not path.is_file():
                problems.append(f"dataset {row.name}@v{row.version}: {row.path} is missing")
            elif sha256_file(path) != row.content_sha256:
                problems.append(f"dataset {row.name}@v{row.version}: {row.path} does not match its SHA-256")
        result.checks.append(("dataset versions", f"{len(datasets)} hashes"))
        models = session.scalars(select(ModelVersion).where(ModelVersion.status == "active")).all()
        outside = [row for row in models if Path(row.path).is_absolute()]  # registered in place, not archived
        for row in models:
            ref = f"{row.name}@v{row.version}"
            if row in outside:
                continue
            diff = diff_files(root, row)
            missing_weights = [
                f"{row.path}/{name}"
                for name in diff.removed
                if name.lower().endswith(WEIGHT_SUFFIXES) and not manifest.get("include_weights")
            ]
            result.weights_not_in_backup += missing_weights
            other = [name for name in diff.removed if f"{row.path}/{name}" not in missing_weights]
            if diff.changed or diff.added or other:
                diff.removed = other
                problems.append(f"model {ref}: {diff.describe()}")
        result.checks.append(
            (
                "model manifests",
                f"{len(models) - len(outside)} versions"
                + ("" if manifest.get("include_weights") else ", weights not in the backup")
                + (
                    f"; {len(outside)} registered in place outside the workspace, not checked"
                    if outside
                    else ""
                ),
            )
        )
        for report in session.scalars(select(EvalReport)).all():
            path = root / report.path
            if not path.is_file() or sha256_file(path) != report.sha256:
                problems.append(f"evaluation report {report.id}: {report.path} is missing or changed")
    return problems
