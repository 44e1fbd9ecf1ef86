"""`stockade init` semantics: layout, permissions, idempotence, refusal to overwrite."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from stockade.core.errors import DatabaseError, WorkspaceError
from stockade.core.workspace import FOLDERS, Workspace
from stockade.storage.migrate import current_revision, head_revision
from stockade.workspace.service import initialize_workspace, open_workspace, open_workspace_if_present


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_init_creates_layout_with_private_permissions(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    result = initialize_workspace(root)
    assert result.schema_before is None and result.schema_after == head_revision()
    assert result.record is not None and result.record.action == "workspace.init"
    assert _mode(root) == 0o700
    for name in FOLDERS:
        assert (root / name).is_dir() and _mode(root / name) == 0o700
    assert _mode(root / "stockade.yaml") == 0o600
    assert _mode(root / "stockade.db") == 0o600


def test_init_is_idempotent_and_keeps_settings(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    initialize_workspace(root)
    settings = root / "stockade.yaml"
    settings.write_text(settings.read_text() + "\n# operator's note\n")
    before = settings.read_text()
    again = initialize_workspace(root)
    assert not again.changed and again.record is None
    assert settings.read_text() == before


def test_init_repairs_a_missing_folder_and_records_it(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    initialize_workspace(root)
    (root / "logs").rmdir()
    again = initialize_workspace(root)
    assert again.created == ["logs/"] and again.record.action == "workspace.upgrade"


def test_init_refuses_a_foreign_non_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "someone-elses.txt").write_text("data")
    with pytest.raises(WorkspaceError, match="not empty"):
        initialize_workspace(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["someone-elses.txt"]


def test_open_requires_a_workspace(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError, match="stockade init"):
        open_workspace(tmp_path)
    with pytest.raises(WorkspaceError):
        open_workspace_if_present(tmp_path / "missing")


def test_open_refuses_an_old_schema(workspace_dir: Path) -> None:
    import sqlite3

    connection = sqlite3.connect(workspace_dir / "stockade.db")
    connection.execute("UPDATE alembic_version SET version_num='0000'")
    connection.commit()
    connection.close()
    with pytest.raises(DatabaseError, match="stockade init"):
        open_workspace(workspace_dir)


def test_settings_errors_name_the_file(workspace_dir: Path) -> None:
    (workspace_dir / "stockade.yaml").write_text("min_free_disk: 10\n")
    with pytest.raises(
        Exception, match=r"(?s)stockade.yaml.*'min_free_disk' \(did you mean 'min_free_disk_gb'"
    ):
        Workspace.locate(workspace_dir).settings  # noqa: B018


def test_schema_is_at_head_after_init(workspace_dir: Path) -> None:
    from stockade.storage.database import make_engine

    engine = make_engine(f"sqlite:///{workspace_dir / 'stockade.db'}")
    assert current_revision(engine) == head_revision()
    engine.dispose()
