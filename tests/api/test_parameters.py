"""Every request field of both protocols is honoured (shown here by its effect) or refused by name (422
in the protocol's error shape, saying what is served instead). Issue 18, first part."""

from __future__ import annotations

import types

import httpx
import pytest

from tests.api.conftest import build_app
from tests.serving.helpers import TOKEN, serve_live

AUTH = {"Authorization": f"Bearer {TOKEN}"}
CHAT = "/v1/chat/completions"
USER = [{"role": "user", "content": "解释债券违约风险"}]
LONG = "".join(f"第{i}条：利率风险与信用风险。" for i in range(300))  # far over the 512-token context


def _generate(live, inputs: str, **parameters) -> httpx.Response:
    body = {"inputs": inputs, "parameters": {"max_new_tokens": 12, "details": True, **parameters}}
    return httpx.post(f"{live.url}/generate", json=body, headers=AUTH, timeout=60)


def _chat(live, **fields) -> httpx.Response:
    body = {"model": "tiny@v1", "messages": USER, "max_tokens": 12, "temperature": 0, **fields}
    return httpx.post(f"{live.url}{CHAT}", json=body, headers=AUTH, timeout=60)


# --- TGI: honoured ---------------------------------------------------------------------------------
def test_truncate_keeps_the_last_tokens_of_the_inputs(live, tiny) -> None:
    from stockade.serving.prompts import last_tokens

    assert _generate(live, LONG).status_code == 422  # too long without it
    cut = _generate(live, LONG, truncate=60)
    assert cut.status_code == 200, cut.text
    tail = last_tokens(tiny[1], LONG, 60)
    assert LONG.endswith(tail) and len(tiny[1](tail, add_special_tokens=False)["input_ids"]) <= 60
    same = _generate(live, tail)
    assert cut.json()["details"]["tokens"] == same.json()["details"]["tokens"]
    short = _generate(live, "存款利率", truncate=60)  # shorter than N: unchanged
    assert short.json() == _generate(live, "存款利率").json()


def test_frequency_penalty_stops_greedy_repeats(live) -> None:
    def ids(**parameters) -> list[int]:
        response = _generate(live, "什么是债券？", max_new_tokens=40, **parameters)
        return [t["id"] for t in response.json()["details"]["tokens"]]

    plain, penalised = ids(), ids(frequency_penalty=2.0)
    assert len(set(plain)) < len(plain) and len(set(penalised)) == len(penalised) == 40
    assert _generate(live, "x", frequency_penalty=2.5).status_code == 422


def test_typical_p_samples_from_the_typical_set(live) -> None:
    def text(**parameters) -> dict:
        return _generate(live, "存款", max_new_tokens=16, seed=3, **parameters).json()

    typical, again, plain = text(typical_p=0.2), text(typical_p=0.2), text(do_sample=True)
    assert typical["details"]["seed"] == 3  # typical_p alone samples, as in TGI
    assert typical == again and typical["generated_text"] != plain["generated_text"]
    assert _generate(live, "x", typical_p=0).status_code == 422


@pytest.fixture(scope="module")
def hub(live):
    from huggingface_hub import InferenceClient, constants

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(constants, "HF_HUB_OFFLINE", False)
        yield InferenceClient(base_url=live.url, api_key=TOKEN)


def _field(value) -> dict:
    return value if isinstance(value, dict) else vars(value)


def test_top_n_tokens_through_the_hub_client(hub) -> None:
    out = hub.text_generation("什么是债券？", max_new_tokens=6, details=True, top_n_tokens=3)
    tokens, top = out.details.tokens, out.details.top_tokens
    assert len(top) == len(tokens) == 6 and all(len(step) == 3 for step in top)
    for token, step in zip(tokens, top, strict=True):  # greedy: the best alternative is the token
        step = [_field(s) for s in step]  # the hub client leaves lists of lists as dicts
        assert step[0]["id"] == token.id and step[0]["logprob"] == pytest.approx(token.logprob)
        assert step[0]["logprob"] >= step[1]["logprob"] >= step[2]["logprob"]
    events = list(
        hub.text_generation("什么是债券？", max_new_tokens=6, details=True, stream=True, top_n_tokens=3)
    )
    assert [e.top_tokens[0].id for e in events] == [t.id for t in tokens]
    assert events[-1].generated_text == out.generated_text


def test_decoder_input_details_gives_the_prompt_tokens_with_logprobs(hub, live) -> None:
    out = hub.text_generation("什么是债券？", max_new_tokens=2, details=True, decoder_input_details=True)
    prefill = out.details.prefill
    assert len(prefill) > 5 and prefill[0].logprob is None
    assert all(p.logprob < 0 for p in prefill[1:]) and "债券" in "".join(p.text for p in prefill)
    plain = hub.text_generation("什么是债券？", max_new_tokens=2, details=True)
    assert plain.details.prefill == []
    body = {"inputs": "x", "parameters": {"decoder_input_details": True}}
    streamed = httpx.post(f"{live.url}/generate_stream", json=body, headers=AUTH)
    assert streamed.status_code == 422 and "decoder_input_details" in streamed.json()["error"]


# --- TGI: refused -------------------------------------------------------------------------------------
REFUSED_TGI = [
    ({"watermark": True}, "parameters.watermark: watermarking is not supported"),
    ({"grammar": {"type": "xml", "value": "<a/>"}}, 'parameters.grammar: send {"type": "json"'),
    ({"best_of": 2}, "parameters.best_of: only best_of=1"),
    ({"logit_bias": {"1": 2}}, "unsupported field(s) logit_bias"),
]


@pytest.mark.parametrize(("parameters", "message"), REFUSED_TGI)
def test_unserved_tgi_parameters_are_refused_by_name(live, parameters: dict, message: str) -> None:
    response = _generate(live, "x", **parameters)
    assert response.status_code == 422, response.text
    assert response.json()["error_type"] == "validation" and message in response.json()["error"]


def test_decoder_input_details_is_refused_while_the_output_guard_is_on() -> None:
    from stockade.api.errors import ApiError
    from stockade.api.routes.tgi import _refuse_unserved
    from stockade.api.schemas import TgiParameters

    state = types.SimpleNamespace(model_id="m", pii_guard=types.SimpleNamespace(output="mask"))
    with pytest.raises(ApiError, match="output guard"):
        _refuse_unserved(TgiParameters(decoder_input_details=True), state, stream=False)


# --- OpenAI: honoured --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def openai_client(live):
    from openai import OpenAI

    return OpenAI(base_url=f"{live.url}/v1", api_key=TOKEN, max_retries=0)


def test_logprobs_and_top_logprobs_in_openais_shape(openai_client) -> None:
    kwargs = {"model": "tiny@v1", "messages": USER, "max_tokens": 8, "temperature": 0}
    reply = openai_client.chat.completions.create(logprobs=True, top_logprobs=3, **kwargs)
    content = reply.choices[0].logprobs.content
    assert len(content) == reply.usage.completion_tokens == 8
    for entry in content:  # greedy: the best alternative is the token itself
        assert len(entry.top_logprobs) == 3 and entry.top_logprobs[0].token == entry.token
        assert entry.top_logprobs[0].logprob == pytest.approx(entry.logprob) and entry.logprob <= 0
        assert bytes(entry.bytes).decode("utf-8") == entry.token
    chunks = list(openai_client.chat.completions.create(logprobs=True, top_logprobs=3, stream=True, **kwargs))
    streamed = [
        e for c in chunks if c.choices and c.choices[0].logprobs for e in c.choices[0].logprobs.content
    ]
    assert [(e.token, round(e.logprob, 4)) for e in streamed] == [
        (e.token, round(e.logprob, 4)) for e in content
    ]
    only = openai_client.chat.completions.create(logprobs=True, **kwargs).choices[0].logprobs.content
    assert len(only) == 8 and all(e.top_logprobs == [] for e in only)
    assert openai_client.chat.completions.create(**kwargs).choices[0].logprobs is None


@pytest.mark.parametrize("field", ["frequency_penalty", "presence_penalty"])
def test_penalties_change_the_greedy_reply(live, field: str) -> None:
    plain = _chat(live, max_tokens=40, logprobs=True).json()["choices"][0]
    penalised = _chat(live, max_tokens=40, logprobs=True, **{field: 2.0}).json()["choices"][0]
    assert penalised["message"]["content"] != plain["message"]["content"]
    # distinct tokens have distinct text, but for pieces of a character (decoded as U+FFFD)
    tokens = [e["token"] for e in penalised["logprobs"]["content"] if "\ufffd" not in e["token"]]
    plain_tokens = [e["token"] for e in plain["logprobs"]["content"] if "\ufffd" not in e["token"]]
    assert len(set(plain_tokens)) < len(plain_tokens) and len(set(tokens)) == len(tokens)


def test_neutral_tool_fields_and_text_format_are_accepted(live) -> None:
    plain = _chat(live).json()["choices"][0]["message"]["content"]
    for fields in ({"tool_choice": "none"}, {"tools": []}, {"response_format": {"type": "text"}}):
        response = _chat(live, **fields)
        assert response.status_code == 200 and response.json()["choices"][0]["message"]["content"] == plain


def test_user_is_recorded_hashed_in_the_audit_record(tiny) -> None:
    class Audit:
        def __init__(self) -> None:
            self.records: list[dict] = []

        def record(self, action: str, target: str | None, **details) -> None:
            self.records.append({"action": action, **details})

    audit = Audit()
    app, engine = build_app(tiny, audit=audit)
    server = serve_live(app)
    try:
        assert _chat(server, user="alice@example.com").status_code == 200
        assert _chat(server).status_code == 200
    finally:
        server.stop()
        engine.stop()
    first, second = audit.records
    assert first["end_user"].startswith("sha256:") and "alice" not in str(first)
    assert "end_user" not in second


# --- OpenAI: refused ------------------------------------------------------------------------------------
TOOL = {"type": "function", "function": {"name": "rate", "parameters": {"type": "object"}}}
REFUSED_CHAT = [
    ({"tools": [TOOL], "parallel_tool_calls": False}, "parallel_tool_calls", 'under "auto" the answer'),
    ({"tool_choice": "required"}, "tool_choice", "no tools were sent"),
    ({"tools": [TOOL], "tool_choice": {"type": "function", "function": {"name": "x"}}}, "tool_choice", "'x'"),
    ({"tools": [{"type": "code_interpreter"}]}, "tools", "only function tools are served"),
    ({"parallel_tool_calls": False}, "parallel_tool_calls", "no tools were sent"),
    ({"functions": [TOOL["function"]]}, "functions", "deprecated function calling is not served"),
    ({"function_call": "auto"}, "function_call", "send tools and tool_choice instead"),
    ({"response_format": {"type": "xml"}}, "response_format", '{"type": "json_object"}'),
    ({"response_format": {"type": "json_schema", "json_schema": {}}}, "response_format", '{"type": "text"}'),
    ({"response_format": {"type": "json_object"}, "tools": [TOOL]}, "response_format", "combined with tools"),
    ({"top_logprobs": 2}, "top_logprobs", "needs logprobs: true"),
    ({"n": 2}, "n", "only one choice per request"),
    ({"logit_bias": {"15": 5}}, None, "unsupported field(s) logit_bias"),
    ({"metadata": {"a": "b"}, "store": True}, None, "unsupported field(s) metadata, store"),
    ({"messages": [{"role": "user", "content": "x", "name": "bob"}]}, None, "unsupported field(s) name"),
    ({"stream_options": {"include_obfuscation": False}}, None, "unsupported field(s) include_obfuscation"),
]


@pytest.mark.parametrize(("fields", "param", "message"), REFUSED_CHAT)
def test_unserved_openai_fields_are_refused_by_name(
    live, fields: dict, param: str | None, message: str
) -> None:
    response = _chat(live, **fields)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and message in error["message"]
    assert error["param"] == param
    if param is None:  # an unknown field: the message says which fields are accepted
        assert "the fields accepted here are" in error["message"]


def test_the_openai_client_gets_a_422_naming_tools(openai_client) -> None:
    import openai

    with pytest.raises(openai.UnprocessableEntityError) as caught:
        openai_client.chat.completions.create(
            model="tiny@v1", messages=USER, tools=[{"type": "function", "function": {}}], max_tokens=4
        )
    assert "tools" in str(caught.value)
