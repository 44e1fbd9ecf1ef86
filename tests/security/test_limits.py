"""Token buckets, the address lockout of the API and the persistent login lockout."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from stockade.core.security_settings import SecuritySettings
from stockade.security.lockout import (
    FailureTracker,
    LockedOut,
    ensure_not_locked,
    register_failure,
    register_success,
)
from stockade.security.principal import AuthenticationFailed
from stockade.security.ratelimit import RateLimited, TokenBuckets
from stockade.storage.database import make_session_factory
from tests.security.conftest import audit_rows


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_token_bucket_allows_a_burst_then_the_rate() -> None:
    clock = Clock()
    buckets = TokenBuckets(rate=2.0, burst=3, clock=clock)
    assert [buckets.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a") == pytest.approx(1.0)  # refused, and counted: a token short, plus its own
    assert buckets.take("b") == 0.0  # keys are independent
    clock.now += 1.0
    assert buckets.take("a") == 0.0 and buckets.take("a") > 0


def test_failure_tracker_locks_after_the_limit_and_unlocks_later() -> None:
    clock = Clock()
    tracker = FailureTracker(SecuritySettings(lockout_failures=3, lockout_seconds=60), clock=clock)
    assert [tracker.failure("x") for _ in range(3)] == [False, False, True]
    with pytest.raises(LockedOut):
        tracker.ensure_not_locked("x")
    tracker.ensure_not_locked("y")
    clock.now += 61
    tracker.ensure_not_locked("x")


def test_brute_force_against_the_api_locks_the_address_out(context, authenticator, issue) -> None:
    good = issue("api_key").token
    limit = context.workspace.settings.security.lockout_failures
    for attempt in range(limit):
        with pytest.raises(AuthenticationFailed):
            authenticator.authenticate(f"Bearer stk_0123456789abcdef_{'A' * 42}{attempt % 10}", "10.6.6.6")
    with pytest.raises(LockedOut):  # even the right key is refused from that address now
        authenticator.authenticate(f"Bearer {good}", "10.6.6.6")
    assert authenticator.authenticate(f"Bearer {good}", "10.7.7.7").credential == "api_key"
    assert audit_rows(context, "auth.lockout")[-1].source == "api:10.6.6.6"
    assert audit_rows(context, "auth.failure")[-1].reason == "locked_out"


def test_per_credential_rate_limit(workspace_dir) -> None:
    from tests.security.conftest import set_security

    set_security(workspace_dir, rate_per_credential=0.001, burst_per_credential=2)
    from stockade.security.authenticator import StockadeAuthenticator
    from stockade.security.service import issue_credential
    from stockade.workspace.service import open_workspace

    with open_workspace(workspace_dir) as context:
        token = issue_credential(context, kind="api_key", subject=context.actor.name, roles=["admin"]).token
        authenticator = StockadeAuthenticator(context)
        for _ in range(2):
            authenticator.authenticate(f"Bearer {token}", "127.0.0.1")
        with pytest.raises(RateLimited) as limited:
            authenticator.authenticate(f"Bearer {token}", "127.0.0.1")
        assert limited.value.http_status == 429 and limited.value.retry_after > 0
        assert audit_rows(context, "auth.rate_limited")


def test_login_lockout_persists_in_the_database(context) -> None:
    settings = SecuritySettings(lockout_failures=3, lockout_seconds=300)
    sessions = make_session_factory(context.engine)
    start = datetime.now(timezone.utc)
    for count in range(3):
        with sessions.begin() as session:
            ensure_not_locked(session, "user:alice", now=start)
            assert register_failure(session, "user:alice", settings, now=start) is (count == 2)
    with sessions() as session, pytest.raises(LockedOut):
        ensure_not_locked(session, "user:alice", now=start + timedelta(seconds=10))
    with sessions.begin() as session:
        ensure_not_locked(session, "user:alice", now=start + timedelta(seconds=301))
        register_success(session, "user:alice")
        ensure_not_locked(session, "user:bob", now=start)
