"""`stockade webui` options: a clear refusal instead of a half-started console."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import run_cli


def test_tls_without_a_server_certificate_says_how_to_make_one(workspace_dir: Path) -> None:
    result = run_cli("-w", str(workspace_dir), "webui", "--tls", "--port", "1")
    assert result.returncode != 0
    assert "no server certificate" in result.stderr and "stockade pki init" in result.stderr


def test_webui_needs_a_workspace(tmp_path: Path) -> None:
    result = run_cli("-w", str(tmp_path / "none"), "webui")
    assert result.returncode != 0 and "Traceback" not in result.stderr


def test_an_import_root_that_is_not_a_folder_is_refused(workspace_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "file.json").write_text("[]")
    for given in (tmp_path / "missing", tmp_path / "file.json"):
        result = run_cli("-w", str(workspace_dir), "webui", "--import-root", str(given), "--port", "1")
        assert result.returncode == 2 and "--import-root" in result.stderr, result.stderr
