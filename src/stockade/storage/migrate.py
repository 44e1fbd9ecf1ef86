"""Schema migrations with Alembic, driven from code (no alembic.ini to ship or edit)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, inspect, text

MIGRATIONS = Path(__file__).with_name("migrations")

#: The newest revision in ``migrations/versions``. Every command opens the workspace and checks its
#: schema against this: keeping it a constant spares each command Alembic's import and a scan of the
#: migration scripts (a tenth of a second of start-up). tests/storage/test_migrate.py holds it to
#: Alembic's own head, so a new migration without this line changed fails the tests.
HEAD = "0007"


def _config() -> Any:
    from alembic.config import Config  # only to upgrade: opening a workspace needs no Alembic

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str:
    return HEAD


def script_head() -> str:
    """The head revision as Alembic reads it from the migration scripts."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_config()).get_current_head() or ""


def current_revision(engine: Engine) -> str | None:
    """The schema's revision: the row of Alembic's ``alembic_version`` table (None before the first
    migration), read with one query as ``MigrationContext.get_current_revision`` does."""
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        rows = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    if len(rows) > 1:
        raise RuntimeError(f"the database has {len(rows)} schema heads ({', '.join(rows)}); expected one")
    return rows[0] if rows else None


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Bring the schema to the newest revision; returns (before, after)."""
    before = current_revision(engine)
    from alembic import command

    config = _config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    return before, head_revision()
