"""TGI ``POST /tokenize``, the token count route ``POST /v1/tokenize`` and TGI's ``/info`` fields."""

from __future__ import annotations

import httpx
import pytest

from tests.serving.helpers import TOKEN

AUTH = {"Authorization": f"Bearer {TOKEN}"}
TEXT = "解释债券违约风险 and rates"


def test_tokenize_has_tgis_shape_and_offsets(live, tiny) -> None:
    tokenizer = tiny[1]
    response = httpx.post(f"{live.url}/tokenize", json={"inputs": TEXT}, headers=AUTH)
    assert response.status_code == 200, response.text
    tokens = response.json()
    assert [t["id"] for t in tokens] == tokenizer(TEXT, add_special_tokens=False)["input_ids"]
    assert all(set(t) == {"id", "text", "start", "stop"} for t in tokens)
    assert all(TEXT[t["start"] : t["stop"]] == t["text"] for t in tokens)
    assert tokens[0]["start"] == 0 and tokens[-1]["stop"] == len(TEXT)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"inputs": "x", "parameters": {"max_new_tokens": 3}}, "parameters: tokenizing takes no parameters"),
        ({"inputs": "x", "add_special_tokens": True}, "unsupported field(s) add_special_tokens"),
        ({"inputs": ""}, "inputs"),
    ],
)
def test_tokenize_refuses_what_it_does_not_use(live, body: dict, message: str) -> None:
    response = httpx.post(f"{live.url}/tokenize", json=body, headers=AUTH)
    assert response.status_code == 422 and message in response.json()["error"]


def test_the_count_route_counts_what_generation_sees(live, tiny) -> None:
    from stockade.serving.prompts import raw_prompt_ids

    count = httpx.post(f"{live.url}/v1/tokenize", json={"prompt": TEXT}, headers=AUTH).json()
    assert count == {"count": len(raw_prompt_ids(tiny[1], TEXT)), "max_model_len": 512}
    messages = [{"role": "system", "content": "你是银行助手"}, {"role": "user", "content": TEXT}]
    counted = httpx.post(f"{live.url}/v1/tokenize", json={"messages": messages}, headers=AUTH).json()
    body = {"model": "tiny@v1", "messages": messages, "max_tokens": 1, "temperature": 0}
    chat = httpx.post(f"{live.url}/v1/chat/completions", json=body, headers=AUTH).json()
    assert counted["count"] == chat["usage"]["prompt_tokens"]  # the chat template included
    body = {"model": "tiny@v1", "prompt": TEXT, "max_tokens": 1, "temperature": 0}
    completion = httpx.post(f"{live.url}/v1/completions", json=body, headers=AUTH).json()
    assert count["count"] == completion["usage"]["prompt_tokens"]
    for wrong in ({}, {"prompt": "x", "messages": messages}):
        response = httpx.post(f"{live.url}/v1/tokenize", json=wrong, headers=AUTH)
        assert response.status_code == 422 and response.json()["error"]["param"] == "prompt"
    assert httpx.post(f"{live.url}/v1/tokenize", json={"prompt": "x"}).status_code == 401


# TGI's router Info (text-generation-inference's `GET /info`), as its clients read it
TGI_INFO = {
    "model_id": str,
    "model_sha": (str, type(None)),
    "model_dtype": str,
    "model_device_type": str,
    "model_pipeline_tag": (str, type(None)),
    "max_concurrent_requests": int,
    "max_best_of": int,
    "max_stop_sequences": int,
    "max_input_tokens": int,
    "max_total_tokens": int,
    "validation_workers": int,
    "max_client_batch_size": int,
    "router": str,
    "version": str,
    "sha": (str, type(None)),
    "docker_label": (str, type(None)),
}


def test_info_has_tgis_fields(live) -> None:
    info = httpx.get(f"{live.url}/info", headers=AUTH).json()
    for field, kind in TGI_INFO.items():
        assert field in info and isinstance(info[field], kind), field
    assert info["max_total_tokens"] == 512 and info["max_input_tokens"] == 511
    assert info["model_device_type"] == "cpu" and info["model_dtype"] == "float32"
    assert info["adapters"] == []


def test_tokenize_shows_the_text_a_response_would_with_the_output_guard_on(tiny) -> None:
    from stockade.serving.pii_guard import PiiGuard
    from tests.api.conftest import build_app
    from tests.serving.helpers import serve_live

    mobile = "13812345678"
    app, engine = build_app(tiny, pii_guard=PiiGuard("mask"))
    server = serve_live(app)
    try:
        response = httpx.post(f"{server.url}/tokenize", json={"inputs": f"请联系{mobile}谢谢"}, headers=AUTH)
        count = httpx.post(f"{server.url}/v1/tokenize", json={"prompt": f"请联系{mobile}谢谢"}, headers=AUTH)
    finally:
        server.stop()
        engine.stop()
    assert response.status_code == 200 and count.status_code == 200
    text = "".join(t["text"] for t in response.json())
    assert mobile not in response.text and text.startswith("请联系") and text.endswith("谢谢")
    assert mobile not in count.text
