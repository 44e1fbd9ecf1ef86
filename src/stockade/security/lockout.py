"""Lockout after repeated failures: of a user's logins (persistent) or an address's API attempts.

For logins (the governance ``login`` command and the web console), call, in the login's own
transaction::

    ensure_not_locked(session, "user:" + name)          # raises LockedOut
    ... verify the password ...
    register_failure(session, "user:" + name, settings)  # on a wrong password; True: now locked
    register_success(session, "user:" + name)            # on success

The API's authenticator counts failures per client address in memory (``FailureTracker``); a lockout
it starts is also written to the ``security_lockouts`` table (key ``address:IP``), which is how
``stockade security unlock --address IP`` reaches a running server: a locked address is looked up in
the table before it is refused, and a lockout an admin removed is lifted at once. At start the server
takes over the address lockouts still running, so a restart does not clear them.
Only credential failures count: a request without any credential is refused but never counted.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from stockade.core.errors import StockadeError
from stockade.core.security_settings import SecuritySettings
from stockade.security.allowlist import parse_address
from stockade.security.principal import AccessDenied
from stockade.storage.database import make_session_factory
from stockade.storage.security_tables import Lockout

if TYPE_CHECKING:
    from stockade.workspace.service import WorkspaceContext

log = logging.getLogger(__name__)
ADDRESS = "address:"
USER = "user:"


class LockedOut(AccessDenied):
    """Too many failures: refused until the lockout ends, whatever the credential."""

    def __init__(self, key: str, retry_after: float, *, duration: float | None = None) -> None:
        left = max(1, round(retry_after))
        lasts = f"for {round(duration)} s " if duration else ""
        kind, _, name = key.partition(":")
        if kind == "address":
            what = (
                f"address {name} is locked out of the API {lasts}after repeated failed authentications "
                f"(wrong, expired or revoked credentials); {left} s left"
            )
            fix = f"wait {left} s, or ask an admin to run `stockade security unlock --address {name}`"
        else:
            what = f"user {name} is locked out {lasts}after repeated wrong passwords; {left} s left"
            fix = f"wait {left} s, or ask an admin to run `stockade user unlock {name}`"
        super().__init__(what, where=key, fix=fix)
        self.retry_after = retry_after


class LockoutError(StockadeError):
    """An unlock that names no valid address."""

    exit_code = 2


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def ensure_not_locked(session: Session, key: str, *, now: datetime | None = None) -> None:
    row = session.get(Lockout, key)
    now = now or _now()
    if row is not None and row.locked_until and datetime.fromisoformat(row.locked_until) > now:
        raise LockedOut(key, (datetime.fromisoformat(row.locked_until) - now).total_seconds())


def register_failure(
    session: Session, key: str, settings: SecuritySettings, *, now: datetime | None = None
) -> bool:
    """Count one failure; return True when this failure starts a lockout."""
    now = now or _now()
    row = session.get(Lockout, key)
    window = timedelta(seconds=settings.lockout_window_seconds)
    if row is None:
        row = Lockout(key=key, failures=0, window_started_at=_stamp(now), locked_until=None)
        session.add(row)
    elif now - datetime.fromisoformat(row.window_started_at) > window:
        row.failures, row.window_started_at = 0, _stamp(now)
    row.failures += 1
    if row.failures >= settings.lockout_failures:
        row.locked_until = _stamp(now + timedelta(seconds=settings.lockout_seconds))
        row.failures, row.window_started_at = 0, _stamp(now)
        return True
    return False


def register_success(session: Session, key: str) -> None:
    row = session.get(Lockout, key)
    if row is not None:
        session.delete(row)


class DatabaseLockouts:
    """The API's address lockouts in the ``security_lockouts`` table (what ``security unlock`` clears)."""

    def __init__(self, engine: Any) -> None:
        self._sessions = make_session_factory(engine)

    def remaining(self, key: str) -> float | None:
        """Seconds left of ``key``'s lockout; None when there is none (ended, or removed by an admin)."""
        with self._sessions() as session:
            row = session.get(Lockout, key)
        if row is None or not row.locked_until:
            return None
        left = (datetime.fromisoformat(row.locked_until) - _now()).total_seconds()
        return left if left > 0 else None

    def lock(self, key: str, seconds: float) -> None:
        now = _now()
        with self._sessions.begin() as session:
            row = session.get(Lockout, key)
            if row is None:
                row = Lockout(key=key, failures=0, window_started_at=_stamp(now))
                session.add(row)
            row.failures, row.window_started_at = 0, _stamp(now)
            row.locked_until = _stamp(now + timedelta(seconds=seconds))

    def active(self, prefix: str) -> dict[str, float]:
        """Every lockout still running whose key starts with ``prefix``: key -> seconds left."""
        now = _now()
        with self._sessions() as session:
            rows = session.scalars(select(Lockout).where(Lockout.key.startswith(prefix))).all()
        found = {row.key: (datetime.fromisoformat(row.locked_until) - now).total_seconds() for row in rows
                 if row.locked_until}  # fmt: skip
        return {key: left for key, left in found.items() if left > 0}


class FailureTracker:
    """In-memory failures per key (client address) with the same policy; thread-safe.

    With ``store`` (the API server's), a lockout is written there too, a locked key is checked there
    before it is refused (an admin's unlock lifts it), and the store's running lockouts are taken over.
    """

    def __init__(
        self,
        settings: SecuritySettings,
        *,
        clock: Callable[[], float] = time.monotonic,
        store: DatabaseLockouts | None = None,
    ) -> None:
        self.limit = settings.lockout_failures
        self.window = settings.lockout_window_seconds
        self.duration = settings.lockout_seconds
        self.clock = clock
        self.store = store
        self._failures: dict[str, list[float]] = {}
        self._locked: dict[str, float] = {}
        self._lock = threading.Lock()
        if store is not None:
            now = clock()
            self._locked = {key: now + left for key, left in store.active(ADDRESS).items()}

    def ensure_not_locked(self, key: str) -> None:
        with self._lock:
            until = self._locked.get(key)
            now = self.clock()
            if until is None or until <= now:
                self._locked.pop(key, None)
                return
        if self.store is not None:
            try:
                lifted = self.store.remaining(key) is None
            except Exception:  # the table cannot be read: stay locked (fail closed)
                log.warning("cannot read the lockout table; %s stays locked", key, exc_info=True)
                lifted = False
            if lifted:  # an admin removed it (`stockade security unlock`): forget its failures too
                with self._lock:
                    self._locked.pop(key, None)
                    self._failures.pop(key, None)
                return
        raise LockedOut(key, until - now, duration=self.duration)

    def failure(self, key: str) -> bool:
        """Count one failure; True when it starts a lockout."""
        now = self.clock()
        with self._lock:
            recent = [t for t in self._failures.get(key, []) if now - t <= self.window] + [now]
            if len(recent) < self.limit:
                self._failures[key] = recent
                return False
            self._failures.pop(key, None)
            self._locked[key] = now + self.duration
        if self.store is not None:
            try:
                self.store.lock(key, self.duration)
            except Exception:  # the lockout holds in memory; only an unlock needs the row
                log.warning("cannot write the lockout of %s to the database", key, exc_info=True)
        return True

    def success(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)


@dataclass(frozen=True)
class LockoutView:
    key: str
    locked_until: str
    seconds_left: int


def list_lockouts(context: WorkspaceContext) -> list[LockoutView]:
    """The lockouts still running (users and API addresses)."""
    now = _now()
    with make_session_factory(context.engine)() as session:
        rows = session.scalars(select(Lockout).order_by(Lockout.key)).all()
    views = []
    for row in rows:
        if row.locked_until and datetime.fromisoformat(row.locked_until) > now:
            left = (datetime.fromisoformat(row.locked_until) - now).total_seconds()
            views.append(LockoutView(row.key, row.locked_until, max(1, round(left))))
    return views


def clear_lockout(context: WorkspaceContext, key: str, *, action: str, reason: str | None) -> bool:
    """Remove ``key``'s lockout and failure count (audited as ``action``); True when it was locked."""
    now = _now()
    with make_session_factory(context.engine).begin() as session:
        context.audit.lock(session)
        row = session.get(Lockout, key)
        locked = bool(row and row.locked_until and datetime.fromisoformat(row.locked_until) > now)
        if row is not None:
            session.delete(row)
        target = key.partition(":")[2]
        context.record(action, target, reason=reason, session=session, was_locked=locked)
    return locked


def address_key(address: str) -> str:
    """``address:IP`` for an address as the API sees it (IPv4-mapped IPv6 as IPv4); refuses non-addresses."""
    parsed = parse_address(address)
    if parsed is None:
        raise LockoutError(
            f"{address[:100]!r} is not an IP address", where="--address", fix="e.g. --address 10.1.2.3"
        )
    return ADDRESS + str(parsed)
