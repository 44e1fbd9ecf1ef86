"""Alembic environment: runs on the connection Stockade passes in (never reads alembic.ini)."""

from __future__ import annotations

from alembic import context

from stockade.storage import tables  # noqa: F401 - registers the tables on Base.metadata
from stockade.storage.database import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
