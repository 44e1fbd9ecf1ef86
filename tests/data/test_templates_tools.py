"""Tools and tool calls in the qwen family, as LLaMA-Factory renders them (its ``QwenToolUtils`` and
``FunctionFormatter``): the reference strings below were written by reading LLaMA-Factory's
src/llamafactory/data/{template,formatter,tool_utils}.py, not by running Stockade."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from stockade.core.errors import StockadeError
from stockade.data.records import Conversation
from stockade.data.templates import TEMPLATES
from stockade.data.templates.tool_calls import QwenToolFormat, ToolCall
from tests.conftest import LLAMAFACTORY_DATA

SPECIALS = SimpleNamespace(bos_token=None, eos_token="<|im_end|>")
TOOLS = (
    '[{"name": "balance", "description": "查余额", "parameters": {"type": "object", '
    '"properties": {"account": {"type": "string"}}, "required": ["account"]}}]'
)
# LLaMA-Factory's QWEN_TOOL_PROMPT with tool_text = "\n" + json.dumps({"type": "function", "function": tool})
TOOL_BLOCK = (
    "\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
    "You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n"
    '{"type": "function", "function": {"name": "balance", "description": "查余额", "parameters": '
    '{"type": "object", "properties": {"account": {"type": "string"}}, "required": ["account"]}}}'
    "\n</tools>\n\nFor each function call, return a json object with function name and arguments within "
    "<tool_call></tool_call> XML tags:\n<tool_call>\n"
    '{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call>'
)
CALL = '<tool_call>\n{"name": "balance", "arguments": {"account": "A1"}}\n</tool_call>'
REST = (
    "<|im_start|>user\n查余额<|im_end|>\n<|im_start|>assistant\n"
    "[[{think}" + CALL + "<|im_end|>]]\n"
    "<|im_start|>user\n<tool_response>\n"
    '{"balance": 100}\n</tool_response><|im_end|>\n<|im_start|>assistant\n[[{think}余额100元<|im_end|>]]\n'
)
QWEN_SYSTEM = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."
EXPECTED = {
    "qwen": f"<|im_start|>system\n{QWEN_SYSTEM}{TOOL_BLOCK}<|im_end|>\n" + REST.replace("{think}", ""),
    # qwen3: no default system, so the system block starts with the tool text's own "\n\n" (LLaMA-Factory's
    # base Template does not strip it); every answer, a call included, gets the trained empty thought.
    "qwen3": f"<|im_start|>system\n{TOOL_BLOCK}<|im_end|>\n"
    + REST.replace("{think}", "<think>\n\n</think>\n\n"),
    "qwen3_nothink": f"<|im_start|>system\n{TOOL_BLOCK}<|im_end|>\n" + REST.replace("{think}", ""),
}


def _conversation(*turns: tuple[str, str], tools: str | None = TOOLS) -> Conversation:
    return Conversation(messages=[{"role": r, "content": c} for r, c in turns], tools=tools)


CONVERSATION = _conversation(
    ("user", "查余额"),
    ("function_call", '{"name": "balance", "arguments": {"account": "A1"}}'),
    ("observation", '{"balance": 100}'),
    ("assistant", "余额100元"),
)


def _marked(template: str, conversation: Conversation) -> str:
    segments = TEMPLATES.get(template).render(conversation, SPECIALS)
    return "".join(f"[[{s.text}]]" if s.trainable else s.text for s in segments)


@pytest.mark.parametrize("template", sorted(EXPECTED))
def test_tools_calls_and_results_render_as_llamafactory(template: str) -> None:
    assert _marked(template, CONVERSATION) == EXPECTED[template]


def test_parallel_calls_tagged_calls_and_empty_tools() -> None:
    parallel = _conversation(
        ("user", "q"),
        ("function_call", '[{"name": "a", "arguments": {"x": 1}}, {"name": "b", "arguments": {}}]'),
        ("observation", "r"),
        ("assistant", "ok"),
    )
    text = _marked("qwen", parallel)
    assert (
        '[[<tool_call>\n{"name": "a", "arguments": {"x": 1}}\n</tool_call>\n'
        '<tool_call>\n{"name": "b", "arguments": {}}\n</tool_call><|im_end|>]]'
    ) in text
    # LLaMA-Factory's tool_call_words: a call already in tags is re-serialised, the text before it kept
    tagged = _conversation(
        ("user", "q"),
        ("function_call", 'Let me check.<tool_call>{"name":"a","arguments":{"x":1}}</tool_call>'),
        ("observation", "r"),
        ("assistant", "ok"),
    )
    assert '[[Let me check.<tool_call>\n{"name": "a", "arguments": {"x": 1}}\n</tool_call><|im_end|>]]' in (
        _marked("qwen", tagged)
    )
    # "[]": no tool text, but (as in LLaMA-Factory) the system block is still written
    empty = _conversation(("user", "q"), ("assistant", "a"), tools="[]")
    assert _marked("qwen3_nothink", empty).startswith("<|im_start|>system\n<|im_end|>\n<|im_start|>user\nq")
    assert _marked("qwen", empty).startswith(f"<|im_start|>system\n{QWEN_SYSTEM}<|im_end|>\n")


def test_a_malformed_call_in_training_data_is_refused_with_the_record_text() -> None:
    bad = _conversation(
        ("user", "q"), ("function_call", "call balance"), ("observation", "r"), ("assistant", "a")
    )
    with pytest.raises(StockadeError, match="not valid JSON") as caught:
        TEMPLATES.get("qwen").render(bad, SPECIALS)
    assert "call balance" in str(caught.value)


def _lf_reference(record: dict, default_system: str, thought: str) -> str:
    """LLaMA-Factory's Template._encode for one sharegpt record, restated from its source."""
    roles = {"human": "user", "gpt": "assistant", "function_call": "function", "observation": "observation"}
    tools = json.loads(record["tools"]) if record.get("tools") else None
    tool_text = ""
    if tools:
        lines = "".join(
            "\n" + json.dumps({"type": "function", "function": t}, ensure_ascii=False) for t in tools
        )
        tool_text = (
            TOOL_BLOCK.split("<tools>\n", 1)[0]
            + "<tools>"
            + lines
            + "\n</tools>"
            + TOOL_BLOCK.split("\n</tools>", 1)[1]
        )
    text = ""
    if default_system or record.get("tools"):
        text += f"<|im_start|>system\n{default_system}{tool_text}<|im_end|>\n"
    for turn in record["conversations"]:
        role, value = roles[turn["from"]], turn["value"]
        if role == "user":
            text += f"<|im_start|>user\n{value}<|im_end|>\n<|im_start|>assistant\n"
        elif role == "observation":
            text += "<|im_start|>user\n<tool_response>\n" + value
            text += "\n</tool_response><|im_end|>\n<|im_start|>assistant\n"
        elif role == "function":
            calls = json.loads(value)
            calls = calls if isinstance(calls, list) else [calls]
            body = "\n".join(
                "<tool_call>\n"
                + json.dumps({"name": c["name"], "arguments": c["arguments"]}, ensure_ascii=False)
                + "\n</tool_call>"
                for c in calls
            )
            text += f"{thought}{body}<|im_end|>\n"
        else:
            text += f"{thought}{value}<|im_end|>\n"
    return text


@pytest.mark.parametrize(
    ("template", "system", "thought"),
    [("qwen", QWEN_SYSTEM, ""), ("qwen3", "", "<think>\n\n</think>\n\n")],
)
def test_glaive_toolcall_zh_demo_renders_the_same_text_as_llamafactory(
    template: str, system: str, thought: str
) -> None:
    from stockade.data.readers import read_records, resolve_dataset_info

    raw = json.loads((LLAMAFACTORY_DATA / "glaive_toolcall_zh_demo.json").read_text(encoding="utf-8"))
    (source,) = resolve_dataset_info(LLAMAFACTORY_DATA, ["glaive_toolcall_zh_demo"])
    records = list(read_records(source))
    assert len(records) == len(raw) == 300
    with_calls = 0
    for record, original in zip(records, raw, strict=True):
        rendered = "".join(s.text for s in TEMPLATES.get(template).render(record, SPECIALS))
        assert rendered == _lf_reference(original, system, thought)
        with_calls += "<tool_call>\n{" in rendered.split("</tools>")[-1]
    assert with_calls > 100  # the calls themselves were compared, not only plain answers


def test_the_parser_reads_back_what_the_template_writes() -> None:
    fmt = QwenToolFormat()
    calls = [ToolCall("a", '{"x": [1, "二"]}'), ToolCall("b", "{}")]
    assert fmt.parse(fmt.calls_text(calls)) == calls
    assert fmt.parse("<think>\nhm\n</think>\n\n" + fmt.calls_text(calls[:1])) == calls[:1]
    for prose in (
        "no call here",
        '<tool_call>\n{"name": "a", "arguments": {"x": 1}\n</tool_call>',  # truncated JSON
        '<tool_call>\n{"name": "a"}\n</tool_call>',  # no arguments
        '<tool_call>\n{"name": "a", "arguments": {}}\n</tool_call> and then prose',
        '<tool_call>\n{"name": "a", "arguments": {}}',  # never closed
    ):
        assert fmt.parse(prose) is None, prose


def _lf_ids(record: dict, tokenizer, system: str, thought: str) -> list[int]:
    """LLaMA-Factory's ids: every element (system block, each turn's slot, qwen3's thought) tokenised on
    its own (its ``_convert_elements_to_ids``), then concatenated."""
    text = _lf_reference(record, system, "\x00" if thought else "")
    pieces = []
    for part in text.replace("<|im_end|>\n", "<|im_end|>\n\x01").split("\x01"):
        if part.startswith("<|im_start|>system"):
            pieces.append(part)
        elif part:  # the thought (marked \x00) is an element of its own
            before, marked, after = part.partition("\x00")
            pieces += [before, thought, after] if marked else [part]
    ids: list[int] = []
    for piece in filter(None, pieces):
        ids += tokenizer(piece, add_special_tokens=False)["input_ids"]
    return ids


def test_glaive_toolcall_zh_demo_tokenises_as_llamafactory(tmp_path) -> None:
    from transformers import AutoTokenizer

    from stockade.data.readers import read_records, resolve_dataset_info
    from stockade.data.tokenization import encode_conversation
    from stockade.models.tiny import build_tiny_model

    tokenizer = AutoTokenizer.from_pretrained(build_tiny_model("qwen2", tmp_path / "qwen2").path)
    raw = json.loads((LLAMAFACTORY_DATA / "glaive_toolcall_zh_demo.json").read_text(encoding="utf-8"))
    (source,) = resolve_dataset_info(LLAMAFACTORY_DATA, ["glaive_toolcall_zh_demo"])
    for template, system, thought in (("qwen", QWEN_SYSTEM, ""), ("qwen3", "", "<think>\n\n</think>\n\n")):
        for record, original in list(zip(read_records(source), raw, strict=True))[:40]:
            encoded = encode_conversation(record, tokenizer, TEMPLATES.get(template), cutoff_len=100_000)
            assert encoded.input_ids == _lf_ids(original, tokenizer, system, thought)
