"""Token-bucket rate limits, keyed by client address or by credential, and the tally that coalesces the
audit records of repeated refusals."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from stockade.security.principal import AccessDenied

MAX_KEYS = 100_000  # buckets kept; full ones (idle callers) are dropped first


class RateLimited(AccessDenied):
    """Too many requests (HTTP 429, with ``Retry-After: retry_after``)."""

    http_status = 429

    def __init__(self, what: str, *, retry_after: float, where: str | None = None) -> None:
        super().__init__(what, where=where, fix=f"retry after {retry_after:.0f} s")
        self.retry_after = retry_after


@dataclass
class _Bucket:
    tokens: float
    updated: float


class TokenBuckets:
    """One bucket per key: ``burst`` tokens, refilled at ``rate`` per second. Thread-safe.

    Every request takes a token, refused ones too (the bucket goes down to ``-burst``): a caller over its
    limit gets through again only after it has slowed down below the rate."""

    def __init__(self, rate: float, burst: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """Take one token; return 0 when allowed, else the seconds until one is available."""
        now = self.clock()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                if len(self._buckets) >= MAX_KEYS:
                    self._prune(now)
                bucket = self._buckets[key] = _Bucket(float(self.burst), now)
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
            allowed = bucket.tokens >= 1
            # a refused request counts too (down to -burst): a caller that keeps sending past its limit
            # stays refused until it slows down, instead of getting every refill at once
            bucket.tokens = max(-self.burst, bucket.tokens - 1)
            return 0.0 if allowed else (1 - bucket.tokens) / self.rate

    def _prune(self, now: float) -> None:
        full = [k for k, b in self._buckets.items() if b.tokens + (now - b.updated) * self.rate >= self.burst]
        for key in full or list(self._buckets)[: len(self._buckets) // 2]:
            del self._buckets[key]


REFUSAL_WINDOW = 60.0


class RefusalTally:
    """Coalesces the audit records of repeated refusals: per key (an address and why), the first refusal
    is reported at once, the ones after it within ``window`` seconds are only counted, and the count goes
    with the next report. ``due`` says how many refusals a record made now stands for (0: none is due).
    Thread-safe; keys are forgotten once more than ``MAX_KEYS`` are held."""

    def __init__(
        self, window: float = REFUSAL_WINDOW, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.window = window
        self.clock = clock
        self._seen: dict[object, tuple[float, int]] = {}  # key -> (last report, refusals counted since)
        self._lock = threading.Lock()

    def due(self, key: object) -> int:
        now = self.clock()
        with self._lock:
            last, pending = self._seen.get(key, (now - self.window, 0))
            if now - last >= self.window:
                if len(self._seen) >= MAX_KEYS:
                    self._seen.clear()
                self._seen[key] = (now, 0)
                return pending + 1
            self._seen[key] = (last, pending + 1)
            return 0
