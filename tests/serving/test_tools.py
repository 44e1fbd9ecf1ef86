"""Tool calling pieces: the grammar that forces a call accepts exactly the text training teaches (and
nothing else), the answer parser under ``auto`` (a malformed call is text, finish "stop"), the stream
that holds back a call until it parses, and tool results ordered by their calls."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace

import pytest

from stockade.data.templates.tool_calls import QwenToolFormat, ToolCall
from stockade.serving.errors import InvalidRequest
from stockade.serving.stream import Chunk
from stockade.serving.tools import (
    call_grammar,
    conversation_turns,
    forced_tool,
    read_tools,
    split_reply,
)

pytest.importorskip("llguidance")
FORMAT = QwenToolFormat()
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "rate",
            "parameters": {
                "type": "object",
                "properties": {"currency": {"enum": ["USD", "EUR"]}, "days": {"type": "integer"}},
                "required": ["currency", "days"],
                "additionalProperties": False,
            },
        },
    },
    {"type": "function", "function": {"name": "joke"}},
]


@pytest.fixture(scope="module")
def grammars(tiny_model_dir):
    from transformers import AutoTokenizer

    from stockade.serving.constrained import Grammars

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir, local_files_only=True)
    return tokenizer, Grammars(tokenizer, len(tokenizer), frozenset({tokenizer.eos_token_id}))


def _accepts(grammars, constraint, text: str) -> bool:
    tokenizer, compiled = grammars
    matcher = compiled.matcher(constraint)
    return matcher.consume_tokens(tokenizer(text, add_special_tokens=False)["input_ids"]) and (
        matcher.is_accepting()
    )


def test_the_forcing_grammar_accepts_the_trained_format_and_only_valid_calls(grammars) -> None:
    specs = read_tools(TOOLS)
    rate = ToolCall("rate", json.dumps({"currency": "EUR", "days": 7}))
    joke = ToolCall("joke", "{}")
    one = call_grammar(specs, FORMAT, parallel=False)
    assert _accepts(grammars, one, FORMAT.calls_text([rate]))  # exactly what the template trains on
    assert _accepts(grammars, one, FORMAT.calls_text([joke]))
    assert not _accepts(grammars, one, FORMAT.calls_text([rate, joke]))  # parallel_tool_calls: false
    assert _accepts(grammars, call_grammar(specs, FORMAT, parallel=True), FORMAT.calls_text([rate, joke]))
    named = call_grammar([s for s in specs if s.name == "joke"], FORMAT, parallel=True)
    assert not _accepts(grammars, named, FORMAT.calls_text([rate]))
    for bad in (
        '<tool_call>\n{"name": "rate", "arguments": {"currency": "GBP", "days": 7}}\n</tool_call>',  # enum
        '<tool_call>\n{"name": "rate", "arguments": {"currency": "USD"}}\n</tool_call>',  # required
        '<tool_call>\n{"name":"rate","arguments":{"currency":"USD","days":1}}\n</tool_call>',  # separators
        "I will call rate.",
    ):
        assert not _accepts(grammars, one, bad), bad


def test_under_auto_a_malformed_call_is_text_with_finish_stop() -> None:
    from stockade.api.routes.openai import _reply

    good = FORMAT.calls_text([ToolCall("rate", '{"currency": "USD", "days": 1}')])
    message, finish = _reply("让我查一下。" + good, "stop", FORMAT)
    assert finish == "tool_calls" and message["content"] == "让我查一下。"
    assert [c["function"] for c in message["tool_calls"]] == [
        {"name": "rate", "arguments": '{"currency": "USD", "days": 1}'}
    ]
    for malformed in (good[:-3], good.replace('"arguments"', '"args"'), good + " 还有", "<tool_call>\n{]"):
        assert _reply(malformed, "stop", FORMAT) == ({"role": "assistant", "content": malformed}, "stop")
    assert _reply(good, "stop", None) == ({"role": "assistant", "content": good}, "stop")  # tools off
    assert split_reply("普通回答", FORMAT) is None


def _stream(pieces: list[str], calls: QwenToolFormat | None) -> list[dict]:
    from stockade.api.routes.openai import _events

    async def batches():
        for index, piece in enumerate(pieces):
            last = index == len(pieces) - 1
            yield [Chunk(index + 1, -0.1, piece, False, "eos_token" if last else None)]

    generation = SimpleNamespace(
        state=SimpleNamespace(tokenizer=None),
        batches=batches,
        tool_calls=calls,
        account=lambda status: None,
    )

    async def run() -> list[str]:
        return [line async for line in _events(generation, "id", 0, "m", False, None)]

    events = []
    for text in asyncio.run(run()):
        for line in text.split("\n\n"):
            if line.startswith("data: {"):
                events.append(json.loads(line.removeprefix("data: ")))
    return events


def test_the_stream_holds_a_call_back_until_it_parses() -> None:
    call = FORMAT.calls_text([ToolCall("joke", "{}")])
    pieces = ["好的", "<", "tool", "_call>\n", call[len("<tool_call>\n") :]]
    events = _stream(pieces, FORMAT)
    deltas = [e["choices"][0]["delta"] for e in events]
    content = "".join(d.get("content") or "" for d in deltas)
    assert content == "好的"  # the call's own text is never sent as content
    (calls,) = [d["tool_calls"] for d in deltas if "tool_calls" in d]
    assert calls[0]["index"] == 0 and calls[0]["function"] == {"name": "joke", "arguments": "{}"}
    assert events[-1]["choices"][0]["finish_reason"] == "tool_calls"


@pytest.mark.parametrize(
    "pieces",
    [
        ["看", "<tool", "s> 不是调用"],  # looked like a call for a moment
        ["<tool_call>", '\n{"name": "joke"', "\n</tool_call>"],  # malformed: no arguments
        ["a <", "tool_call", ">"],  # cut off
    ],
)
def test_under_auto_a_stream_without_a_well_formed_call_sends_all_its_text(pieces: list[str]) -> None:
    events = _stream(pieces, FORMAT)
    deltas = [e["choices"][0]["delta"] for e in events]
    assert "".join(d.get("content") or "" for d in deltas) == "".join(pieces)
    assert not any("tool_calls" in d for d in deltas)
    assert events[-1]["choices"][0]["finish_reason"] == "stop"


def test_tool_results_follow_the_order_of_their_calls() -> None:
    calls = [
        {"id": "a", "function": {"name": "rate", "arguments": '{"currency": "USD", "days": 1}'}},
        {"id": "b", "function": {"name": "joke", "arguments": "{}"}},
    ]
    turns = conversation_turns(
        [
            {"role": "user", "content": "q"},
            {"role": "assistant", "content": None, "tool_calls": calls},
            {"role": "tool", "tool_call_id": "b", "content": "joke result"},
            {"role": "tool", "tool_call_id": "a", "content": "rate result"},
        ]
    )
    assert [t["role"] for t in turns] == ["user", "function_call", "observation"]
    assert turns[2]["content"] == "rate result\n</tool_response>\n<tool_response>\njoke result"
    assert FORMAT.function_turn(turns[1]["content"]) == FORMAT.calls_text(
        [ToolCall("rate", '{"currency": "USD", "days": 1}'), ToolCall("joke", "{}")]
    )
    with pytest.raises(InvalidRequest, match="answers no call"):
        conversation_turns(
            [
                {"role": "user", "content": "q"},
                {"role": "assistant", "tool_calls": calls},
                {"role": "tool", "tool_call_id": "zzz", "content": "x"},
            ]
        )


@pytest.mark.parametrize(
    ("tools", "choice", "message"),
    [
        ([{"type": "retrieval"}], None, "only function tools"),
        ([{"type": "function", "function": {"description": "x"}}], None, "needs a name"),
        ([TOOLS[1], TOOLS[1]], None, "given twice"),
        (TOOLS, {"type": "function", "function": {"name": "nope"}}, "not among the tools"),
        (TOOLS, "sometimes", "not understood"),
    ],
)
def test_malformed_tools_and_choices_are_refused(tools, choice, message: str) -> None:
    with pytest.raises(InvalidRequest, match=message):
        forced_tool(choice, read_tools(tools))
    assert forced_tool(None, read_tools(TOOLS)) == "auto"
    assert forced_tool({"type": "function", "function": {"name": "joke"}}, read_tools(TOOLS)) == "joke"
