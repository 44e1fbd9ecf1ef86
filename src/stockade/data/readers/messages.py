"""OpenAI-style records: ``messages`` of {role, content} with roles system/user/assistant/tool.

``tool`` turns become ``observation`` turns (consecutive tool results are merged into one, joined by
newlines). An assistant turn with ``tool_calls`` (or the legacy ``function_call``) becomes a
``function_call`` turn whose content is JSON: ``{"name", "arguments"}`` for one call, a list of those
for several (LLaMA-Factory's OpenAI converter likewise replaces the content by the calls); arguments
given as JSON text are decoded. Stockade's own stored roles (function_call, observation) read as is.
"""

from __future__ import annotations

import json
from typing import Any

from stockade.data.readers.formats import FORMATS, Issue, Layout, RecordFormat, build, describe, tools_field
from stockade.data.readers.sharegpt import turn_list
from stockade.data.records import Conversation

COLUMNS: dict[str, str | None] = {"messages": "messages", "tools": "tools"}
ROLES = {
    "system": "system",
    "user": "user",
    "assistant": "assistant",
    "tool": "observation",
    "function_call": "function_call",
    "observation": "observation",
}


def _content(value: Any, where: str, issues: list[Issue]) -> str | None:
    """Text content; a list of text parts ({"type": "text", "text": ...}) is joined."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(
        isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str)
        for part in value
    ):
        return "".join(part["text"] for part in value)
    reason = "missing field 'content'" if value is None else f"must be text, not {describe(value)}"
    issues.append(Issue(f"{where}.content", reason))
    return None


def _call(value: Any, where: str, issues: list[Issue]) -> dict | None:
    function = value.get("function", value) if isinstance(value, dict) else None
    name = function.get("name") if isinstance(function, dict) else None
    if not isinstance(name, str) or not name:
        issues.append(Issue(where, f"a tool call needs a function name, not {describe(value)}"))
        return None
    arguments = function.get("arguments", {})
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments) if arguments.strip() else {}
        except (json.JSONDecodeError, RecursionError) as exc:
            issues.append(Issue(f"{where}.arguments", f"the arguments are not valid JSON: {exc}"))
            return None
    return {"name": name, "arguments": arguments}


def _calls(message: dict, where: str, issues: list[Issue]) -> str | None:
    """The JSON content of a function_call turn, or None when the message makes no call."""
    calls = message.get("tool_calls")
    if calls in (None, []) and isinstance(message.get("function_call"), dict):
        calls, where = [message["function_call"]], f"{where}.function_call"
    elif calls in (None, []):
        return None
    elif isinstance(calls, list):
        where = f"{where}.tool_calls"
    else:
        issues.append(Issue(f"{where}.tool_calls", f"must be a list of calls, not {describe(calls)}"))
        return None
    parsed = [_call(call, f"{where}[{position}]", issues) for position, call in enumerate(calls)]
    if any(call is None for call in parsed):
        return None
    return json.dumps(parsed[0] if len(parsed) == 1 else parsed, ensure_ascii=False)


def convert(row: dict, columns: Layout, tags: Layout) -> Conversation | list[Issue]:
    key = columns["messages"]
    if key is None:
        return [Issue(None, "no messages column is set (columns.messages)")]
    issues: list[Issue] = []
    messages = turn_list(row, key, issues)
    tools = tools_field(row, columns["tools"], issues)
    turns: list[tuple[str, str]] = []
    previous = None
    for position, message in enumerate(messages or []):
        where = f"{key}[{position}]"
        if not isinstance(message, dict):
            issues.append(
                Issue(
                    where, f"a message must be an object with 'role' and 'content', not {describe(message)}"
                )
            )
            continue
        role = message.get("role")
        if not isinstance(role, str) or role not in ROLES:
            reason = "missing field 'role'" if role is None else f"unknown role {role!r}"
            issues.append(Issue(f"{where}.role", f"{reason} (expected one of: {', '.join(ROLES)})"))
            continue
        seen = len(issues)
        content = _calls(message, where, issues) if role == "assistant" else None
        if content is not None:
            role = "function_call"
        elif len(issues) == seen:
            content = _content(message.get("content"), where, issues)
        if content is None or issues:
            continue
        if role == "tool" and previous == "tool":
            turns[-1] = ("observation", f"{turns[-1][1]}\n{content}")
        else:
            turns.append((ROLES[role], content))
        previous = role
    if issues:
        return issues
    return build(turns, tools, field=key)


FORMATS.add("messages", RecordFormat("messages", COLUMNS, {}, convert))
