"""Alpaca records: instruction, input, output (+ system, history, tools), as LLaMA-Factory reads them.

LLaMA-Factory (``AlpacaDatasetConverter``) builds the user turn as ``"\\n".join`` of the non-empty
instruction and input, and turns each ``history`` pair into a user and an assistant turn before it.

With ``chosen``/``rejected`` columns (an entry with ``ranking: true``) a row is a preference pair: the
prompt, then two answers as text; with a ``kto_tag`` column, the answer is tagged desirable or not.
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
    text_field,
    tools_field,
)
from stockade.data.records import Record

COLUMNS: dict[str, str | None] = {
    "prompt": "instruction",
    "query": "input",
    "response": "output",
    "system": "system",
    "history": "history",
    "tools": "tools",
    "chosen": None,  # preference columns: read only when an entry names them
    "rejected": None,
    "kto_tag": None,
}


def _history(row: dict, key: str | None, issues: list[Issue]) -> list[tuple[str, str]]:
    if key is None:
        return []
    value = json_field(row.get(key))
    if value in (None, "", []):
        return []
    if not isinstance(value, list):
        issues.append(
            Issue(key, f"{key!r} must be a list of [instruction, answer] pairs, not {describe(value)}")
        )
        return []
    turns: list[tuple[str, str]] = []
    for position, pair in enumerate(value):
        where = f"{key}[{position}]"
        if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(text, str) for text in pair)):
            issues.append(
                Issue(where, f"must be a pair [instruction, answer] of texts, not {describe(pair)}")
            )
        elif not pair[1].strip():
            issues.append(Issue(where, "the answer is empty: nothing to learn from"))
        else:
            turns += [("user", pair[0]), ("assistant", pair[1])]
    return turns


def convert(row: dict, columns: Layout, tags: Layout) -> Record | list[Issue]:
    response_key = columns["response"]
    ranking = columns.get("chosen") is not None or columns.get("rejected") is not None
    if ranking and (columns.get("chosen") is None or columns.get("rejected") is None):
        return [Issue(None, "preference records need both columns.chosen and columns.rejected")]
    if ranking:
        response_key = None
    elif response_key is None:
        return [Issue(None, "no response column is set: alpaca records need one (columns.response)")]
    if columns["prompt"] is None and columns["query"] is None:
        return [Issue(None, "no prompt column is set: alpaca records need one (columns.prompt)")]
    issues: list[Issue] = []
    prompt = text_field(row, columns["prompt"], issues, required=True)
    query = text_field(row, columns["query"], issues, required=False)
    response = text_field(row, response_key, issues, required=True)
    answers = (
        [text_field(row, columns[key], issues, required=True) for key in ("chosen", "rejected")]
        if ranking
        else []
    )
    tag = kto_tag_field(row, columns["kto_tag"], issues) if columns.get("kto_tag") else None
    system = text_field(row, columns["system"], issues, required=False)
    tools = tools_field(row, columns["tools"], issues)
    history = _history(row, columns["history"], issues)
    for key, answer in zip(("chosen", "rejected"), answers, strict=False):
        if answer is not None and not answer.strip():
            issues.append(Issue(columns[key], f"{columns[key]!r} is empty: nothing to compare"))
    if response is not None and not response.strip():
        issues.append(Issue(response_key, f"{response_key!r} is empty: nothing to learn from"))
    if not issues and not (prompt or query):
        keys = [key for key in (columns["prompt"], columns["query"]) if key]
        verb = "are both" if len(keys) > 1 else "is"
        names = " and ".join(repr(key) for key in keys)
        issues.append(Issue(keys[0], f"{names} {verb} empty: there is no prompt"))
    if issues:
        return issues
    user = "\n".join(part for part in (prompt, query) if part)
    head = ([("system", system)] if system else []) + history + [("user", user)]
    if ranking:
        return build_preference(head, answers[0] or "", answers[1] or "", tools, field=columns["chosen"])
    turns = [*head, ("assistant", response or "")]
    if tag is not None:
        return build_kto(turns, tools, tag, field=response_key)
    return build(turns, tools, field=response_key)


FORMATS.add("alpaca", RecordFormat("alpaca", COLUMNS, {}, convert))
