"""The record formats (alpaca, sharegpt, messages, text), registered by name, and what they share.

A converter takes one raw row and the resolved column/tag layout and returns a record (a
`Conversation`; with preference columns a `PreferencePair` or `KtoExample`; a `TextDocument` for text),
or the `Issue`s that make the row unusable. It never raises for a bad row.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from stockade.core.registry import Registry
from stockade.core.suggestions import closest
from stockade.data.records import RECORD_TYPES, Conversation, KtoExample, PreferencePair, Record, Turn

Layout = Mapping[str, str | None]


@dataclass(frozen=True)
class Issue:
    field: str | None
    reason: str


Converter = Callable[[dict, Layout, Layout], Record | list[Issue]]


@dataclass(frozen=True)
class RecordFormat:
    name: str
    columns: dict[str, str | None]  # defaults, used when a source names no columns
    tags: dict[str, str | None]  # defaults, used when a source names no tags
    convert: Converter

    def layout(self, columns: Mapping[str, str], tags: Mapping[str, str]) -> tuple[Layout, Layout]:
        """LLaMA-Factory semantics: given columns (tags) replace the defaults; unnamed ones are unset."""
        resolved_columns = (
            dict(self.columns) if not columns else {key: columns.get(key) for key in self.columns}
        )
        resolved_tags = dict(self.tags) if not tags else {key: tags.get(key) for key in self.tags}
        return resolved_columns, resolved_tags


FORMATS: Registry[RecordFormat] = Registry("dataset formatting")


def describe(value: Any) -> str:
    """A JSON-ish name for a value's type, with a short preview."""
    names = {bool: "a boolean", int: "a number", float: "a number", list: "a list", dict: "an object"}
    if value is None:
        return "null"
    name = names.get(type(value), type(value).__name__)
    preview = json.dumps(value, ensure_ascii=False, default=str)
    return f"{name} ({preview[:37] + '...' if len(preview) > 40 else preview})"


def missing(row: dict, field: str) -> Issue:
    """The issue of a required field absent from ``row``, naming a key of the row that looks misspelt."""
    if "chosen" in row or "rejected" in row:
        return Issue(
            field,
            f"missing field {field!r}: this looks like a preference record (chosen/rejected); import it "
            "through a dataset_info.json entry with ranking: true and columns chosen and rejected",
        )
    unknown = closest(field, [key for key in row if isinstance(key, str) and key != field])
    if unknown is not None:  # a misspelt key, e.g. 'instrution' for 'instruction'
        return Issue(
            field,
            f"missing field {field!r}; the record has {unknown!r} (did you mean {field!r}?): rename it, "
            "or map it to this column in the dataset's columns",
        )
    return Issue(field, f"missing field {field!r}")


def text_field(row: dict, key: str | None, issues: list[Issue], *, required: bool) -> str | None:
    """A text column; null counts as absent. Anything else than text is an issue."""
    if key is None:
        return None
    value = row.get(key)
    if value is None:
        if required:
            issues.append(missing(row, key))
        return None
    if not isinstance(value, str):
        issues.append(Issue(key, f"{key!r} must be text, not {describe(value)}"))
        return None
    return value


def json_field(value: Any) -> Any:
    """A list or object may arrive as JSON text (a CSV cell); decode it when it looks like one."""
    if isinstance(value, str) and value.lstrip()[:1] in ("[", "{"):
        try:
            return json.loads(value)
        except (json.JSONDecodeError, RecursionError):
            return value
    return value


def tools_field(row: dict, key: str | None, issues: list[Issue]) -> str | None:
    """Tool definitions as JSON text: a JSON string is checked, a list/object is serialised."""
    if key is None or row.get(key) in (None, ""):
        return None
    value = row[key]
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    if not isinstance(value, str):
        issues.append(Issue(key, f"{key!r} must be JSON text or a list of tools, not {describe(value)}"))
        return None
    try:
        json.loads(value)
    except (json.JSONDecodeError, RecursionError) as exc:
        issues.append(Issue(key, f"{key!r} is not valid JSON: {exc}"))
        return None
    return value


def build(turns: list[tuple[str, str]], tools: str | None, field: str | None) -> Conversation | list[Issue]:
    """The Conversation for (role, content) turns, or the issue that its validation raised."""
    body = turns[1:] if turns and turns[0][0] == "system" else turns
    if len(body) < 2:
        count = f"{len(body)} turn" + ("" if len(body) == 1 else "s")
        return [Issue(field, f"the conversation has {count}; it needs at least a prompt and an answer")]
    for text in [content for _, content in turns] + ([tools] if tools else []):
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return [Issue(field, "the text holds an unpaired surrogate (\\ud800-\\udfff): not valid Unicode")]
    try:
        return Conversation(
            messages=[Turn(role=role, content=content) for role, content in turns], tools=tools
        )
    except ValidationError as exc:
        reasons = "; ".join(str(error["msg"]).removeprefix("Value error, ") for error in exc.errors())
        return [Issue(field, reasons)]


def is_record(value: object) -> bool:
    return isinstance(value, RECORD_TYPES)


def kto_tag_field(row: dict, key: str, issues: list[Issue]) -> bool | None:
    """LLaMA-Factory's kto_tag: true (desirable) or false (undesirable); "true"/"false" text (a CSV cell)."""
    value = row.get(key)
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    if not isinstance(value, bool):
        reason = (
            missing(row, key).reason
            if value is None
            else f"{key!r} must be true or false, not {describe(value)}"
        )
        issues.append(Issue(key, reason))
        return None
    return value


def _validated(model: type, field: str | None, **data: Any) -> Record | list[Issue]:
    try:
        return model(**data)  # type: ignore[no-any-return]
    except ValidationError as exc:
        reasons = "; ".join(str(error["msg"]).removeprefix("Value error, ") for error in exc.errors())
        return [Issue(field, reasons)]


def build_preference(
    prompt: list[tuple[str, str]], chosen: str, rejected: str, tools: str | None, field: str | None
) -> Record | list[Issue]:
    """A `PreferencePair`: the prompt turns, then the chosen and rejected answers."""
    turns = [*prompt, ("chosen", chosen), ("rejected", rejected)]
    return _validated(
        PreferencePair, field, messages=[Turn(role=r, content=c) for r, c in turns], tools=tools
    )


def build_kto(
    turns: list[tuple[str, str]], tools: str | None, tag: bool, field: str | None
) -> Record | list[Issue]:
    built = build(turns, tools, field)
    if not isinstance(built, Conversation):
        return built
    return _validated(KtoExample, field, messages=list(built.messages), tools=tools, kto_tag=tag)
