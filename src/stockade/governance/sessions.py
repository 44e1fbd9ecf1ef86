"""CLI login sessions: ``stockade login`` stores a random token in the workspace (0600); the
database keeps only its SHA-256, when it expires and when it ended. The acting user of every later
command is the session's user, with its roles."""

from __future__ import annotations

import json
import os
import secrets
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from stockade.audit.log import utc_now
from stockade.core import environment
from stockade.core.hashing import sha256_bytes
from stockade.core.ids import new_id
from stockade.core.workspace import SECRET_FILE_MODE, Workspace
from stockade.security.lockout import register_success
from stockade.security.principal import AuthenticationFailed
from stockade.storage.database import make_session_factory
from stockade.storage.governance_tables import User, UserSession

if TYPE_CHECKING:
    from stockade.workspace.service import Actor, WorkspaceContext

SESSION_FILE = "session.token"


class LoginFailed(AuthenticationFailed):
    """Wrong name or password, or a disabled user (the message does not say which)."""


def _token_hash(token: str) -> str:
    return sha256_bytes(token.encode("ascii"))


def _write_token(workspace: Workspace, token: str) -> None:
    """Replace the token file atomically; it is never wider than 0600."""
    path = workspace.root / SESSION_FILE
    temporary = path.with_name(f".{SESSION_FILE}.{os.getpid()}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, SECRET_FILE_MODE)
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(token + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def _read_token(workspace: Workspace) -> str | None:
    try:
        return (workspace.root / SESSION_FILE).read_text(encoding="ascii").strip() or None
    except (OSError, UnicodeDecodeError):
        return None


def _actor_for(user: User) -> Actor:
    from stockade.workspace.service import Actor

    return Actor(
        name=user.name,
        role=",".join(json.loads(user.roles)),
        source=f"local:{environment.host_name()}",
    )


def start_session(context: WorkspaceContext, name: str) -> Actor:
    """Log ``name`` in (its credentials were checked by the caller) and make it the acting user."""
    hours = context.workspace.settings.governance.session_hours
    token = secrets.token_urlsafe(32)
    now = datetime.now(timezone.utc)
    with make_session_factory(context.engine).begin() as session:
        context.audit.lock(session)
        user = session.scalar(select(User).where(User.name == name))
        assert user is not None
        session.add(
            UserSession(
                id=new_id("ses-"),
                user_id=user.id,
                token_sha256=_token_hash(token),
                created_at=utc_now(),
                expires_at=_iso(now + timedelta(hours=hours)),
                source=context.actor.source,
            )
        )
        register_success(session, f"user:{name}")
        context.actor = _actor_for(user)
        context.record("user.login", name, session=session, expires_in_hours=hours)
    _write_token(context.workspace, token)
    return context.actor


def login(context: WorkspaceContext, name: str, password: str) -> Actor:
    """Check the password and start a session; a failure is audited and says nothing more.

    Repeated failures lock the name out (``security.lockout_*`` settings); a locked-out login is
    refused whatever the password."""
    from stockade.governance.users import check_credentials
    from stockade.security.lockout import LockedOut, ensure_not_locked, register_failure

    key, factory = f"user:{name}", make_session_factory(context.engine)
    try:
        with factory() as session:
            ensure_not_locked(session, key)
    except LockedOut:
        context.record("user.login", name, result="denied", reason="locked out after repeated failures")
        raise
    with factory() as session:
        user = check_credentials(session, name, password)  # slow (argon2): outside any lock
    if user is None:
        with factory.begin() as session:
            context.audit.lock(session)
            locked = register_failure(session, key, context.workspace.settings.security)
            context.record(
                "user.login",
                name,
                result="denied",
                reason="wrong name or password, or disabled",
                session=session,
                locked_out=locked,
            )
        raise LoginFailed(
            "login refused: wrong user name or password, or the user is disabled",
            reason="bad_credentials",
            fix="check the name and password; an admin can reset it with `stockade user passwd NAME`",
        )
    return start_session(context, name)


def logout(context: WorkspaceContext) -> bool:
    """End this workspace's session and remove the token file. False when nobody was logged in."""
    token = _read_token(context.workspace)
    ended = False
    if token is not None:
        with make_session_factory(context.engine).begin() as session:
            row = session.scalar(select(UserSession).where(UserSession.token_sha256 == _token_hash(token)))
            if row is not None and row.ended_at is None:
                row.ended_at = utc_now()
                context.record("user.logout", context.actor.name, session=session)
                ended = True
        (context.workspace.root / SESSION_FILE).unlink(missing_ok=True)
    return ended


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


def session_user(session: Session, token: str) -> User | None:
    """The active user of an unexpired, not ended session with this token."""
    row = session.scalar(select(UserSession).where(UserSession.token_sha256 == _token_hash(token)))
    if row is None or row.ended_at is not None or row.expires_at <= utc_now():
        return None
    user = session.get(User, row.user_id)
    return user if user is not None and user.status == "active" else None


def logged_in_actor(workspace: Workspace, engine: Engine) -> Actor | None:
    """The acting user of this workspace's session file, or ``None`` (nobody, expired, disabled)."""
    token = _read_token(workspace)
    if token is None:
        return None
    with make_session_factory(engine)() as session:
        user = session_user(session, token)
        return _actor_for(user) if user is not None else None
