"""Web-console login sessions, the service behind ``stockade webui``'s login form (the console's routes
only read the form and set the cookie). The password check is the CLI's
(``governance.users.check_credentials``, argon2) with the same lockout (``security.lockout``) and the same
``user.login`` audit record (``via: web``); the browser holds a random token in an HttpOnly cookie, the
database only its SHA-256, a CSRF token and when it was last used (idle timeout). Every login gets a new
token: an id planted before login is never promoted. A refused CSRF token is audited here too."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from sqlalchemy import select, update

from stockade.audit.log import utc_now
from stockade.core.hashing import sha256_bytes
from stockade.core.ids import new_id
from stockade.governance.sessions import check_login
from stockade.security.lockout import register_success
from stockade.storage.database import make_session_factory
from stockade.storage.governance_tables import User
from stockade.storage.job_tables import WebSession

if TYPE_CHECKING:
    from stockade.workspace.service import WorkspaceContext


@dataclass(frozen=True)
class WebUser:
    name: str
    roles: tuple[str, ...]
    csrf_token: str
    session_id: str

    @property
    def role(self) -> str:
        return ",".join(self.roles)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


def _hash(token: str) -> str:
    return sha256_bytes(token.encode("ascii"))


def login(context: WorkspaceContext, name: str, password: str) -> str:
    """Check the password as `stockade login` does; returns the new session's cookie token."""
    user = check_login(context, name, password)  # audits a failure, as `stockade login` does
    key, factory = f"user:{name}", make_session_factory(context.engine)
    token = secrets.token_urlsafe(32)
    hours = context.workspace.settings.governance.session_hours
    now = datetime.now(timezone.utc)
    with factory.begin() as session:
        context.audit.lock(session)
        session.add(
            WebSession(
                id=new_id("web-"),
                user_id=user.id,
                token_sha256=_hash(token),
                csrf_token=secrets.token_urlsafe(32),
                created_at=utc_now(),
                last_seen_at=utc_now(),
                expires_at=_iso(now + timedelta(hours=hours)),
                source=context.actor.source,
            )
        )
        register_success(session, key)
        context.record("user.login", name, session=session, via="web", expires_in_hours=hours)
    return token


def current_user(
    context: WorkspaceContext, token: str | None, *, idle_minutes: float, touch: bool = True
) -> WebUser | None:
    """The user of a live session (not ended, expired or idle longer than ``idle_minutes``), whose last
    use is moved to now when ``touch`` (a person's action, not a page's own polling); ``None`` otherwise
    (an idle session is ended on the way)."""
    if not token:
        return None
    now = datetime.now(timezone.utc)
    with make_session_factory(context.engine).begin() as session:
        row = session.scalar(select(WebSession).where(WebSession.token_sha256 == _hash(token)))
        if row is None or row.ended_at is not None or row.expires_at <= utc_now():
            return None
        if row.last_seen_at <= _iso(now - timedelta(minutes=idle_minutes)):
            row.ended_at = utc_now()
            return None
        user = session.get(User, row.user_id)
        if user is None or user.status != "active":
            return None
        if touch:
            row.last_seen_at = utc_now()
        return WebUser(user.name, tuple(json.loads(user.roles)), row.csrf_token, row.id)


def logout(context: WorkspaceContext, token: str | None) -> bool:
    """End the session of ``token`` (audited ``user.logout``); ``False`` when none was live."""
    if not token:
        return False
    with make_session_factory(context.engine).begin() as session:
        context.audit.lock(session)
        ended = session.execute(
            update(WebSession)
            .where(WebSession.token_sha256 == _hash(token), WebSession.ended_at.is_(None))
            .values(ended_at=utc_now())
        ).rowcount
        if ended:
            context.record("user.logout", context.actor.name, session=session, via="web")
    return bool(ended)


def record_csrf_refusal(context: WorkspaceContext, where: str) -> None:
    """Audit a form of ``where`` refused for a missing or wrong CSRF token (``web.csrf``, denied)."""
    context.record("web.csrf", where, result="denied", reason="missing or wrong CSRF token")
