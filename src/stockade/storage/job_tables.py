"""Job queue and web-console session tables (migration 0007)."""

from __future__ import annotations

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from stockade.storage.database import Base


class Job(Base):
    """One queued piece of work (train, import, export, eval): a `stockade` command run in its own
    process as the user who submitted it. The row is the truth; a console restart re-reads it."""

    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # train | import | export | eval
    args: Mapped[str] = mapped_column(Text)  # JSON list: the command line after `stockade`
    status: Mapped[str] = mapped_column(
        String(20), index=True
    )  # queued|running|aborting|succeeded|failed|aborted
    submitted_by: Mapped[str] = mapped_column(String(200), index=True)
    submitted_at: Mapped[str] = mapped_column(String(40))
    started_at: Mapped[str | None] = mapped_column(String(40))
    finished_at: Mapped[str | None] = mapped_column(String(40))
    pid: Mapped[int | None] = mapped_column(Integer)
    pid_started: Mapped[str | None] = mapped_column(String(40))  # /proc start time: a reused pid is not ours
    exit_code: Mapped[int | None] = mapped_column(Integer)
    log_path: Mapped[str] = mapped_column(Text)  # relative to the workspace
    result: Mapped[str] = mapped_column(Text, default="{}")  # JSON: e.g. {"run": RUN_ID}
    message: Mapped[str | None] = mapped_column(Text)
    aborted_by: Mapped[str | None] = mapped_column(String(200))


class WebSession(Base):
    """A web-console login: only the SHA-256 of the cookie's token is stored, with its CSRF token."""

    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64), ForeignKey("users.id"), index=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    csrf_token: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[str] = mapped_column(String(40))
    last_seen_at: Mapped[str] = mapped_column(String(40))
    expires_at: Mapped[str] = mapped_column(String(40))
    ended_at: Mapped[str | None] = mapped_column(String(40))
    source: Mapped[str | None] = mapped_column(String(200))
