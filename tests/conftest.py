"""Test-wide fixtures. The offline guard is active in the test process itself, so no test can
send a packet to a non-loopback address by accident."""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from stockade.core import offline

offline.activate()

# Derived data (the name detector's dictionary tables, core.derived_cache) is cached in one temporary
# folder for the run, inherited by the CLI processes the tests start, never in the user's ~/.cache.
if "STOCKADE_CACHE_DIR" not in os.environ:
    os.environ["STOCKADE_CACHE_DIR"] = tempfile.mkdtemp(prefix="stockade-test-cache-")
    atexit.register(shutil.rmtree, os.environ["STOCKADE_CACHE_DIR"], ignore_errors=True)

REPO = Path(__file__).resolve().parents[1]
# The files the tests read ship in tests/fixtures (byte-identical copies of ../shared/fixtures, the project
# machines' and CI's read-only folder beside the checkout), so a plain clone runs every test.
FIXTURES = REPO / "tests" / "fixtures"
LLAMAFACTORY_CONFIGS = FIXTURES / "llamafactory-configs"
LLAMAFACTORY_DATA = FIXTURES / "llamafactory-data"
SHARED_FIXTURES = REPO.parent / "shared" / "fixtures"  # only checked against, by tests/test_fixtures.py


def run_cli(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: int = 120
) -> subprocess.CompletedProcess[str]:
    """Run `python -m stockade ARGS` in a subprocess, the way a user runs it."""
    full_env = {k: v for k, v in os.environ.items() if k != "STOCKADE_HOME"}
    full_env.update({"COLUMNS": "200", "PYTHONIOENCODING": "utf-8"})
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "stockade", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def workspace_dir(tmp_path: Path) -> Path:
    """A fresh, initialised workspace."""
    from stockade.workspace.service import initialize_workspace

    root = tmp_path / "ws"
    initialize_workspace(root)
    return root


@contextlib.contextmanager
def fresh_postgres_database(server_url: str, prefix: str) -> Iterator[str]:
    """A new, empty database named ``PREFIX_<random>`` on the server of ``server_url``; its URL is
    yielded and the database dropped afterwards."""
    import secrets

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"{prefix}_{secrets.token_hex(6)}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database on the server named by STOCKADE_TEST_POSTGRES_URL (dropped
    afterwards). Skips without the variable, except in CI (CI=true), where a missing server fails."""
    base = os.environ.get("STOCKADE_TEST_POSTGRES_URL")
    if not base:
        if os.environ.get("CI") == "true":
            pytest.fail("STOCKADE_TEST_POSTGRES_URL is not set in CI: .ci/run must start PostgreSQL")
        pytest.skip("no PostgreSQL server (set STOCKADE_TEST_POSTGRES_URL)")
    with fresh_postgres_database(base, "stockade_test") as url:
        yield url


@pytest.fixture
def postgres_workspace(tmp_path: Path, postgres_url: str) -> Path:
    """An initialised workspace whose database_url points to a fresh PostgreSQL database."""
    from stockade.core.workspace import create_layout
    from stockade.workspace.service import initialize_workspace

    root = tmp_path / "pgws"
    create_layout(root)
    settings = root / "stockade.yaml"
    settings.write_text(settings.read_text().replace("database_url: null", f"database_url: {postgres_url}"))
    initialize_workspace(root)
    return root


def add_running_run(workspace: Path, run_id: str) -> None:
    """A training run's row in state ``running`` (the recovery tests then write its folder as the
    case needs: a live or dead owner, checkpoints)."""
    from sqlalchemy.orm import Session

    from stockade.storage.tables import TrainingRun
    from stockade.workspace.service import open_workspace

    with open_workspace(workspace) as context, Session(context.engine) as session, session.begin():
        session.add(
            TrainingRun(
                id=run_id,
                created_at="2026-01-01T00:00:00Z",
                created_by="test",
                status="running",
                base_model="m",
                base_manifest_sha256="0" * 64,
                datasets="[]",
                spec="{}",
                environment="{}",
                summary="{}",
                path=f"runs/{run_id}",
            )
        )
