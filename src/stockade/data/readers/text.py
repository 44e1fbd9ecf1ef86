"""Plain-text records for continued pre-training (stage pt): one document per row's ``text`` column.

LLaMA-Factory reads pre-training text from an alpaca entry that maps only ``prompt`` (its ``c4_demo``:
``"columns": {"prompt": "text"}``); `dataset_info` turns such an entry into this format.
"""

from __future__ import annotations

from stockade.data.readers.formats import FORMATS, Issue, Layout, RecordFormat, text_field
from stockade.data.records import Record, TextDocument

COLUMNS: dict[str, str | None] = {"text": "text"}


def convert(row: dict, columns: Layout, tags: Layout) -> Record | list[Issue]:
    key = columns["text"]
    if key is None:
        return [Issue(None, "no text column is set (columns.text)")]
    issues: list[Issue] = []
    text = text_field(row, key, issues, required=True)
    if issues or text is None:
        return issues
    if not text.strip():
        return [Issue(key, f"{key!r} is empty: nothing to learn from")]
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return [Issue(key, "the text holds an unpaired surrogate (\\ud800-\\udfff): not valid Unicode")]
    return TextDocument.of(text)


FORMATS.add("text", RecordFormat("text", COLUMNS, {}, convert))
