"""The oversized-prompt attack of issue 14, measured: a normal ``/generate`` keeps its latency while 8
credentials each send 3 requests/s of 1 MB prompts. (Before the fix, each such prompt was tokenised on the
event loop, about 1.5 s of CPU, and a normal call went from tens of milliseconds to seconds.)

``python -m stockade.bench.serve_attack`` measures the same on the real ``stockade serve`` process (goal:
within 2x); this test uses the in-process server and a generous bound, 3x of the median, with a second
try when the first is over it, to stay robust on a loaded CI.
"""

from __future__ import annotations

import time

import pytest

from stockade.bench.serve_attack import Attack, measure
from stockade.security.principal import AuthenticationFailed, Principal
from tests.api.conftest import build_app
from tests.serving.helpers import TOKEN, serve_live

ATTACKERS = [f"attacker-{i}-0123456789abcdef" for i in range(8)]


class ManyTokens:
    """Test-only: each known bearer token is its own credential."""

    def __init__(self, tokens: list[str]) -> None:
        self.tokens = set(tokens)

    def authenticate(self, authorization: str | None, client_address: str) -> Principal:
        token = (authorization or "").removeprefix("Bearer ").strip()
        if token not in self.tokens:
            raise AuthenticationFailed("unknown token", reason="unknown")
        return Principal("tester", frozenset({"api_client"}), "api_key", token[:12], None)


def _phases(url: str) -> tuple[dict, dict, dict]:
    unloaded = measure(url, TOKEN, 20, 16, 0.05)
    with Attack(url, ATTACKERS, rate=3.0, prompt_bytes=1_000_000) as running:
        time.sleep(1.5)
        loaded = measure(url, TOKEN, 20, 16, 0.05)
    return unloaded, loaded, running.report()


@pytest.mark.slow
def test_a_normal_call_keeps_its_latency_under_the_oversized_prompt_attack(tiny) -> None:
    app, engine = build_app(tiny, authenticator=ManyTokens([TOKEN, *ATTACKERS]))
    server = serve_live(app)
    tries = []
    try:
        measure(server.url, TOKEN, 5, 16, 0.05)  # warm-up
        for _ in range(2):  # a second try only against a noisy machine: unfixed, it is about 100x
            unloaded, loaded, attack = _phases(server.url)
            assert unloaded["statuses"] == {"200": 20} and loaded["statuses"] == {"200": 20}
            refused = attack["statuses"].get("422", 0)
            assert refused >= 8 * 3 and set(attack["statuses"]) == {"422"}, attack  # it ran, all refused
            tries.append((loaded["median_ms"] / unloaded["median_ms"], unloaded, loaded, attack))
            if tries[-1][0] <= 3.0:
                break
    finally:
        server.stop()
        engine.stop()
    assert min(t[0] for t in tries) <= 3.0, tries
