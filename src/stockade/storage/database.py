"""The database engine: SQLite (WAL, fsync on commit) by default, PostgreSQL by URL."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import DeclarativeBase, sessionmaker

from stockade.core.errors import DatabaseError, DependencyMissing


class Base(DeclarativeBase):
    """Declarative base of every table."""


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def _configure_sqlite(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")  # fsync at every commit: audit writes survive a crash
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def make_engine(url: str) -> Engine:
    """Create an engine; SQLite files get WAL and full synchronous commits."""
    try:
        engine = create_engine(url, future=True)
    except ModuleNotFoundError as exc:
        raise DependencyMissing(
            f"the database driver {exc.name!r} is not installed",
            where=f"database_url {engine_url_safe(url)}",
            fix="install it: pip install 'stockade[postgres]'",
        ) from None
    except Exception as exc:  # a malformed URL
        raise DatabaseError(
            f"cannot use database URL: {exc}",
            where="stockade.yaml: database_url",
            fix="use sqlite:///PATH or postgresql+psycopg://USER:PASSWORD@HOST/DB",
        ) from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _configure_sqlite)
    return engine


def engine_url_safe(url: str) -> str:
    """The URL with its password hidden, for messages and logs."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable URL>"


def make_session_factory(engine: Engine) -> sessionmaker:
    return sessionmaker(bind=engine, expire_on_commit=False)
