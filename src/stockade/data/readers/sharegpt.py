"""ShareGPT records: a list of {from, value} turns, with LLaMA-Factory's configurable tags.

As in LLaMA-Factory (``SharegptDatasetConverter``), a first turn tagged ``system_tag`` becomes the
system prompt and overrides the ``system`` column; human/observation turns must alternate with
gpt/function_call turns (the `Conversation` model checks that).
"""

from __future__ import annotations

from stockade.data.readers.formats import (
    FORMATS,
    Issue,
    Layout,
    RecordFormat,
    build,
    describe,
    json_field,
    missing,
    text_field,
    tools_field,
)
from stockade.data.records import Conversation

COLUMNS: dict[str, str | None] = {"messages": "conversations", "system": "system", "tools": "tools"}
TAGS: dict[str, str | None] = {
    "role_tag": "from",
    "content_tag": "value",
    "user_tag": "human",
    "assistant_tag": "gpt",
    "observation_tag": "observation",
    "function_tag": "function_call",
    "system_tag": "system",
}
ROLE_OF_TAG = {
    "user_tag": "user",
    "assistant_tag": "assistant",
    "observation_tag": "observation",
    "function_tag": "function_call",
    "system_tag": "system",
}


def turn_list(row: dict, key: str, issues: list[Issue]) -> list | None:
    """The list of turns in column `key` (JSON text in a CSV cell is decoded)."""
    value = json_field(row.get(key))
    if value is None:
        issues.append(missing(row, key))
        return None
    if not isinstance(value, list):
        issues.append(Issue(key, f"{key!r} must be a list of turns, not {describe(value)}"))
        return None
    return value


def convert(row: dict, columns: Layout, tags: Layout) -> Conversation | list[Issue]:
    key, role_key, content_key = columns["messages"], tags["role_tag"], tags["content_tag"]
    if key is None or role_key is None or content_key is None:
        return [Issue(None, "columns.messages, tags.role_tag and tags.content_tag must all be set")]
    issues: list[Issue] = []
    messages = turn_list(row, key, issues)
    system = text_field(row, columns["system"], issues, required=False)
    tools = tools_field(row, columns["tools"], issues)
    roles = {tags[name]: role for name, role in ROLE_OF_TAG.items() if tags[name] is not None}
    turns: list[tuple[str, str]] = []
    for position, message in enumerate(messages or []):
        where = f"{key}[{position}]"
        if not isinstance(message, dict):
            issues.append(
                Issue(
                    where,
                    f"a turn must be an object with {role_key!r} and {content_key!r}, "
                    f"not {describe(message)}",
                )
            )
            continue
        tag, content = message.get(role_key), message.get(content_key)
        if tag is None:
            issues.append(Issue(f"{where}.{role_key}", missing(message, role_key).reason))
        elif not isinstance(tag, str) or tag not in roles:
            known = ", ".join(str(name) for name in roles)
            issues.append(Issue(f"{where}.{role_key}", f"unknown role {tag!r} (expected one of: {known})"))
        if not isinstance(content, str):
            reason = (
                missing(message, content_key).reason
                if content is None
                else f"must be text, not {describe(content)}"
            )
            issues.append(Issue(f"{where}.{content_key}", reason))
        if not issues:
            turns.append((roles[tag], content))
    if issues:
        return issues
    if turns and turns[0][0] == "system":
        system, turns = turns[0][1], turns[1:]
    return build(([("system", system)] if system else []) + turns, tools, field=key)


FORMATS.add("sharegpt", RecordFormat("sharegpt", COLUMNS, TAGS, convert))
