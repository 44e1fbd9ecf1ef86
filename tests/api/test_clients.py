"""The real huggingface_hub and openai clients, and the deployment guide's curl body, on a live server."""

from __future__ import annotations

import httpx
import pytest

from tests.serving.helpers import TOKEN

AUTH = {"Authorization": f"Bearer {TOKEN}"}
GUIDE_BODY = {"inputs": "解释债券违约风险", "parameters": {"max_new_tokens": 200}}


def test_the_deployment_guides_curl_body_works(live) -> None:
    response = httpx.post(f"{live.url}/generate", json=GUIDE_BODY, headers=AUTH, timeout=120)
    assert response.status_code == 200, response.text
    body = response.json()
    assert isinstance(body["generated_text"], str) and body["generated_text"]
    assert "details" not in body


@pytest.fixture(scope="module")
def hub(live):
    """The client as a user runs it. The test process runs Stockade's offline switches, which make
    huggingface_hub refuse every URL; the server here is on loopback, which the egress guard allows."""
    from huggingface_hub import InferenceClient, constants

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(constants, "HF_HUB_OFFLINE", False)
        yield InferenceClient(base_url=live.url, api_key=TOKEN)


def test_inference_client_blocking_and_streaming_agree(hub) -> None:
    text = hub.text_generation("什么是债券？", max_new_tokens=12)
    details = hub.text_generation("什么是债券？", max_new_tokens=12, details=True)
    pieces = list(hub.text_generation("什么是债券？", max_new_tokens=12, stream=True))
    events = list(hub.text_generation("什么是债券？", max_new_tokens=12, stream=True, details=True))
    assert text == details.generated_text == "".join(pieces) == events[-1].generated_text
    assert details.details.generated_tokens == 12 and details.details.finish_reason == "length"
    assert [t.id for t in details.details.tokens] == [e.token.id for e in events]
    assert events[-1].details.finish_reason == "length" and events[-1].details.input_length > 0
    assert all(e.generated_text is None for e in events[:-1])


def test_inference_client_stop_sequence(hub) -> None:
    full = hub.text_generation("解释债券违约风险", max_new_tokens=30)
    stop = full[len(full) // 2 : len(full) // 2 + 2]
    cut = hub.text_generation("解释债券违约风险", max_new_tokens=30, stop=[stop], details=True)
    assert cut.details.finish_reason == "stop_sequence"
    assert cut.generated_text == full[: full.index(stop) + len(stop)]  # TGI keeps the stop text
    streamed = list(hub.text_generation("解释债券违约风险", max_new_tokens=30, stop=[stop], stream=True))
    assert "".join(streamed) == cut.generated_text


def test_inference_client_seeds(hub) -> None:
    def sample(seed: int) -> str:
        return hub.text_generation(
            "存款", max_new_tokens=16, do_sample=True, temperature=1.5, seed=seed, details=True
        )

    first, again, other = sample(11), sample(11), sample(12)
    assert first.generated_text == again.generated_text and first.details.seed == 11
    assert first.generated_text != other.generated_text


@pytest.fixture(scope="module")
def openai_client(live):
    from openai import OpenAI

    return OpenAI(base_url=f"{live.url}/v1", api_key=TOKEN, max_retries=0)


def test_openai_chat_blocking_and_streaming(openai_client) -> None:
    messages = [
        {"role": "system", "content": "你是银行助手"},
        {"role": "user", "content": "解释债券违约风险"},
    ]
    reply = openai_client.chat.completions.create(
        model="tiny@v1", messages=messages, max_tokens=10, temperature=0
    )
    chunks = list(
        openai_client.chat.completions.create(
            model="tiny@v1",
            messages=messages,
            max_tokens=10,
            temperature=0,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert reply.choices[0].message.content == streamed and streamed
    assert reply.choices[0].finish_reason == "length"
    assert reply.usage.completion_tokens == 10 and reply.usage.prompt_tokens > 5
    assert chunks[-1].usage.completion_tokens == 10
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "length"


def test_openai_multi_turn_and_stop(openai_client) -> None:
    messages = [
        {"role": "user", "content": "你好"},
        {"role": "assistant", "content": "您好"},
        {"role": "user", "content": "利率是多少"},
    ]
    full = openai_client.chat.completions.create(
        model="tiny@v1", messages=messages, max_tokens=20, temperature=0
    )
    text = full.choices[0].message.content
    stop = text[6:8]
    cut = openai_client.chat.completions.create(
        model="tiny@v1", messages=messages, max_tokens=20, temperature=0, stop=[stop]
    )
    assert cut.choices[0].message.content == text[: text.index(stop)]  # OpenAI drops the stop text
    assert cut.choices[0].finish_reason == "stop"


def test_openai_seed_and_models(openai_client) -> None:
    def sample(seed: int) -> str:
        kwargs = {"model": "tiny@v1", "max_tokens": 12, "temperature": 1.2, "seed": seed}
        return openai_client.chat.completions.create(messages=[{"role": "user", "content": "hi"}], **kwargs)

    assert sample(5).choices[0].message.content == sample(5).choices[0].message.content
    assert [m.id for m in openai_client.models.list()] == ["tiny@v1"]


def test_info_health_and_metrics(live) -> None:
    info = httpx.get(f"{live.url}/info", headers=AUTH).json()
    assert info["model_id"] == "tiny@v1" and info["max_total_tokens"] == 512 and info["max_batch_size"] == 4
    assert httpx.get(f"{live.url}/health").status_code == 200  # no credential needed
    metrics = httpx.get(f"{live.url}/metrics", headers=AUTH).text
    for name in (
        "stockade_time_to_first_token_seconds_count",
        "stockade_inter_token_latency_seconds_count",
        "stockade_e2e_request_latency_seconds_count",
        "stockade_queue_time_seconds_count",
        "stockade_prompt_tokens_total",
        "stockade_generated_tokens_total",
        "stockade_running_requests",
        "stockade_waiting_requests",
        'stockade_requests_total{route="/generate",status="200"}',
    ):
        assert name in metrics
    assert "解释" not in metrics  # never the prompt


@pytest.mark.parametrize("path", ["/generate", "/v1/chat/completions", "/info", "/metrics", "/v1/models"])
def test_every_route_but_health_needs_the_token(live, path: str) -> None:
    method = httpx.get if path in ("/info", "/metrics", "/v1/models") else httpx.post
    kwargs = {} if method is httpx.get else {"json": {"inputs": "x"}}
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}):
        response = method(f"{live.url}{path}", headers=headers, **kwargs)
        assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"
        body = response.json()
        if path.startswith("/v1"):
            assert body["error"]["type"] == "authentication_error" and body["error"]["message"]
        else:
            assert body == {"error": "invalid or missing bearer token", "error_type": "authentication"}
