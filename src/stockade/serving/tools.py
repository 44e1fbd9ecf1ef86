"""Tool calling for chat requests: the tools rendered by the chat template (as in training), the grammar
that forces a call (``tool_choice`` required or named), and the model's answer parsed back into calls.

Only templates with a tool-call format serve tools (the qwen family: LLaMA-Factory's ``<tools>`` and
``<tool_call>`` text); with another template ``tools`` is refused by name, since the answer could not be
parsed. Under ``auto`` the answer is parsed after generation: a well-formed call becomes ``tool_calls``,
anything else is returned as text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from stockade.core.errors import StockadeError
from stockade.data.templates.tool_calls import QwenToolFormat, ToolCall
from stockade.serving.constrained import JSON_OPTIONS, Constraint, lark
from stockade.serving.errors import InvalidRequest

TOOL_RESULTS_JOIN = "\n</tool_response>\n<tool_response>\n"  # consecutive tool messages, as Qwen's template


@dataclass(frozen=True)
class ToolSpec:
    """One function the client offers: its name, and its parameters' JSON schema."""

    name: str
    definition: dict[str, Any]  # OpenAI's ``function`` object (name, description, parameters, ...)

    @property
    def parameters(self) -> dict[str, Any]:
        return self.definition.get("parameters") or {"type": "object", "properties": {}}


def read_tools(tools: list[Any]) -> list[ToolSpec]:
    """OpenAI ``tools`` checked: each ``{"type": "function", "function": {"name", ...}}``, names unique."""
    specs: list[ToolSpec] = []
    for index, tool in enumerate(tools):
        where = f"tools[{index}]"
        if not isinstance(tool, dict) or tool.get("type") != "function":
            raise InvalidRequest(
                f"{where}: only function tools are served", fix='send {"type": "function", "function": {...}}'
            )
        function = tool.get("function")
        if (
            not isinstance(function, dict)
            or not isinstance(function.get("name"), str)
            or not function["name"]
        ):
            raise InvalidRequest(
                f"{where}.function needs a name", fix='send {"name": ..., "parameters": {...}}'
            )
        parameters = function.get("parameters")
        if parameters is not None and not isinstance(parameters, dict):
            raise InvalidRequest(f"{where}.function.parameters must be a JSON schema object", fix="fix it")
        if any(spec.name == function["name"] for spec in specs):
            raise InvalidRequest(
                f"{where}: the function name {function['name']!r} is given twice", fix="rename"
            )
        specs.append(ToolSpec(function["name"], {k: v for k, v in function.items() if v is not None}))
    return specs


def forced_tool(tool_choice: Any, specs: list[ToolSpec]) -> str | None:
    """The mode of ``tool_choice``: "none", "auto", "required", or a function's name (named choice)."""
    if tool_choice in (None, "auto", "none", "required"):
        return tool_choice or "auto"
    if isinstance(tool_choice, dict) and tool_choice.get("type") == "function":
        name = (tool_choice.get("function") or {}).get("name")
        if any(spec.name == name for spec in specs):
            return str(name)
        raise InvalidRequest(
            f"tool_choice names the function {name!r}, which is not among the tools",
            fix=f"name one of: {', '.join(s.name for s in specs)}",
        )
    raise InvalidRequest(
        f"tool_choice {tool_choice!r} is not understood",
        fix='send "none", "auto", "required" or {"type": "function", "function": {"name": ...}}',
    )


def tools_json(specs: list[ToolSpec]) -> str:
    """The tools as the training data's ``tools`` column holds them (the template wraps each)."""
    return json.dumps([{"type": "function", "function": s.definition} for s in specs], ensure_ascii=False)


def call_grammar(specs: list[ToolSpec], calls: QwenToolFormat, *, parallel: bool) -> Constraint:
    """A Lark grammar for one call (or, with ``parallel``, one or more) of these functions, each
    ``<tool_call>\\n{"name": NAME, "arguments": ARGS}\\n</tool_call>`` with ARGS valid for NAME's schema."""
    options = []
    for spec in specs:
        schema = {
            "type": "object",
            "properties": {"name": {"const": spec.name}, "arguments": spec.parameters},
            "required": ["name", "arguments"],
            "additionalProperties": False,
            "x-guidance": JSON_OPTIONS,
        }
        options.append("%json " + json.dumps(schema, ensure_ascii=False))
    opener, closer = json.dumps(calls.open + "\n"), json.dumps("\n" + calls.close)
    call = f"call: {opener} ({' | '.join(options)}) {closer}"
    start = 'start: call ("\\n" call)*' if parallel else "start: call"
    return lark(f"{start}\n{call}\n", "tools")


def tool_format(template: Any) -> QwenToolFormat:
    """The template's tool-call format, or a 422 naming ``tools`` when it has none."""
    calls = template.tool_calls() if hasattr(template, "tool_calls") else None
    if calls is None:
        raise InvalidRequest(
            f"tools: the chat template {getattr(template, 'name', '?')!r} has no tool-call format, so a call "
            "could not be parsed from the answer",
            fix="serve the model with a template that has one (--template qwen or qwen3), or leave tools out",
        )
    return calls


def conversation_turns(messages: list[dict[str, Any]]) -> list[dict[str, str]]:
    """OpenAI messages (with ``tool_calls`` on assistant turns and ``tool`` results) as training turns:
    assistant calls become ``function_call`` turns (a thought before them kept), consecutive tool
    results one ``observation``."""
    turns: list[dict[str, str]] = []
    call_ids: list[str] = []  # the ids of the last assistant message's calls
    results: dict[str, str] = {}
    for message in [*messages, {"role": "end"}]:
        role, content = message["role"], message.get("content") or ""
        if role != "tool" and results:  # the results of one message's calls, in the calls' order
            ordered = [results[i] for i in call_ids if i in results]
            turns.append({"role": "observation", "content": TOOL_RESULTS_JOIN.join(ordered)})
            results = {}
        if role == "assistant" and message.get("tool_calls"):
            calls = [
                {"name": c["function"]["name"], "arguments": _arguments(c["function"]["arguments"])}
                for c in message["tool_calls"]
            ]
            call_ids = [c.get("id", "") for c in message["tool_calls"]]
            body = json.dumps(calls, ensure_ascii=False)
            turns.append({"role": "function_call", "content": f"{content}<tool_call>{body}</tool_call>"})
        elif role == "tool":
            ident = message.get("tool_call_id") or ""
            if ident not in call_ids or ident in results:
                raise InvalidRequest(
                    f"messages: the tool result for {ident!r} answers no call of the assistant message "
                    "before it (or answers it twice)",
                    fix="send one tool message per call, each with the id of its call",
                )
            results[ident] = content
        elif role != "end":
            turns.append({"role": role, "content": content})
    return turns


def tool_prompt_ids(
    tokenizer: Any, template: Any, messages: list[dict[str, Any]], tools: str | None
) -> list[int]:
    """The prompt for a chat with tools (or tool turns): rendered as the template renders training data."""
    from stockade.data.records import Conversation

    turns = conversation_turns(messages)
    try:
        conversation = Conversation(messages=[*turns, {"role": "assistant", "content": "-"}], tools=tools)
        segments = template.render(conversation, tokenizer)
    except (ValueError, StockadeError) as exc:
        raise InvalidRequest(
            f"messages: the conversation cannot be rendered: {str(exc).splitlines()[0][:300]}",
            fix="an optional system message, then user (or tool results) and assistant turns alternating, "
            "ending with a user or tool message",
        ) from exc
    last_answer = max(i for i, s in enumerate(segments) if s.trainable)
    return list(
        tokenizer("".join(s.text for s in segments[:last_answer]), add_special_tokens=False)["input_ids"]
    )


def split_reply(text: str, calls: QwenToolFormat) -> tuple[str, list[ToolCall]] | None:
    """(text before the calls, the calls) when the answer is well-formed calls; None means prose."""
    parsed = calls.parse(text)
    if not parsed:
        return None
    return calls.content_before_calls(text), parsed


def _arguments(arguments: Any) -> Any:
    if isinstance(arguments, str):
        try:
            return json.loads(arguments)
        except json.JSONDecodeError as exc:
            raise InvalidRequest(
                f"messages: a tool call's arguments are not JSON ({exc.msg})",
                fix="send the arguments the server returned, unchanged",
            ) from exc
    return arguments
