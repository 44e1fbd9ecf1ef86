"""Lockout after repeated failures: of a user's logins (persistent) or an address's API attempts.

For logins (the governance ``login`` command and the web console), call, in the login's own
transaction::

    ensure_not_locked(session, "user:" + name)          # raises LockedOut
    ... verify the password ...
    register_failure(session, "user:" + name, settings)  # on a wrong password; True: now locked
    register_success(session, "user:" + name)            # on success

The API's authenticator keeps an in-memory ``FailureTracker`` per client address instead.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

from sqlalchemy.orm import Session

from stockade.core.security_settings import SecuritySettings
from stockade.security.principal import AccessDenied
from stockade.storage.security_tables import Lockout


class LockedOut(AccessDenied):
    """Too many failures: refused until the lockout ends, whatever the credential."""

    def __init__(self, key: str, retry_after: float) -> None:
        super().__init__(
            f"locked out after repeated failures; try again in {max(1, round(retry_after))} s",
            where=key,
            fix="wait, or ask an administrator to check the audit log (auth.lockout)",
        )
        self.retry_after = retry_after


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


class FailureTracker:
    """In-memory failures per key (client address) with the same policy; thread-safe."""

    def __init__(self, settings: SecuritySettings, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = settings.lockout_failures
        self.window = settings.lockout_window_seconds
        self.duration = settings.lockout_seconds
        self.clock = clock
        self._failures: dict[str, list[float]] = {}
        self._locked: dict[str, float] = {}
        self._lock = threading.Lock()

    def ensure_not_locked(self, key: str) -> None:
        with self._lock:
            until = self._locked.get(key)
            now = self.clock()
            if until is not None and until > now:
                raise LockedOut(key, until - now)
            self._locked.pop(key, None)

    def failure(self, key: str) -> bool:
        """Count one failure; True when it starts a lockout."""
        now = self.clock()
        with self._lock:
            recent = [t for t in self._failures.get(key, []) if now - t <= self.window] + [now]
            if len(recent) >= self.limit:
                self._failures.pop(key, None)
                self._locked[key] = now + self.duration
                return True
            self._failures[key] = recent
            return False

    def success(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)
