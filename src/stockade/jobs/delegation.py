"""A job acts as its submitter through the CLI's own login mechanism: the worker opens a session for
that user named ``job-<id>`` (``STOCKADE_SESSION``), so the command it runs sees the user and roles
exactly as after ``stockade login``, and every audit record names them. The session ends with the job."""

from __future__ import annotations

import json
import os
import secrets
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select, update

from stockade.audit.log import utc_now
from stockade.core.hashing import sha256_bytes
from stockade.core.ids import new_id
from stockade.core.workspace import DIRECTORY_MODE, SECRET_FILE_MODE
from stockade.governance.sessions import SESSIONS_FOLDER
from stockade.storage.database import make_session_factory
from stockade.storage.governance_tables import User, UserSession

if TYPE_CHECKING:
    from stockade.workspace.service import WorkspaceContext


def session_name(job_id: str) -> str:
    return job_id  # "job-<hex>": a valid STOCKADE_SESSION name


def _token_file(context: WorkspaceContext, job_id: str) -> Path:
    # the path governance.sessions.session_file() gives a process with STOCKADE_SESSION=<job id>
    return context.workspace.root / SESSIONS_FOLDER / f"u{os.getuid()}-named-{session_name(job_id)}.token"


def active_user(context: WorkspaceContext, name: str) -> User | None:
    with make_session_factory(context.engine)() as session:
        user = session.scalar(select(User).where(User.name == name))
        return user if user is not None and user.status == "active" else None


def roles_of(user: User) -> str:
    return ",".join(json.loads(user.roles))


def open_session(context: WorkspaceContext, user: User, job_id: str) -> None:
    """Create the job's session for ``user`` and write its token file (0600)."""
    token = secrets.token_urlsafe(32)
    hours = context.workspace.settings.governance.session_hours
    expires = datetime.now(timezone.utc) + timedelta(hours=hours)
    with make_session_factory(context.engine).begin() as session:
        session.add(
            UserSession(
                id=new_id("ses-"),
                user_id=user.id,
                token_sha256=sha256_bytes(token.encode("ascii")),
                created_at=utc_now(),
                expires_at=expires.isoformat(timespec="microseconds").replace("+00:00", "Z"),
                source=f"job:{job_id}",
            )
        )
    path = _token_file(context, job_id)
    path.parent.mkdir(mode=DIRECTORY_MODE, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, SECRET_FILE_MODE)
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(token + "\n")


def close_session(context: WorkspaceContext, job_id: str) -> None:
    """End the job's session and remove its token file."""
    with make_session_factory(context.engine).begin() as session:
        session.execute(
            update(UserSession)
            .where(UserSession.source == f"job:{job_id}", UserSession.ended_at.is_(None))
            .values(ended_at=utc_now())
        )
    _token_file(context, job_id).unlink(missing_ok=True)
