"""ShareGPT records: a list of {from, value} turns, with LLaMA-Factory's configurable tags.

As in LLaMA-Factory (``SharegptDatasetConverter``), a first turn tagged ``system_tag`` becomes the
system prompt and overrides the ``system`` column; human/observation turns must alternate with
gpt/function_call turns (the `Conversation` model checks that).

With ``chosen``/``rejected`` columns (``ranking: true``) the turns end with a prompt and the two answers
are single turns ``{from: gpt, value: ...}``; with a ``kto_tag`` column the last answer is tagged.
"""

from __future__ import annotations

from stockade.data.readers.formats import (
    FORMATS,
    Issue,
    Layout,
    RecordFormat,
    build,
    build_kto,
    build_preference,
    describe,
    json_field,
    kto_tag_field,
    missing,
    text_field,
    tools_field,
)
from stockade.data.records import Record

COLUMNS: dict[str, str | None] = {
    "messages": "conversations",
    "system": "system",
    "tools": "tools",
    "chosen": None,  # preference columns: read only when an entry names them
    "rejected": None,
    "kto_tag": None,
}
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


def _answer(row: dict, key: str, tags: Layout, issues: list[Issue]) -> str | None:
    """One preference answer: a turn object tagged as the assistant's (LLaMA-Factory's shape)."""
    value = json_field(row.get(key))
    role_key, content_key, assistant = tags["role_tag"], tags["content_tag"], tags["assistant_tag"]
    if value is None:
        issues.append(missing(row, key))
        return None
    if not isinstance(value, dict) or not isinstance(value.get(content_key), str):
        issues.append(
            Issue(
                key,
                f"{key!r} must be a turn {{{role_key!r}: {assistant!r}, {content_key!r}: text}}, "
                f"not {describe(value)}",
            )
        )
        return None
    if value.get(role_key) != assistant:
        issues.append(
            Issue(
                f"{key}.{role_key}",
                f"the answer's role is {value.get(role_key)!r}; a preference answer must be {assistant!r}",
            )
        )
        return None
    if not value[content_key].strip():
        issues.append(Issue(key, f"{key!r} is empty: nothing to compare"))
        return None
    return str(value[content_key])


def convert(row: dict, columns: Layout, tags: Layout) -> Record | list[Issue]:
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
    turns = ([("system", system)] if system else []) + turns
    if columns.get("chosen") is not None or columns.get("rejected") is not None:
        if columns.get("chosen") is None or columns.get("rejected") is None:
            return [Issue(None, "preference records need both columns.chosen and columns.rejected")]
        answers = [_answer(row, str(columns[k]), tags, issues) for k in ("chosen", "rejected")]
        if issues:
            return issues
        return build_preference(turns, answers[0] or "", answers[1] or "", tools, field=key)
    if columns.get("kto_tag") is not None:
        tag = kto_tag_field(row, str(columns["kto_tag"]), issues)
        return issues if tag is None else build_kto(turns, tools, tag, field=key)
    return build(turns, tools, field=key)


FORMATS.add("sharegpt", RecordFormat("sharegpt", COLUMNS, TAGS, convert))
