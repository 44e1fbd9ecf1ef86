"""Tool calling through the ``openai`` client: a tiny Qwen2 trained on glaive_toolcall_zh_demo (rendered
as LLaMA-Factory renders it) answers with a parsed tool call; the prompt the server builds for a chat
with tools is the training text's prompt, token for token. Issue 18, second part; issue 21, item 6."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.conftest import build_app
from tests.conftest import LLAMAFACTORY_DATA
from tests.serving.helpers import TOKEN, LiveServer, load_tiny, serve_live

torch = pytest.importorskip("torch")
pytest.importorskip("peft")
jsonschema_rs = pytest.importorskip("jsonschema_rs")  # installed with schemathesis (the dev extra)

pytestmark = pytest.mark.slow


SHORT = ["get_stock_price", "get_definition", "get_news", "get_word_definition"]  # short tool lists


def _glaive_calls(count: int):
    """The first ``count`` glaive records that answer the user at once with a call to one of SHORT's
    functions (the shortest records), cut after that call."""
    from stockade.data.readers import read_records, resolve_dataset_info
    from stockade.data.records import Conversation

    (source,) = resolve_dataset_info(LLAMAFACTORY_DATA, ["glaive_toolcall_zh_demo"])
    records = [
        r
        for r in read_records(source)
        if r.turns[1].role == "function_call" and json.loads(r.turns[1].content)["name"] in SHORT
    ]
    return [Conversation(messages=r.messages[:2], tools=r.tools) for r in records[:count]]


def _openai_tools(record) -> list[dict]:
    """The record's tools as an OpenAI client sends them in strict mode (no extra properties), each string
    parameter bounded (maxLength 12): a briefly trained model wanders inside free text, and the grammar
    can only close what is bounded (a forced call parses whenever it ends within max_tokens)."""
    tools = [{"type": "function", "function": tool} for tool in json.loads(record.tools)]
    for tool in tools:
        tool["function"]["parameters"]["additionalProperties"] = False
        for parameter in tool["function"]["parameters"].get("properties", {}).values():
            if parameter.get("type") == "string" and "enum" not in parameter:
                parameter["maxLength"] = 12
    return tools


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny Qwen2 with a LoRA trained briefly (the product's training loop) on two glaive calls, merged."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from stockade.core.specs.train import TrainSpec
    from stockade.data.templates import resolve_template
    from stockade.data.tokenization import encode_conversation
    from stockade.models.tiny import build_tiny_model
    from stockade.training.loop import TrainInputs, run_training

    root = tmp_path_factory.mktemp("toolcalls")
    base = build_tiny_model("qwen2", root / "base", seed=0).path
    tokenizer = AutoTokenizer.from_pretrained(base, local_files_only=True)
    template = resolve_template("qwen", tokenizer)
    examples = [encode_conversation(c, tokenizer, template, cutoff_len=1024) for c in _glaive_calls(2)]
    spec = TrainSpec.model_validate(
        {
            "finetuning_type": "lora",
            "lora_rank": 8,
            "learning_rate": 5e-3,
            "per_device_train_batch_size": 2,
            "num_train_epochs": 3,
            "lr_scheduler_type": "constant",
            "precision": "fp32",
            "gradient_checkpointing": False,
            "logging_steps": 1,
            "save_steps": 1000,
            "seed": 7,
            "cutoff_len": 1024,
        }
    )
    inputs = TrainInputs(base, spec, examples, [], root / "run", tokenizer.pad_token_id)
    result = run_training(inputs)
    assert result.status == "completed"
    model = AutoModelForCausalLM.from_pretrained(base, local_files_only=True, dtype=torch.float32)
    merged = PeftModel.from_pretrained(model, str(result.adapter_dir)).merge_and_unload()
    merged.save_pretrained(root / "merged")
    tokenizer.save_pretrained(root / "merged")
    return root / "merged"


@pytest.fixture(scope="module")
def server(trained: Path) -> Iterator[LiveServer]:
    app, engine = build_app(load_tiny(trained), engine={"context": 2048})
    live = serve_live(app)
    yield live
    live.stop()
    engine.stop()


@pytest.fixture(scope="module")
def client(server: LiveServer):
    from openai import OpenAI

    return OpenAI(base_url=f"{server.url}/v1", api_key=TOKEN, max_retries=0)


@pytest.mark.parametrize("choice", ["named", "required"])
def test_the_trained_model_answers_with_a_parsed_tool_call(client, choice: str) -> None:
    record = _glaive_calls(1)[0]
    tools = _openai_tools(record)
    wanted = json.loads(record.turns[1].content)["name"]
    tool_choice = {"type": "function", "function": {"name": wanted}} if choice == "named" else "required"
    reply = client.chat.completions.create(
        model="tiny@v1",
        messages=[{"role": "user", "content": record.turns[0].content}],
        tools=tools,
        tool_choice=tool_choice,
        parallel_tool_calls=False,
        max_tokens=300,
        temperature=0,
        frequency_penalty=1.0,  # a briefly trained model repeats digits: numbers never end without it
    )
    choice_ = reply.choices[0]
    assert choice_.finish_reason == "tool_calls", choice_
    (call,) = choice_.message.tool_calls
    assert call.type == "function" and call.id.startswith("call_")
    by_name = {t["function"]["name"]: t["function"] for t in tools}
    assert call.function.name in by_name and (choice != "named" or call.function.name == wanted)
    jsonschema_rs.validate(by_name[call.function.name]["parameters"], json.loads(call.function.arguments))


def test_a_streamed_tool_call_arrives_as_deltas_and_matches_the_blocking_one(client) -> None:
    record = _glaive_calls(2)[1]
    name = json.loads(record.turns[1].content)["name"]
    request = {
        "model": "tiny@v1",
        "messages": [{"role": "user", "content": record.turns[0].content}],
        "tools": _openai_tools(record),
        "tool_choice": {"type": "function", "function": {"name": name}},
        "max_tokens": 300,
        "temperature": 0,
        "frequency_penalty": 1.0,
    }
    reply = client.chat.completions.create(**request).choices[0]
    assert reply.finish_reason == "tool_calls", reply
    blocking = reply.message.tool_calls[0]
    calls: dict[int, dict] = {}
    finish = None
    for chunk in client.chat.completions.create(**request, stream=True):
        delta = chunk.choices[0].delta
        assert not delta.content  # the call's text never leaks as content
        for part in delta.tool_calls or ():
            entry = calls.setdefault(part.index, {"name": "", "arguments": ""})
            entry["name"] += part.function.name or ""
            entry["arguments"] += part.function.arguments or ""
        finish = chunk.choices[0].finish_reason or finish
    assert finish == "tool_calls"
    assert calls == {0: {"name": blocking.function.name, "arguments": blocking.function.arguments}}


def test_a_chat_with_tools_is_prompted_exactly_as_the_training_text(trained: Path) -> None:
    """The glaive record with a call, its result and the final answer: the server's prompt for the last
    answer is the training rendering up to that answer (so a trained model sees what it learned)."""
    from transformers import AutoTokenizer

    from stockade.data.readers import read_records, resolve_dataset_info
    from stockade.data.templates import resolve_template
    from stockade.serving.tools import tool_prompt_ids

    tokenizer = AutoTokenizer.from_pretrained(trained, local_files_only=True)
    template = resolve_template("qwen", tokenizer)
    (source,) = resolve_dataset_info(LLAMAFACTORY_DATA, ["glaive_toolcall_zh_demo"])
    record = next(
        r
        for r in read_records(source)
        if [t.role for t in r.turns][:3] == ["user", "function_call", "observation"]
    )
    segments = template.render(record, tokenizer)
    last = max(i for i, s in enumerate(segments) if s.trainable)
    expected = tokenizer("".join(s.text for s in segments[:last]), add_special_tokens=False)["input_ids"]
    call = json.loads(record.turns[1].content)
    messages = [
        {"role": "user", "content": record.turns[0].content},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "function": {"name": call["name"], "arguments": json.dumps(call["arguments"])},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": record.turns[2].content},
    ]
    tools = json.dumps(
        [{"type": "function", "function": t} for t in json.loads(record.tools)], ensure_ascii=False
    )
    assert tool_prompt_ids(tokenizer, template, messages, tools) == expected


def test_auto_offers_the_tools_and_none_does_not(client) -> None:
    record = _glaive_calls(1)[0]
    base = {
        "model": "tiny@v1",
        "messages": [{"role": "user", "content": record.turns[0].content}],
        "max_tokens": 8,
        "temperature": 0,
    }
    plain = client.chat.completions.create(**base)
    none = client.chat.completions.create(**base, tools=_openai_tools(record), tool_choice="none")
    auto = client.chat.completions.create(**base, tools=_openai_tools(record))
    assert none.usage.prompt_tokens == plain.usage.prompt_tokens  # not offered
    assert none.choices[0].message.content == plain.choices[0].message.content
    assert auto.usage.prompt_tokens > plain.usage.prompt_tokens + 100  # the <tools> block is in the prompt
