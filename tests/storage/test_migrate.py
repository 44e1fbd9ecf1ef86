"""The schema revision check that every command runs when it opens a workspace."""

from __future__ import annotations

import subprocess
import sys

import pytest
from sqlalchemy import create_engine, text

from stockade.storage import migrate


def test_head_constant_is_alembics_head() -> None:
    # A new migration script must move HEAD too, or every workspace would be refused as "old".
    assert migrate.head_revision() == migrate.script_head()


def test_current_revision_reads_alembics_table(tmp_path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    assert migrate.current_revision(engine) is None  # no table yet: never migrated
    before, after = migrate.upgrade(engine)
    assert (before, after) == (None, migrate.HEAD)
    assert migrate.current_revision(engine) == migrate.HEAD
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0003'"))
    assert migrate.current_revision(engine) == "0003"
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO alembic_version (version_num) VALUES ('0004')"))
    with pytest.raises(RuntimeError, match="2 schema heads"):
        migrate.current_revision(engine)
    engine.dispose()


def test_opening_a_workspace_does_not_import_alembic(workspace_dir) -> None:
    """Alembic is for upgrades only: a command that opens a current workspace never imports it."""
    code = (
        "import sys; from pathlib import Path; from stockade.workspace.service import open_workspace;"
        f"c = open_workspace(Path({str(workspace_dir)!r})); c.close();"
        "print('alembic' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
