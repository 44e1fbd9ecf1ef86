"""Repeated refusals are audited once a minute with a count (issue 14): a locked-out address, a caller over
its rate or without a credential no longer writes a record per request. Failed credentials still do."""

from __future__ import annotations

import json

import pytest

from stockade.security.lockout import LockedOut
from stockade.security.principal import AuthenticationFailed
from stockade.security.ratelimit import RateLimited, RefusalTally, TokenBuckets
from tests.security.conftest import audit_rows


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_tally_reports_the_first_then_the_count_a_window_later() -> None:
    clock = Clock()
    tally = RefusalTally(60, clock=clock)
    assert [tally.due("a") for _ in range(5)] == [1, 0, 0, 0, 0]
    assert tally.due("b") == 1  # keys are independent
    clock.now += 60
    assert tally.due("a") == 5  # the four counted since, and this one
    assert tally.due("a") == 0


def _details(record) -> dict:
    return json.loads(record.details) if isinstance(record.details, str) else dict(record.details)


def test_a_locked_out_address_writes_one_record_a_minute(context, authenticator, issue) -> None:
    clock = Clock()
    authenticator.refusals = RefusalTally(clock=clock)
    good = f"Bearer {issue('api_key').token}"
    for attempt in range(context.workspace.settings.security.lockout_failures):
        with pytest.raises(AuthenticationFailed):
            authenticator.authenticate(f"Bearer stk_0123456789abcdef_{'A' * 42}{attempt}", "10.6.6.6")
    failures = len(audit_rows(context, "auth.failure"))
    assert failures == context.workspace.settings.security.lockout_failures  # each failed credential
    for _ in range(10):
        with pytest.raises(LockedOut):
            authenticator.authenticate(good, "10.6.6.6")
    locked = [r for r in audit_rows(context, "auth.failure") if r.reason == "locked_out"]
    assert len(locked) == 1 and _details(locked[0])["refusals"] == 1
    clock.now += 60
    with pytest.raises(LockedOut):
        authenticator.authenticate(good, "10.6.6.6")
    locked = [r for r in audit_rows(context, "auth.failure") if r.reason == "locked_out"]
    assert [_details(r)["refusals"] for r in locked] == [1, 10]
    assert all(r.source == "api:10.6.6.6" and r.result == "denied" for r in locked)


def test_requests_without_a_credential_are_coalesced_per_address(context, authenticator) -> None:
    for address in ("10.1.1.1", "10.1.1.1", "10.1.1.1", "10.2.2.2"):
        with pytest.raises(AuthenticationFailed):
            authenticator.authenticate(None, address)
    missing = [r for r in audit_rows(context, "auth.failure") if r.reason == "missing"]
    assert sorted(r.source for r in missing) == ["api:10.1.1.1", "api:10.2.2.2"]


def test_a_caller_over_its_rate_writes_one_record_a_minute(context, authenticator, issue) -> None:
    authenticator.buckets = TokenBuckets(rate=0.001, burst=1)
    token = f"Bearer {issue('api_key').token}"
    authenticator.authenticate(token, "10.3.3.3")
    for _ in range(5):
        with pytest.raises(RateLimited):
            authenticator.authenticate(token, "10.3.3.3")
    limited = audit_rows(context, "auth.rate_limited")
    assert len(limited) == 1 and _details(limited[0])["refusals"] == 1
