"""Structured output by constrained decoding: a random-weight tiny model, which writes noise when free,
answers JSON that validates against 20 schemas of growing depth (OpenAI ``response_format``) and text
that matches a regex (TGI ``grammar``), through the real clients. Issue 18, third part."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.serving.helpers import TOKEN

jsonschema_rs = pytest.importorskip("jsonschema_rs")  # installed with schemathesis (the dev extra)
AUTH = {"Authorization": f"Bearer {TOKEN}"}
USER = [{"role": "user", "content": "给出账户信息"}]
LEAVES = [
    {"type": "integer", "minimum": -5, "maximum": 999},
    {"type": "string", "maxLength": 6},
    {"enum": ["活期", "定期", "理财"]},
    {"type": "boolean"},
    {"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 9}, "maxItems": 3},
    {"anyOf": [{"type": "null"}, {"type": "string", "pattern": "^[A-Z]{2}[0-9]{2}$"}]},
    {"const": "CNY"},
    {"type": "number", "minimum": 0, "maximum": 1},
]


def schema(depth: int) -> dict:
    """Depth 0: a flat object; each level wraps the previous one and adds a leaf of another kind."""
    inner: dict = {
        "type": "object",
        "properties": {"id": LEAVES[0], "name": LEAVES[1]},
        "required": ["id", "name"],
        "additionalProperties": False,
    }
    for level in range(depth):
        leaf = LEAVES[level % len(LEAVES)]
        inner = {
            "type": "object",
            "properties": {f"l{level}": inner, f"f{level}": leaf},
            "required": [f"l{level}", f"f{level}"],
            "additionalProperties": False,
        }
    return inner


SCHEMAS = [schema(depth) for depth in range(20)]


def test_json_schema_output_validates_for_20_schemas_of_growing_depth(openai_client) -> None:
    unconstrained = openai_client.chat.completions.create(
        model="tiny@v1", messages=USER, max_tokens=40, temperature=0
    )
    with pytest.raises(json.JSONDecodeError):  # the model alone does not write JSON
        json.loads(unconstrained.choices[0].message.content)

    def ask(index: int) -> tuple[int, str, str]:
        reply = openai_client.chat.completions.create(
            model="tiny@v1",
            messages=USER,
            max_tokens=450,  # the context is 512, the prompt 54 tokens
            temperature=0.8,
            seed=index,
            response_format={
                "type": "json_schema",
                "json_schema": {"name": f"s{index}", "schema": SCHEMAS[index], "strict": True},
            },
        )
        choice = reply.choices[0]
        return index, choice.message.content, choice.finish_reason

    with ThreadPoolExecutor(4) as pool:  # several in one batch: rows with different grammars
        results = list(pool.map(ask, range(len(SCHEMAS))))
    for index, content, finish in results:
        assert finish == "stop", (index, content)
        value = json.loads(content)
        jsonschema_rs.validate(SCHEMAS[index], value)
        assert "\n" not in content and content == content.strip()  # no free whitespace to pad with
        for level in reversed(range(index)):  # the nesting is really there
            value = value[f"l{level}"]
        assert set(value) == {"id", "name"}


def test_a_constrained_row_leaves_its_batch_neighbours_unchanged(live) -> None:
    def chat(**fields) -> dict:
        body = {"model": "tiny@v1", "messages": USER, "max_tokens": 24, "temperature": 0, **fields}
        response = httpx.post(f"{live.url}/v1/chat/completions", json=body, headers=AUTH, timeout=60)
        assert response.status_code == 200, response.text
        return response.json()["choices"][0]

    alone = chat()["message"]["content"]
    fmt = {"type": "json_schema", "json_schema": {"name": "s", "schema": SCHEMAS[3]}}
    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(chat, response_format=fmt), pool.submit(chat), pool.submit(chat)]
        constrained, *free = [f.result() for f in futures]
    assert [c["message"]["content"] for c in free] == [alone, alone]
    assert constrained["message"]["content"].startswith("{")


def test_json_object_streams_an_object(openai_client) -> None:
    # A random model inside a free JSON string rarely closes it, so this checks the streamed prefix; that
    # json_object accepts any object and nothing else is tests/serving/test_constrained.py's.
    stream = openai_client.chat.completions.create(
        model="tiny@v1",
        messages=USER,
        max_tokens=30,
        temperature=0,
        response_format={"type": "json_object"},
        stream=True,
    )
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text.startswith("{") and text != "{"
    free = openai_client.chat.completions.create(model="tiny@v1", messages=USER, max_tokens=30, temperature=0)
    assert not free.choices[0].message.content.startswith("{")


def test_tgi_regex_and_json_grammars(hub) -> None:
    for seed in range(3):
        out = hub.text_generation(
            "账号：",
            max_new_tokens=30,
            seed=seed,
            do_sample=True,
            grammar={"type": "regex", "value": "[0-9]{4}-[A-C]{2}(-[xy])?"},
        )
        assert __import__("re").fullmatch("[0-9]{4}-[A-C]{2}(-[xy])?", out), out
    out = hub.text_generation(
        "账号：", max_new_tokens=200, grammar={"type": "json", "value": SCHEMAS[2]}, do_sample=False
    )
    jsonschema_rs.validate(SCHEMAS[2], json.loads(out))


@pytest.mark.parametrize(
    ("grammar", "message"),
    [
        ({"type": "regex", "value": "("}, "the regex cannot be used"),
        ({"type": "json", "value": {"type": "nonsense"}}, "the json schema cannot be used"),
    ],
)
def test_a_grammar_that_does_not_compile_is_a_422(live, grammar: dict, message: str) -> None:
    body = {"inputs": "x", "parameters": {"grammar": grammar, "max_new_tokens": 4}}
    response = httpx.post(f"{live.url}/generate", json=body, headers=AUTH, timeout=60)
    assert response.status_code == 422 and message in response.json()["error"]
    assert "parameters.grammar" in response.json()["error"]


@pytest.fixture(scope="module")
def openai_client(live):
    from openai import OpenAI

    return OpenAI(base_url=f"{live.url}/v1", api_key=TOKEN, max_retries=0)


@pytest.fixture
def hub(live):
    from huggingface_hub import InferenceClient, constants

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(constants, "HF_HUB_OFFLINE", False)
        yield InferenceClient(base_url=live.url, api_key=TOKEN)
