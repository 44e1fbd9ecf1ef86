"""A consistent copy of the workspace database while it is in use, and loading one into a new database.

SQLite: the online backup API copies every page in one step under a read transaction (WAL readers never
block writers), so the copy is one committed state; the live file and its WAL are never copied.
PostgreSQL: a REPEATABLE READ transaction exports its snapshot; ``pg_dump --snapshot`` dumps exactly
that state (custom format) and the facts recorded in the manifest are read in the same transaction.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, create_engine, inspect, text
from sqlalchemy.engine import make_url

from stockade.core.errors import DatabaseError, DependencyMissing, StockadeError
from stockade.storage.database import engine_url_safe

COUNTED = (
    "audit_records",
    "audit_checkpoints",
    "dataset_versions",
    "model_versions",
    "training_runs",
    "eval_reports",
    "users",
)


@dataclass
class Facts:
    """What the snapshot holds: counts, the audit head, and the files its rows point to."""

    revision: str | None
    counts: dict[str, int]
    head_seq: int
    head_hash: str
    workspace_id: str | None
    datasets: list[dict[str, Any]] = field(default_factory=list)
    models: list[dict[str, Any]] = field(default_factory=list)
    runs: list[dict[str, Any]] = field(default_factory=list)
    reports: list[dict[str, Any]] = field(default_factory=list)

    def owned_folders(self) -> set[str]:
        """Workspace-relative folders the rows own (a dataset's file lives in its version folder)."""
        folders = {
            item["folder"]
            for group in (self.datasets, self.models, self.runs, self.reports)
            for item in group
        }
        return {folder for folder in folders if folder and not Path(folder).is_absolute()}


def _folder(path: str, is_file: bool) -> str:
    posix = Path(path).as_posix()
    return str(Path(posix).parent.as_posix()) if is_file else posix


def read_facts(connection: Connection) -> Facts:
    counts = {
        table: int(connection.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar() or 0)  # noqa: S608
        for table in COUNTED
    }
    head = connection.execute(text("SELECT seq, hash FROM audit_head WHERE id = 1")).first()
    first = connection.execute(text("SELECT hash FROM audit_records WHERE seq = 1")).scalar()
    revision = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    rows = connection.execute(
        text("SELECT name, version, path, content_sha256 FROM dataset_versions WHERE status = 'active'")
    )
    datasets = [
        {
            "ref": f"{r.name}@v{r.version}",
            "path": r.path,
            "sha256": r.content_sha256,
            "folder": _folder(r.path, True),
        }
        for r in rows
    ]
    rows = connection.execute(
        text("SELECT name, version, path, manifest_sha256 FROM model_versions WHERE status = 'active'")
    )
    models = [
        {
            "ref": f"{r.name}@v{r.version}",
            "path": r.path,
            "manifest_sha256": r.manifest_sha256,
            "folder": r.path,
        }
        for r in rows
    ]
    runs = [
        {"id": r.id, "status": r.status, "folder": r.path}
        for r in connection.execute(
            text("SELECT id, status, path FROM training_runs WHERE status != 'removed'")
        )
    ]
    reports = [
        {"id": r.id, "path": r.path, "sha256": r.sha256, "folder": _folder(r.path, True)}
        for r in connection.execute(text("SELECT id, path, sha256 FROM eval_reports"))
    ]
    return Facts(
        revision=revision,
        counts=counts,
        head_seq=int(head.seq) if head else 0,
        head_hash=head.hash if head else "",
        workspace_id=first,
        datasets=datasets,
        models=models,
        runs=runs,
        reports=reports,
    )


def snapshot_sqlite(database: Path, target: Path) -> Facts:
    """Copy the live SQLite database to ``target`` (0600) in one step; read the facts from the copy."""
    os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    source = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30)
    destination = sqlite3.connect(target)
    try:
        source.execute("PRAGMA busy_timeout=30000")
        source.backup(destination, pages=-1)  # one step: a single consistent read transaction
        destination.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
    except sqlite3.Error as exc:
        raise DatabaseError(
            f"cannot copy the SQLite database: {exc}",
            where=str(database),
            fix="check the file is readable and not damaged (`stockade doctor`)",
        ) from None
    finally:
        destination.close()
        source.close()
    engine = create_engine(f"sqlite:///{target}")
    try:
        with engine.connect() as connection:
            return read_facts(connection)
    finally:
        engine.dispose()


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise DependencyMissing(
            f"{name} is not installed; it is needed for a PostgreSQL workspace",
            where="PATH",
            fix=f"install the PostgreSQL client tools (Debian/Ubuntu: apt-get install postgresql-client; "
            f"RHEL: dnf install postgresql), at least the server's major version, so `{name}` is on PATH",
        )
    return path


def _libpq(url: str) -> tuple[list[str], dict[str, str]]:
    """Connection arguments for pg_dump/pg_restore; the password travels in the environment, never argv."""
    parsed = make_url(url)
    arguments = ["--dbname", parsed.database or ""]
    if parsed.host:
        arguments += ["--host", parsed.host]
    if parsed.port:
        arguments += ["--port", str(parsed.port)]
    if parsed.username:
        arguments += ["--username", parsed.username]
    environment = {**os.environ, "PGCONNECT_TIMEOUT": "30"}
    if parsed.password:
        environment["PGPASSWORD"] = str(parsed.password)
    return arguments, environment


def _run(command: list[str], environment: dict[str, str], url: str, what: str) -> None:
    done = subprocess.run(command, env=environment, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise DatabaseError(
            f"{what} failed: {done.stderr.strip()[-800:] or f'exit code {done.returncode}'}",
            where=engine_url_safe(url),
            fix="check that the server is running, the user may connect, and the client tools' major version "
            "is at least the server's",
        )


def snapshot_postgres(url: str, target: Path) -> Facts:
    """``pg_dump -Fc`` of the database as of one exported snapshot; the facts come from that snapshot."""
    pg_dump = _tool("pg_dump")
    engine = create_engine(url, isolation_level="REPEATABLE READ")
    try:
        with engine.connect() as connection, connection.begin():
            snapshot = connection.execute(text("SELECT pg_export_snapshot()")).scalar()
            facts = read_facts(connection)
            arguments, environment = _libpq(url)
            command = [pg_dump, "--format=custom", "--no-owner", "--no-privileges", f"--snapshot={snapshot}"]
            _run([*command, "--file", str(target), *arguments], environment, url, "pg_dump")
            os.chmod(target, 0o600)
            return facts
    finally:
        engine.dispose()


def ensure_empty(url: str) -> None:
    """Refuse a target database that already has tables (restore never mixes into existing data)."""
    engine = create_engine(url)
    try:
        tables = inspect(engine).get_table_names()
    except Exception as exc:
        raise DatabaseError(
            f"cannot reach the target database: {exc.__class__.__name__}: {exc}",
            where=engine_url_safe(url),
            fix="create an empty database first (createdb) and check the URL, user and password",
        ) from None
    finally:
        engine.dispose()
    if tables:
        raise StockadeError(
            f"the target database is not empty (it has {len(tables)} tables, e.g. {sorted(tables)[0]})",
            where=engine_url_safe(url),
            fix="restore into a new, empty database (createdb NAME) and pass its URL to --database-url",
        )


def load_postgres_dump(dump: Path, url: str) -> None:
    pg_restore = _tool("pg_restore")
    arguments, environment = _libpq(url)
    command = [pg_restore, "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction"]
    _run([*command, *arguments, str(dump)], environment, url, "pg_restore")


def copy_sqlite_into(database: Path, url: str, revision: str | None) -> None:
    """Create the schema in the (empty) target database and copy every row of the SQLite snapshot."""
    from stockade.storage import governance_tables, model_tables, security_tables, tables  # noqa: F401
    from stockade.storage.database import Base, make_engine
    from stockade.storage.migrate import head_revision, upgrade

    if revision != head_revision():
        raise StockadeError(
            f"the backup's schema is at revision {revision}, this Stockade's at {head_revision()}",
            where=str(database),
            fix="restore it as SQLite first (without --database-url), run `stockade init DIR` to migrate it, "
            "then back it up again and restore that into PostgreSQL",
        )
    target = make_engine(url)
    source = create_engine(f"sqlite:///{database}")
    try:
        upgrade(target)
        ordered = Base.metadata.sorted_tables
        with source.connect() as reading, target.begin() as writing:
            for table in reversed(ordered):  # migrations may seed rows (the audit head): start clean
                writing.execute(table.delete())
            for table in ordered:
                rows = [dict(row._mapping) for row in reading.execute(table.select())]
                if rows:
                    writing.execute(table.insert(), rows)
            if target.dialect.name == "postgresql":
                for table in ordered:
                    for column in table.primary_key.columns:
                        sequence = writing.execute(
                            text("SELECT pg_get_serial_sequence(:table, :column)"),
                            {"table": table.name, "column": column.name},
                        ).scalar()
                        if sequence:
                            writing.execute(
                                text(
                                    f"SELECT setval('{sequence}', COALESCE((SELECT MAX({column.name}) "  # noqa: S608
                                    f"FROM {table.name}), 0) + 1, false)"
                                )
                            )
    finally:
        source.dispose()
        target.dispose()


def facts_as_dict(facts: Facts) -> dict[str, Any]:
    return json.loads(json.dumps(facts.__dict__))
