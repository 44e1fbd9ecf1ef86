"""A lone UTF-16 surrogate ("\\udbff" in JSON) is not text: every route refuses it with 422 in its own
protocol's shape, never a 500 (issue 14, item 6)."""

from __future__ import annotations

import httpx
import pytest

from tests.serving.helpers import TOKEN

AUTH = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
# Raw JSON bodies: json.dumps would refuse to write the surrogate itself.
BODIES = {
    "/generate": '{"inputs": "\\udbff", "parameters": {"max_new_tokens": 2}}',
    "/generate_stream": '{"inputs": "a\\udbffb", "parameters": {"max_new_tokens": 2}}',
    "/v1/chat/completions": '{"model": "tiny@v1", "messages": [{"role": "user", "content": "\\udbff"}]}',
}


@pytest.mark.parametrize("route", sorted(BODIES))
def test_a_lone_surrogate_is_refused_with_422(live, route: str) -> None:
    response = httpx.post(f"{live.url}{route}", content=BODIES[route], headers=AUTH, timeout=60)
    assert response.status_code == 422, response.text
    body = response.json()
    if route.startswith("/v1/"):
        assert "surrogate" in body["error"]["message"]
    else:
        assert "surrogate" in body["error"]


def test_stop_strings_and_content_parts_are_checked_too(live) -> None:
    stop = '{"inputs": "hi", "parameters": {"max_new_tokens": 2, "stop": ["\\ud800"]}}'
    parts = (
        '{"model": "tiny@v1", "messages": '
        '[{"role": "user", "content": [{"type": "text", "text": "\\udc00"}]}]}'
    )
    assert httpx.post(f"{live.url}/generate", content=stop, headers=AUTH, timeout=60).status_code == 422
    response = httpx.post(f"{live.url}/v1/chat/completions", content=parts, headers=AUTH, timeout=60)
    assert response.status_code == 422, response.text
