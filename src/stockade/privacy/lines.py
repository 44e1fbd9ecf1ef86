"""Per-line work of scans and desensitization, for raw JSON/JSONL files and for stored records.

Raw files are edited in place at the byte level: only JSON string *values* that contain personal
data are re-encoded; keys, whitespace, key order, escapes of untouched strings and every other
byte stay as they were. JSON string literals cannot contain a raw newline, so a file can be
processed line by line (and the lines split between processes) whatever its layout.
"""

from __future__ import annotations

import json
import re
from json.decoder import scanstring  # type: ignore[attr-defined]
from json.encoder import encode_basestring, encode_basestring_ascii

from stockade.privacy.engine import PrivacyEngine
from stockade.privacy.record import spread_values
from stockade.privacy.report import ScanReport

# A JSON string literal, written as an "unrolled loop" (runs of plain characters between escape
# pairs): several times faster on long strings than the equivalent per-character alternation.
STRING_LITERAL = re.compile(r'"[^"\\\n]*(?:\\.[^"\\\n]*)*"')
KEY_FOLLOWS = re.compile(r"\s*:")
# Both in one pattern: a literal (group 1), and the colon that makes it a key (group 2, if any).
_LITERAL_AND_COLON = re.compile(f"({STRING_LITERAL.pattern})({KEY_FOLLOWS.pattern})?")


def _decode(literal: str) -> str:
    """The value of a JSON string literal: ``json.loads(literal)``, as the one C call that does the
    work (``loads`` adds three Python-level calls around it, on every string of every line)."""
    return scanstring(literal, 1)[0]


def _encode_like(original_literal: str, value: str) -> str:
    """Re-encode ``value`` in the style of the literal it replaces (``\\uXXXX`` escapes or raw UTF-8)."""
    # what json.dumps(value, ensure_ascii=...) returns for a str, without building an encoder
    if "\\u" in original_literal and original_literal.isascii():
        return encode_basestring_ascii(value)
    return encode_basestring(value)


def process_raw_line(line: str, engine: PrivacyEngine, report: ScanReport, *, transform: bool) -> str:
    """Scan (and if ``transform``, desensitize) the string values of one line of a JSON/JSONL file.
    A line is one record of a JSONL file: a value found in one field is replaced in all of them."""
    literals: list[re.Match[str]] = []
    values: list[str] = []
    fields: list[str] = []
    field = "(value)"
    for match in _LITERAL_AND_COLON.finditer(line):
        if match[2] is not None:  # a key
            field = _decode(match[1])
            continue
        literals.append(match)
        values.append(_decode(match[1]))
        fields.append(field)
    if not literals:
        return line
    all_spans = spread_values(values, [engine.scan(value) for value in values])
    out: list[str] = []
    last = 0
    for match, value, field, spans in zip(literals, values, fields, all_spans, strict=True):
        report.add(value, spans, field)
        if transform and spans:
            out.append(line[last : match.start()])
            out.append(_encode_like(match[1], engine.transform(value, spans)))
            last = match.end()
    if not out:
        return line
    out.append(line[last:])
    return "".join(out)


def process_record_line(line: str, engine: PrivacyEngine, report: ScanReport, *, transform: bool) -> str:
    """One stored record (``{"messages": [...], "tools": ...}``); counts by role, rewrites if asked.
    A value found in one message is replaced in every message of the record."""
    if not line.strip():
        return line
    record = json.loads(line)
    places: list[tuple[dict, str, str]] = [(m, "content", m["role"]) for m in record["messages"]]
    if isinstance(record.get("tools"), str):
        places.append((record, "tools", "tools"))
    texts = [holder[key] for holder, key, _ in places]
    all_spans = spread_values(texts, [engine.scan(text) for text in texts])
    changed = False
    for (holder, key, field), text, spans in zip(places, texts, all_spans, strict=True):
        report.add(text, spans, field)
        if transform and spans:
            holder[key] = engine.transform(text, spans)
            changed = True
    if not changed:
        return line
    from stockade.core.hashing import canonical_json

    return canonical_json(record) + "\n"


LINE_PROCESSORS = {"raw": process_raw_line, "records": process_record_line}
