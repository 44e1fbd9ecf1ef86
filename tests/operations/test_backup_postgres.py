"""Backups on a real PostgreSQL server (STOCKADE_TEST_POSTGRES_URL): a PostgreSQL workspace is dumped with
pg_dump and restored with pg_restore, and a SQLite backup is restored into PostgreSQL; both verify."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from stockade.core.workspace import create_layout
from tests.conftest import fresh_postgres_database
from tests.operations.backup_setup import PASSPHRASE, populated_workspace
from tests.operations.test_backup import _authorize, _rows

pytestmark = pytest.mark.slow


@pytest.fixture
def empty_postgres(postgres_url: str) -> Iterator[str]:
    """A second fresh database on the same server (the restore target)."""
    with fresh_postgres_database(postgres_url, "stockade_restore") as url:
        yield url


def _backup(root: Path, out: Path) -> dict:
    from stockade.operations.backup import create_backup
    from stockade.workspace.service import open_workspace

    with open_workspace(root) as context:
        result = create_backup(context, out, passphrase=PASSPHRASE, include_weights=True)
    return {"database": result.database, "head": result.head_seq}


def _restore_into_postgres(archive: Path, into: Path, url: str):
    from stockade.operations.restore import restore_backup

    return restore_backup(archive, into, passphrase=PASSPHRASE, authorize=_authorize, database_url=url)


def _verified(root: Path) -> bool:
    from stockade.audit import verify_chain
    from stockade.audit.checkpoints import CheckpointVerifier
    from stockade.workspace.service import open_workspace

    with open_workspace(root) as context:
        assert context.engine.dialect.name == "postgresql"
        return verify_chain(context.audit, CheckpointVerifier.for_workspace(root)).ok


def test_postgres_workspace_backup_and_restore(
    tmp_path: Path, postgres_url: str, empty_postgres: str
) -> None:
    root = tmp_path / "pgws"
    create_layout(root)
    settings = root / "stockade.yaml"
    settings.write_text(settings.read_text().replace("database_url: null", f"database_url: {postgres_url}"))
    populated_workspace(tmp_path, root)
    before = _rows(root)
    archive = tmp_path / "pg.tar"
    assert _backup(root, archive)["database"] == "postgresql"
    assert "stockade-ci" not in (tmp_path / "pg.tar").read_bytes().decode("latin-1"), "no password archived"
    result = _restore_into_postgres(archive, tmp_path / "restored", empty_postgres)
    assert result.database == "postgresql" and result.archive_database == "postgresql"
    assert _rows(tmp_path / "restored") == before
    assert _verified(tmp_path / "restored")


def test_sqlite_backup_restores_into_postgres(tmp_path: Path, empty_postgres: str) -> None:
    root = populated_workspace(tmp_path)
    before = _rows(root)
    archive = tmp_path / "sqlite.tar"
    _backup(root, archive)
    result = _restore_into_postgres(archive, tmp_path / "restored", empty_postgres)
    assert result.database == "postgresql" and result.archive_database == "sqlite"
    assert not (tmp_path / "restored" / "stockade.db").exists()
    assert _rows(tmp_path / "restored") == before
    assert _verified(tmp_path / "restored")
    # the target database is no longer empty: a second restore into it is refused before anything is written
    with pytest.raises(Exception, match="not empty"):
        _restore_into_postgres(archive, tmp_path / "again", empty_postgres)
    assert not (tmp_path / "again").exists()


def test_a_postgres_backup_needs_a_database_url(tmp_path: Path, postgres_workspace: Path) -> None:
    from stockade.operations.restore import restore_backup

    _backup(postgres_workspace, tmp_path / "pg.tar")
    with pytest.raises(Exception, match="restores into a PostgreSQL database"):
        restore_backup(
            tmp_path / "pg.tar", tmp_path / "restored", passphrase=PASSPHRASE, authorize=_authorize
        )
