"""Raw rows from JSON, JSONL, CSV and Parquet files, streamed with bounded memory.

Each row comes with its 0-based index in the file and, where the format has lines, its 1-based line.
A row that cannot even be parsed (bad JSON on one JSONL line) carries a `problem` instead of a value.
"""

from __future__ import annotations

import csv
import json
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ijson

from stockade.core.errors import DependencyMissing
from stockade.data.readers.encoding import BOM, Utf8Stream, check_prefix, decoded_lines, normalize_encoding
from stockade.data.readers.errors import DatasetError
from stockade.data.readers.sources import file_kind

PARQUET_BATCH_ROWS = 1024
LOCATE_LIMIT_BYTES = 256 << 20  # a syntax error in a larger .json file is reported by record, not line
EXCERPT_CHARS = 72


@dataclass(frozen=True)
class RawRow:
    index: int
    line: int | None
    value: Any = None
    problem: str | None = None


def iter_rows(path: Path, encoding: str = "utf-8") -> Iterator[RawRow]:
    kind = file_kind(path)
    if kind == "parquet":  # Parquet strings are UTF-8 by specification: no encoding to check
        yield from _parquet_rows(path)
        return
    check_prefix(path, encoding)
    if kind == "jsonl":
        yield from _jsonl_rows(path, encoding)
    elif kind == "csv":
        yield from _csv_rows(path, encoding)
    elif kind == "json":
        yield from _json_rows(path, encoding)
    elif kind == "text":
        yield from _text_rows(path, encoding)
    else:
        raise DatasetError(f"unsupported file type {path.suffix!r}", where=str(path))


def _text_rows(path: Path, encoding: str) -> Iterator[RawRow]:
    """A plain-text file (.txt, .md) is one document: one row ``{"text": the whole file}``."""
    with path.open("rb") as stream:
        text = "".join(line for _, line in decoded_lines(stream, path, encoding))
    yield RawRow(0, 1, value={"text": text})


def _jsonl_rows(path: Path, encoding: str) -> Iterator[RawRow]:
    index = 0
    with path.open("rb") as stream:
        for number, text in decoded_lines(stream, path, encoding):
            if not text.strip():
                continue
            try:
                yield RawRow(index, number, value=json.loads(text))
            except json.JSONDecodeError as exc:
                yield RawRow(index, number, problem=f"invalid JSON: {exc.msg} (column {exc.colno})")
            except RecursionError:
                yield RawRow(index, number, problem="invalid JSON: nested too deeply")
            index += 1


def _csv_rows(path: Path, encoding: str) -> Iterator[RawRow]:
    csv.field_size_limit(max(csv.field_size_limit(), 1 << 30))  # answers can be longer than 128 KiB
    with path.open("rb") as stream:
        reader = csv.DictReader(text for _, text in decoded_lines(stream, path, encoding))
        index = 0
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise DatasetError(
                    f"invalid CSV near line {reader.line_num}: {exc}", where=str(path)
                ) from None
            if None in row:
                yield RawRow(index, reader.line_num, problem="the row has more fields than the header")
            else:
                yield RawRow(index, reader.line_num, value=row)
            index += 1


def _first_byte(path: Path) -> bytes:
    with path.open("rb") as stream:
        head = stream.read(4096)
        if head.startswith(BOM):
            head = head[len(BOM) :]
        while head and not head.lstrip():
            head = stream.read(4096)
    return head.lstrip()[:1]


def _json_rows(path: Path, encoding: str) -> Iterator[RawRow]:
    first = _first_byte(path)
    if first == b"{":
        yield from _object_file(path, encoding)
        return
    if first != b"[":
        what = "the file is empty" if not first else "the file is not a JSON list of records"
        raise DatasetError(what, where=str(path), fix="a .json file holds a list of records: [{...}, {...}]")
    count = 0
    with path.open("rb") as stream:
        try:
            for value in ijson.items(Utf8Stream(stream, path, encoding), "item", use_float=True):
                yield RawRow(count, None, value=value)
                count += 1
        except ijson.JSONError as exc:
            raise _syntax_error(path, encoding, count, exc) from None


def _syntax_error(path: Path, encoding: str, count: int, exc: Exception) -> DatasetError:
    """Where a .json file stops being JSON: line, column, the line itself with a caret, and the fix."""
    reason = str(exc).splitlines()[0] if str(exc) else "parse error"  # yajl appends raw bytes: dropped
    if "integer overflow" in reason:  # yajl's 64-bit limit
        fix = 'a number there does not fit in 64 bits: write long ids as strings ("id": "12...")'
        return DatasetError(f"invalid JSON after record {count - 1}: {reason}", where=str(path), fix=fix)
    located = locate_json_error(path, encoding) if path.stat().st_size <= LOCATE_LIMIT_BYTES else None
    if located is None:
        after = f"after record {count - 1}" if count else "before the first record"
        fix = "the file may be truncated or hand-edited; check it with python -m json.tool"
        return DatasetError(f"invalid JSON {after}: {reason}", where=str(path), fix=fix)
    return DatasetError(
        f"invalid JSON at line {located.line}, column {located.column}"
        f"{f' (after record {count - 1})' if count else ''}: {located.what}\n{located.excerpt}",
        where=f"{path}:{located.line}:{located.column}",
        fix=located.fix,
    )


@dataclass(frozen=True)
class SyntaxPlace:
    line: int  # 1-based
    column: int  # 1-based, in characters
    what: str
    fix: str
    excerpt: str  # the line, decoded, and a caret under the column


def locate_json_error(path: Path, encoding: str) -> SyntaxPlace | None:
    """The first syntax error of a .json file, found by Python's own JSON parser.

    Only on the error path, after the streaming parser failed, and only for files up to
    `LOCATE_LIMIT_BYTES` (the whole text is read; hand-edited files, where these errors come from,
    are small). None when the text parses (then the streaming parser's message is kept).
    """
    raw = path.read_bytes()
    text = (
        raw[len(BOM) :].decode(normalize_encoding(encoding), errors="replace")
        if raw.startswith(BOM)
        else raw.decode(normalize_encoding(encoding), errors="replace")
    )
    try:
        json.loads(text)
        return None
    except json.JSONDecodeError as exc:
        position, what = exc.pos, exc.msg
    except RecursionError:
        return None
    fix = "correct the JSON at that place"
    before = text[:position].rstrip()
    if position < len(text) and text[position] in "]}" and before.endswith(","):
        closer = "a list" if text[position] == "]" else "an object"
        position = len(before) - 1
        what = f"a comma after the last item of {closer} (JSON allows no trailing comma)"
        fix = "delete that comma"
    elif position >= len(text.rstrip()) or what.startswith("Unterminated string"):
        what = f"{what}: the text ends early"
        fix = "the file is truncated: copy it again, or close the open lists and objects"
    line = text.count("\n", 0, position) + 1
    start = text.rfind("\n", 0, position) + 1
    end = text.find("\n", position)
    excerpt = _excerpt(text[start : end if end >= 0 else len(text)], position - start)
    return SyntaxPlace(line, position - start + 1, what, fix, excerpt)


def _excerpt(line: str, column: int, width: int = EXCERPT_CHARS) -> str:
    """The line (cut to `width` characters around `column`, 0-based) and a caret under the column."""
    line = line.rstrip("\r")
    start = max(0, min(column - width // 2, len(line) - width))
    shown = line[start : start + width]
    prefix = "…" if start > 0 else ""
    suffix = "…" if start + width < len(line) else ""
    pad = sum(
        2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in prefix + shown[: column - start]
    )
    return f"    {prefix}{shown}{suffix}\n    {' ' * pad}^"


def _object_file(path: Path, encoding: str) -> Iterator[RawRow]:
    """A .json file starting with '{': JSON Lines under a .json name (read as such), else refused."""
    with path.open("rb") as stream:
        first_line = next((text for _, text in decoded_lines(stream, path, encoding) if text.strip()), "")
    try:
        one_record_per_line = isinstance(json.loads(first_line), dict)
    except (json.JSONDecodeError, RecursionError):
        one_record_per_line = False
    if not one_record_per_line:
        raise DatasetError(
            "the top-level JSON value is an object; Stockade expects a list of records",
            where=str(path),
            fix="wrap the records in a list ([{...}, {...}]), or write one record per line to a .jsonl file",
        )
    yield from _jsonl_rows(path, encoding)


def _parquet_rows(path: Path) -> Iterator[RawRow]:
    try:
        import pyarrow  # optional dependency: imported only when a Parquet file is read
        import pyarrow.parquet as pq
    except ImportError:
        raise DependencyMissing(
            "reading Parquet files needs pyarrow, which is not installed",
            where=str(path),
            fix="pip install pyarrow (it comes with pip install 'stockade[train]'), "
            "or convert the file to JSONL",
        ) from None
    try:
        batches = pq.ParquetFile(path).iter_batches(batch_size=PARQUET_BATCH_ROWS)
        index = 0
        for batch in batches:
            for value in batch.to_pylist():
                yield RawRow(index, None, value=value)
                index += 1
    except (pyarrow.ArrowException, OSError) as exc:
        raise DatasetError(f"cannot read the Parquet file: {exc}", where=str(path)) from None
