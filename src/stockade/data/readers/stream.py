"""From files to conversations: format detection, record conversion and the streaming reader."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

from stockade.core.errors import ConfigError
from stockade.data.readers import alpaca, messages, sharegpt, text  # noqa: F401 - registers the formats
from stockade.data.readers.errors import TooManyProblems
from stockade.data.readers.files import iter_rows
from stockade.data.readers.formats import FORMATS, Issue, describe, is_record
from stockade.data.readers.sources import DatasetSource, check_formatting
from stockade.data.records import Record, RecordProblem

_FORMAT_HINT = (
    "'instruction'/'output' (alpaca), 'conversations' (sharegpt), 'messages' (OpenAI messages) or 'text' "
    "(plain text, for stage pt)"
)


def detect_format(first_row: dict) -> str:
    """'alpaca', 'sharegpt', 'messages' or 'text', from a record's keys; ConfigError when it cannot tell."""
    if not isinstance(first_row, dict):
        raise ConfigError(
            f"cannot tell the dataset format: the record is {describe(first_row)}, not an object",
            fix=f"records are objects with {_FORMAT_HINT}",
        )
    if "conversations" in first_row:
        return "sharegpt"
    if "messages" in first_row:
        return "messages"
    if "instruction" in first_row or "output" in first_row:
        return "alpaca"
    if "text" in first_row:
        return "text"
    keys = ", ".join(repr(key) for key in list(first_row)[:8]) or "none"
    raise ConfigError(
        f"cannot tell the dataset format from the record's keys ({keys})",
        fix=f"expected {_FORMAT_HINT}, or set the formatting (and columns) explicitly",
    )


def _problems(issues: list[Issue], file: str, index: int, line: int | None) -> list[RecordProblem]:
    return [RecordProblem(file=file, index=index, reason=i.reason, field=i.field, line=line) for i in issues]


def convert_record(
    value: object,
    formatting: str,
    *,
    columns: Mapping[str, str] | None = None,
    tags: Mapping[str, str] | None = None,
    file: str = "<record>",
    index: int = 0,
    line: int | None = None,
) -> Record | list[RecordProblem]:
    """One raw record to a record (a Conversation, or per format and columns another kind), or the
    (non-empty) list of its problems. Never raises for data."""
    if check_formatting(formatting) == "auto":
        try:
            formatting = detect_format(value)  # type: ignore[arg-type]
        except ConfigError as exc:
            return _problems([Issue(None, exc.what)], file, index, line)
    record_format = FORMATS.get(formatting)
    if not isinstance(value, dict):
        return _problems(
            [Issue(None, f"a record must be an object, not {describe(value)}")], file, index, line
        )
    column_layout, tag_layout = record_format.layout(columns or {}, tags or {})
    result = record_format.convert(value, column_layout, tag_layout)
    return result if is_record(result) else _problems(result, file, index, line)  # type: ignore[return-value,arg-type]


def _read_file(path: Path, source: DatasetSource) -> Iterator[Record | RecordProblem]:
    file, formatting = str(path), None if source.formatting == "auto" else source.formatting
    detected_at = None
    for row in iter_rows(path, source.encoding):
        if row.problem is not None:
            yield RecordProblem(file=file, index=row.index, reason=row.problem, line=row.line)
            continue
        if formatting is None:
            try:
                formatting, detected_at = detect_format(row.value), row.index
            except ConfigError as exc:
                yield RecordProblem(file=file, index=row.index, reason=exc.what, line=row.line)
                continue
        result = convert_record(
            row.value,
            formatting,
            columns=source.columns,
            tags=source.tags,
            file=file,
            index=row.index,
            line=row.line,
        )
        if is_record(result):
            yield result  # type: ignore[misc]
            continue
        if detected_at is not None and isinstance(row.value, dict):
            try:
                own = detect_format(row.value)
            except ConfigError:
                own = formatting
            if own != formatting:
                reason = (
                    f"the record looks like {own}, but the file is {formatting} "
                    f"(detected from record {detected_at})"
                )
                result = [RecordProblem(file=file, index=row.index, reason=reason, line=row.line)]
        yield from result  # type: ignore[misc]


def read_records(
    source: DatasetSource, *, max_problems: int | None = None
) -> Iterator[Record | RecordProblem]:
    """Records and problems of every record of the source's files, streamed in file order.

    A bad record yields one or more `RecordProblem`s and reading goes on. A file that cannot be read
    as a whole raises `DatasetError`; after `max_problems` problems, the next one raises `TooManyProblems`.
    """
    count = 0
    for path in source.paths:
        for item in _read_file(path, source):
            if isinstance(item, RecordProblem):
                if max_problems is not None and count >= max_problems:
                    raise TooManyProblems(
                        f"more than {max_problems} problems in dataset {source.name!r}; stopped reading",
                        where=item.render(),
                        fix="fix the records reported so far (is the formatting right?), or allow more",
                    )
                count += 1
            yield item
