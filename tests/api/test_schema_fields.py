"""Every field of the clients' own request models is honoured or refused by name (issue 18).

The fields come from the clients as installed: ``openai``'s chat and completions ``CompletionCreateParams``
(TypedDicts) and ``huggingface_hub``'s ``TextGenerationInputGenerateParameters`` and
``ChatCompletionInput`` (dataclasses). Each field is either

* honoured: listed with the test that shows its effect (the test must exist), and accepted here; or
* refused: sent with a value and answered 422 naming the field.

A client release that adds a field fails :func:`test_every_client_field_is_classified` until the field
is honoured (with a test) or refused. Tool calling and structured output (``tools``, ``response_format``,
``grammar``...) may be either: honoured once served, refused by name until then.

The effect tests for fields no other module shows at the HTTP level are at the end of this file.
"""

from __future__ import annotations

import dataclasses
import importlib
import typing
from typing import Any

import httpx
import pytest

from tests.serving.helpers import TOKEN

AUTH = {"Authorization": f"Bearer {TOKEN}"}
USER = [{"role": "user", "content": "解释债券违约风险"}]
TOOL = {"type": "function", "function": {"name": "rate", "parameters": {"type": "object"}}}

P = "tests/api/test_parameters.py::"
C = "tests/api/test_clients.py::"
S = "tests/api/test_schema_fields.py::"
R = "tests/api/test_routes_completions.py::"
A = "tests/serving/test_adapters.py::"


def chat_fields() -> set[str]:
    from openai.types.chat import completion_create_params as params

    return set(typing.get_type_hints(params.CompletionCreateParamsBase)) | set(
        typing.get_type_hints(params.CompletionCreateParamsStreaming)
    )


def completion_fields() -> set[str]:
    from openai.types import completion_create_params as params

    return set(typing.get_type_hints(params.CompletionCreateParamsBase)) | set(
        typing.get_type_hints(params.CompletionCreateParamsStreaming)
    )


def tgi_fields() -> set[str]:
    from huggingface_hub import TextGenerationInputGenerateParameters

    return {f.name for f in dataclasses.fields(TextGenerationInputGenerateParameters)}


def tgi_input_fields() -> set[str]:
    from huggingface_hub import TextGenerationInput

    return {f.name for f in dataclasses.fields(TextGenerationInput)}


def hub_chat_fields() -> set[str]:
    from huggingface_hub import ChatCompletionInput

    return {f.name for f in dataclasses.fields(ChatCompletionInput)}


# --- honoured: field -> the test that shows its effect -----------------------------------------------
CHAT_HONOURED = {
    "messages": C + "test_openai_multi_turn_and_stop",
    "model": A + "test_models_lists_base_and_adapters_and_responses_name_the_choice",
    "max_tokens": C + "test_openai_chat_blocking_and_streaming",
    "max_completion_tokens": S + "test_max_completion_tokens_limits_the_reply",
    "temperature": S + "test_chat_temperature_and_top_p",
    "top_p": S + "test_chat_temperature_and_top_p",
    "stream": C + "test_openai_chat_blocking_and_streaming",
    "stream_options": C + "test_openai_chat_blocking_and_streaming",
    "stop": C + "test_openai_multi_turn_and_stop",
    "seed": C + "test_openai_seed_and_models",
    "frequency_penalty": P + "test_penalties_change_the_greedy_reply",
    "presence_penalty": P + "test_penalties_change_the_greedy_reply",
    "logprobs": P + "test_logprobs_and_top_logprobs_in_openais_shape",
    "top_logprobs": P + "test_logprobs_and_top_logprobs_in_openais_shape",
    "user": P + "test_user_is_recorded_hashed_in_the_audit_record",
}
COMPLETION_HONOURED = {
    "model": A + "test_models_lists_base_and_adapters_and_responses_name_the_choice",
    "prompt": R + "test_a_list_of_prompts_gives_one_choice_each",
    "max_tokens": R + "test_completion_is_the_raw_prompts_continuation_streamed_or_not",
    "temperature": R + "test_seeded_sampling_repeats_and_penalties_change_the_text",
    "top_p": R + "test_seeded_sampling_repeats_and_penalties_change_the_text",
    "seed": R + "test_seeded_sampling_repeats_and_penalties_change_the_text",
    "frequency_penalty": R + "test_seeded_sampling_repeats_and_penalties_change_the_text",
    "presence_penalty": R + "test_seeded_sampling_repeats_and_penalties_change_the_text",
    "stream": R + "test_completion_is_the_raw_prompts_continuation_streamed_or_not",
    "stream_options": R + "test_completion_is_the_raw_prompts_continuation_streamed_or_not",
    "stop": R + "test_echo_logprobs_and_stop",
    "echo": R + "test_echo_logprobs_and_stop",
    "logprobs": R + "test_echo_logprobs_and_stop",
    "user": R + "test_user_is_recorded_hashed_and_the_route_needs_a_token",
}
TGI_HONOURED = {
    "adapter_id": A + "test_each_adapter_answers_its_own_in_one_batch",
    "decoder_input_details": P + "test_decoder_input_details_gives_the_prompt_tokens_with_logprobs",
    "details": C + "test_inference_client_blocking_and_streaming_agree",
    "do_sample": S + "test_tgi_sampling_fields_take_effect",
    "temperature": S + "test_tgi_sampling_fields_take_effect",
    "top_k": S + "test_tgi_sampling_fields_take_effect",
    "top_p": S + "test_tgi_sampling_fields_take_effect",
    "repetition_penalty": S + "test_tgi_sampling_fields_take_effect",
    "frequency_penalty": P + "test_frequency_penalty_stops_greedy_repeats",
    "typical_p": P + "test_typical_p_samples_from_the_typical_set",
    "truncate": P + "test_truncate_keeps_the_last_tokens_of_the_inputs",
    "top_n_tokens": P + "test_top_n_tokens_through_the_hub_client",
    "max_new_tokens": S + "test_max_new_tokens_and_return_full_text",
    "return_full_text": S + "test_max_new_tokens_and_return_full_text",
    "seed": C + "test_inference_client_seeds",
    "stop": C + "test_inference_client_stop_sequence",
}

TGI_INPUT_HONOURED = {
    "inputs": C + "test_the_deployment_guides_curl_body_works",
    "parameters": C + "test_inference_client_blocking_and_streaming_agree",
    "stream": S + "test_stream_is_honoured_where_it_decides_and_refused_where_it_cannot",
}

# --- refused: field -> a value that is not neutral ----------------------------------------------------
CHAT_REFUSED: dict[str, Any] = {
    "n": 2,
    "logit_bias": {"15": 5},
    "audio": {"voice": "alloy", "format": "wav"},
    "metadata": {"team": "risk"},
    "modalities": ["text", "audio"],
    "moderation": {"model": "omni-moderation-latest"},
    "prediction": {"type": "content", "content": "x"},
    "prompt_cache_key": "k",
    "prompt_cache_options": {"mode": "explicit"},
    "prompt_cache_retention": "24h",
    "reasoning_effort": "low",
    "safety_identifier": "u-1",
    "service_tier": "flex",
    "store": True,
    "verbosity": "low",
    "web_search_options": {},
}
COMPLETION_REFUSED: dict[str, Any] = {"n": 2, "best_of": 2, "suffix": "。", "logit_bias": {"15": 5}}
TGI_REFUSED: dict[str, Any] = {"watermark": True, "best_of": 2}

# --- the tool-calling / structured-output fields: honoured once served, else refused by name ---------
TOOL_FIELDS: dict[str, Any] = {
    "tools": [TOOL],
    "tool_choice": "required",
    "parallel_tool_calls": False,
    "response_format": {"type": "json_object"},
    "functions": [TOOL["function"]],
    "function_call": {"name": "rate"},
    "tool_prompt": "Use the tools:",  # huggingface_hub's ChatCompletionInput (TGI's messages API)
    "grammar": {"type": "json", "value": {"type": "object"}},
}


def _test_exists(reference: str) -> bool:
    path, _, name = reference.partition("::")
    module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
    return callable(getattr(module, name, None))


@pytest.mark.parametrize(
    ("what", "fields", "honoured", "refused"),
    [
        ("openai chat", chat_fields, CHAT_HONOURED, CHAT_REFUSED),
        ("openai completions", completion_fields, COMPLETION_HONOURED, COMPLETION_REFUSED),
        ("huggingface_hub text_generation parameters", tgi_fields, TGI_HONOURED, TGI_REFUSED),
        ("huggingface_hub chat", hub_chat_fields, CHAT_HONOURED, CHAT_REFUSED),
        ("huggingface_hub text_generation input", tgi_input_fields, TGI_INPUT_HONOURED, {}),
    ],
)
def test_every_client_field_is_classified(what: str, fields, honoured: dict, refused: dict) -> None:
    unknown = sorted(fields() - set(honoured) - set(refused) - set(TOOL_FIELDS))
    assert not unknown, (
        f"{what}: the client has field(s) {unknown} that this server neither honours (with a test of "
        "its effect, listed here) nor refuses by name (422): serve or refuse them, then list them here"
    )
    assert not set(honoured) & set(refused)
    missing = [r for r in honoured.values() if not _test_exists(r)]
    assert not missing, f"honoured fields name tests that do not exist: {missing}"


def test_an_unclassified_client_field_fails_the_check() -> None:
    def grown() -> set[str]:
        return chat_fields() | {"brand_new_field"}

    with pytest.raises(AssertionError, match="brand_new_field"):
        test_every_client_field_is_classified("openai chat", grown, CHAT_HONOURED, CHAT_REFUSED)


def _post(live, path: str, body: dict) -> httpx.Response:
    return httpx.post(f"{live.url}{path}", json=body, headers=AUTH, timeout=60)


def _base(path: str) -> dict:
    if path == "/v1/chat/completions":
        return {"model": "tiny@v1", "messages": USER, "max_tokens": 4, "temperature": 0}
    return {"model": "tiny@v1", "prompt": "债券", "max_tokens": 4, "temperature": 0}


def _named(response: httpx.Response, field: str) -> bool:
    body = response.json()
    error = body["error"]
    if isinstance(error, dict):  # OpenAI's shape
        return error.get("param") == field or field in error["message"]
    return field in error


@pytest.mark.parametrize(
    ("path", "field", "value"),
    [("/v1/chat/completions", f, v) for f, v in CHAT_REFUSED.items()]
    + [("/v1/completions", f, v) for f, v in COMPLETION_REFUSED.items()],
)
def test_refused_openai_fields_are_422_naming_the_field(live, path: str, field: str, value: Any) -> None:
    response = _post(live, path, {**_base(path), field: value})
    assert response.status_code == 422, response.text
    assert _named(response, field), response.text


@pytest.mark.parametrize(("field", "value"), list(TGI_REFUSED.items()))
def test_refused_tgi_parameters_are_422_naming_the_field(live, field: str, value: Any) -> None:
    body = {"inputs": "债券", "parameters": {"max_new_tokens": 4, field: value}}
    response = _post(live, "/generate", body)
    assert response.status_code == 422 and _named(response, f"parameters.{field}"), response.text


@pytest.mark.parametrize(("field", "value"), [(f, v) for f, v in TOOL_FIELDS.items() if f != "grammar"])
def test_tool_and_format_fields_are_honoured_or_refused_by_name(live, field: str, value: Any) -> None:
    body = {**_base("/v1/chat/completions"), field: value}
    if field in ("tool_choice", "parallel_tool_calls"):
        body["tools"] = [TOOL]  # meaningful only with tools
    response = _post(live, "/v1/chat/completions", body)
    assert response.status_code in (200, 422), response.text
    if response.status_code == 422:
        assert _named(response, field) or (field != "tools" and _named(response, "tools")), response.text


def test_grammar_is_honoured_or_refused_by_name(live) -> None:
    body = {"inputs": "债券", "parameters": {"max_new_tokens": 4, "grammar": TOOL_FIELDS["grammar"]}}
    response = _post(live, "/generate", body)
    assert response.status_code in (200, 422), response.text
    if response.status_code == 422:
        assert _named(response, "parameters.grammar"), response.text


@pytest.mark.parametrize(("path", "honoured"), [("/v1/chat/completions", CHAT_HONOURED)])
def test_honoured_fields_are_accepted(live, path: str, honoured: dict) -> None:
    """The schema accepts every honoured field (sent one at a time with a plain value)."""
    values = {
        "max_completion_tokens": 3,
        "top_p": 0.9,
        "stream": False,
        "stop": ["。"],
        "seed": 1,
        "frequency_penalty": 0.5,
        "presence_penalty": 0.5,
        "logprobs": True,
        "user": "u",
    }
    for field, value in values.items():
        assert field in honoured
        response = _post(live, path, {**_base(path), field: value})
        assert response.status_code == 200, (field, response.text)


def test_adapter_id_without_served_adapters_is_404_naming_it(live) -> None:
    body = {"inputs": "债券", "parameters": {"max_new_tokens": 2, "adapter_id": "risk@v2"}}
    response = _post(live, "/generate", body)
    assert response.status_code == 404 and "parameters.adapter_id" in response.json()["error"]
    body["parameters"]["adapter_id"] = "tiny@v1"  # the base by its name: served
    assert _post(live, "/generate", body).status_code == 200


# --- effect tests of fields no other module shows over HTTP --------------------------------------------
def _generate(live, **parameters) -> dict:
    body = {"inputs": "什么是债券？", "parameters": {"max_new_tokens": 16, "details": True, **parameters}}
    response = _post(live, "/generate", body)
    assert response.status_code == 200, response.text
    return response.json()


def _ids(result: dict) -> list[int]:
    return [t["id"] for t in result["details"]["tokens"]]


def test_tgi_sampling_fields_take_effect(live) -> None:
    greedy = _ids(_generate(live))
    sampled = _ids(_generate(live, do_sample=True, temperature=3.0, seed=1))
    assert sampled != greedy  # do_sample (and a high temperature) sample
    assert _ids(_generate(live, do_sample=True, temperature=0.01, seed=1)) == greedy  # near-greedy
    assert _ids(_generate(live, do_sample=True, temperature=3.0, top_k=1, seed=1)) == greedy
    assert _ids(_generate(live, do_sample=True, temperature=3.0, top_p=1e-6, seed=1)) == greedy
    assert _ids(_generate(live, do_sample=True, temperature=3.0, top_k=50, seed=1)) != greedy
    penalised = _ids(_generate(live, repetition_penalty=10.0, max_new_tokens=40))
    assert penalised != _ids(_generate(live, max_new_tokens=40))
    assert len(set(penalised)) > len(set(_ids(_generate(live, max_new_tokens=40))))


def test_max_new_tokens_and_return_full_text(live) -> None:
    assert _generate(live, max_new_tokens=5)["details"]["generated_tokens"] == 5
    plain = _generate(live)["generated_text"]
    assert _generate(live, return_full_text=True)["generated_text"] == "什么是债券？" + plain


def test_max_completion_tokens_limits_the_reply(live) -> None:
    body = {**_base("/v1/chat/completions"), "max_tokens": 20}
    assert _post(live, "/v1/chat/completions", body).json()["usage"]["completion_tokens"] == 20
    body["max_completion_tokens"] = 7  # wins over the older max_tokens, as in OpenAI's API
    assert _post(live, "/v1/chat/completions", body).json()["usage"]["completion_tokens"] == 7


def test_chat_temperature_and_top_p(live) -> None:
    def content(**fields) -> str:
        body = {**_base("/v1/chat/completions"), "max_tokens": 24, **fields}
        return _post(live, "/v1/chat/completions", body).json()["choices"][0]["message"]["content"]

    greedy = content(temperature=0)
    assert content(temperature=1.8, seed=2) != greedy
    assert content(temperature=1.8, seed=2, top_p=1e-6) == greedy
    assert content(temperature=0.01, seed=2) == greedy


def test_stream_is_honoured_where_it_decides_and_refused_where_it_cannot(live) -> None:
    body = {"inputs": "债券", "parameters": {"max_new_tokens": 3}}
    assert _post(live, "/", {**body, "stream": True}).headers["content-type"].startswith("text/event-stream")
    assert isinstance(_post(live, "/", {**body, "stream": False}).json(), list)
    refused = _post(live, "/generate", {**body, "stream": True})
    assert refused.status_code == 422 and refused.json()["error"].startswith("stream:")
    refused = _post(live, "/generate_stream", {**body, "stream": False})
    assert refused.status_code == 422 and refused.json()["error"].startswith("stream:")


@pytest.mark.parametrize("name", ["top_n_tokens", "decoder_input_details"])
def test_details_only_parameters_without_details_are_refused(live, name: str) -> None:
    value = 2 if name == "top_n_tokens" else True
    response = _post(live, "/generate", {"inputs": "债券", "parameters": {name: value}})
    assert response.status_code == 422 and f"parameters.{name}" in response.json()["error"]


def test_stream_options_without_stream_is_refused(live) -> None:
    for path in ("/v1/chat/completions", "/v1/completions"):
        body = {**_base(path), "stream_options": {"include_usage": True}}
        response = _post(live, path, body)
        assert response.status_code == 422 and response.json()["error"]["param"] == "stream_options"
