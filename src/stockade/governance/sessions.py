"""CLI login sessions: ``stockade login`` stores a random token in the workspace (0600); the
database keeps only its SHA-256, when it expires and when it ended. The acting user of every later
command is the session's user, with its roles.

A workspace holds one session per OS user and terminal, not one for everybody: the token file is
``sessions/<key>.token``, keyed by the uid and either the ``STOCKADE_SESSION`` variable (a name the
caller chooses), the terminal the process runs in (its device and when it was opened), or, without a
terminal (cron, CI, ``setsid … </dev/null >log``), the uid alone. ``login bob`` in one terminal leaves the
other terminals' acting users as they were (docs/governance.md)."""

from __future__ import annotations

import json
import os
import re
import secrets
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from stockade.audit.log import utc_now
from stockade.core import environment
from stockade.core.errors import ConfigError
from stockade.core.hashing import sha256_bytes
from stockade.core.ids import new_id
from stockade.core.workspace import DIRECTORY_MODE, SECRET_FILE_MODE, Workspace
from stockade.security.principal import AuthenticationFailed
from stockade.storage.database import make_session_factory
from stockade.storage.governance_tables import User, UserSession

if TYPE_CHECKING:
    from stockade.workspace.service import Actor, WorkspaceContext

SESSIONS_FOLDER = "sessions"  # never archived by `backup` (operations.backup skips it)
SESSION_VARIABLE = "STOCKADE_SESSION"
LEGACY_SESSION_FILE = "session.token"  # the old one-per-workspace file: not read; removed at login/logout
_SESSION_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}")


def _controlling_terminal_device() -> int:
    """The device number of this process's controlling terminal (Linux /proc), 0 when it has none."""
    try:
        return int(Path("/proc/self/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()[4])
    except (OSError, IndexError, ValueError):
        return 0


def _terminal() -> str | None:
    """``<major>.<minor>-<opened>`` of the terminal this process runs in, or ``None`` without one.

    The terminal is the controlling one, else the first of stdin, stdout and stderr that is a terminal:
    processes that a launcher starts in a new session (torchrun's workers) but that still write to the
    terminal belong to it. ``opened`` is the change time of the terminal's device node, set when the
    terminal was allocated and unchanged by its input and output, so a later terminal that reuses the
    number starts logged out."""
    terminals = {os.fstat(fd).st_rdev: fd for fd in (2, 1, 0) if os.isatty(fd)}
    device = _controlling_terminal_device() or next(iter(terminals), 0)
    if not device:
        return None
    major, minor = os.major(device), os.minor(device)
    try:
        if device in terminals:
            opened = os.fstat(terminals[device]).st_ctime_ns
        elif 136 <= major <= 143:  # a Unix98 pseudo-terminal: /dev/pts/N
            opened = os.stat(f"/dev/pts/{(major - 136) * 256 + minor}").st_ctime_ns
        else:
            opened = 0
    except OSError:
        opened = 0
    return f"{major}.{minor}-{opened}"


def session_key() -> str:
    """Which session this process belongs to: ``u<uid>-named-<NAME>`` ($STOCKADE_SESSION),
    ``u<uid>-tty-<major>.<minor>-<opened>`` (a terminal) or ``u<uid>-default`` (no terminal)."""
    uid = os.getuid()
    named = (environment.read_variable(SESSION_VARIABLE) or "").strip()
    if named:
        if not _SESSION_NAME.fullmatch(named):
            raise ConfigError(
                f"{named!r} is not a session name",
                where=f"environment variable {SESSION_VARIABLE}",
                fix="use 1 to 64 letters, digits, '_', '-' or '.' (not starting with '.'), "
                f"or unset {SESSION_VARIABLE} to use this terminal's session",
            )
        return f"u{uid}-named-{named}"
    terminal = _terminal()
    return f"u{uid}-tty-{terminal}" if terminal else f"u{uid}-default"


def session_file(workspace: Workspace) -> Path:
    """The token file of this process's session (see ``session_key``)."""
    return workspace.root / SESSIONS_FOLDER / f"{session_key()}.token"


class LoginFailed(AuthenticationFailed):
    """Wrong name or password, or a disabled user (the message does not say which)."""


def _token_hash(token: str) -> str:
    return sha256_bytes(token.encode("ascii"))


def _write_token(workspace: Workspace, token: str) -> None:
    """Replace this session's token file atomically; it is never wider than 0600."""
    path = session_file(workspace)
    path.parent.mkdir(mode=DIRECTORY_MODE, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, SECRET_FILE_MODE)
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(token + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    (workspace.root / LEGACY_SESSION_FILE).unlink(missing_ok=True)


def _read_token(workspace: Workspace) -> str | None:
    try:
        return session_file(workspace).read_text(encoding="ascii").strip() or None
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
    from stockade.security.lockout import register_success  # login only: not on every command's path

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


def check_login(context: WorkspaceContext, name: str, password: str) -> Any:
    """The user ``name`` if ``password`` is theirs and the name is not locked out; otherwise the failure
    is audited (and counted towards the lockout) and :class:`LoginFailed` or ``LockedOut`` raised. The
    CLI's `stockade login` and the web console's login both start here."""
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
    return user


def login(context: WorkspaceContext, name: str, password: str) -> Actor:
    """Check the password and start a session; a failure is audited and says nothing more.

    Repeated failures lock the name out (``security.lockout_*`` settings); a locked-out login is
    refused whatever the password."""
    check_login(context, name, password)
    return start_session(context, name)


def logout(context: WorkspaceContext) -> bool:
    """End this process's session (this terminal's, or $STOCKADE_SESSION's) and remove its token file.
    False when nobody was logged in there; other sessions of the workspace stay as they are."""
    token = _read_token(context.workspace)
    ended = False
    if token is not None:
        with make_session_factory(context.engine).begin() as session:
            row = session.scalar(select(UserSession).where(UserSession.token_sha256 == _token_hash(token)))
            if row is not None and row.ended_at is None:
                row.ended_at = utc_now()
                context.record("user.logout", context.actor.name, session=session)
                ended = True
        session_file(context.workspace).unlink(missing_ok=True)
    (context.workspace.root / LEGACY_SESSION_FILE).unlink(missing_ok=True)
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
    """The acting user of this process's session in the workspace, or ``None`` (nobody, expired,
    ended, disabled)."""
    token = _read_token(workspace)
    if token is None:
        return None
    with make_session_factory(engine)() as session:
        user = session_user(session, token)
        return _actor_for(user) if user is not None else None
