"""Property-based requests from the API's own OpenAPI schema, authenticated: never a 5xx."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.security.conftest import Served


def _shorten(case) -> None:
    """Keep generation short on a CPU: the limits are what is probed, not the model."""
    body = case.body if isinstance(case.body, dict) else {}
    for holder in (body, body.get("parameters")):
        if isinstance(holder, dict):
            for key in ("max_new_tokens", "max_tokens"):
                if isinstance(holder.get(key), int):
                    holder[key] = min(holder[key], 4)


def test_no_server_errors_on_any_operation(served: Served) -> None:
    schema = schemathesis.openapi.from_dict(served.app.openapi())
    headers = {"Authorization": f"Bearer {served.api_key}"}
    seen: list[tuple[str, str, int]] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 6
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case) -> None:
            _shorten(case)
            response = case.call(base_url=served.url, headers=headers, timeout=60)
            seen.append((case.method, case.path, response.status_code))
            assert response.status_code < 500, (
                case.method,
                case.path,
                response.status_code,
                response.text[:300],
            )
            assert response.status_code != 401  # authenticated: the credential is never the problem

        check()
    assert len(seen) >= 20
    assert {path for _, path, _ in seen} >= {"/generate", "/v1/chat/completions", "/info"}
