"""Text encodings: UTF-8 is enforced; GBK/GB18030 files are recognised, and converted when asked.

Detection has to work while streaming: a prefix sample is checked before the first record is read,
and any later decoding failure becomes the same clear error, naming the byte offset and line.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from stockade.core.errors import ConfigError
from stockade.data.readers.errors import DatasetError

BOM = codecs.BOM_UTF8
PREFIX_BYTES = 1 << 16
CHUNK_BYTES = 1 << 16
# codecs' canonical name -> the decoder Stockade uses
_ENCODINGS = {"utf-8": "utf-8", "utf-8-sig": "utf-8", "gbk": "gbk", "gb2312": "gbk", "gb18030": "gb18030"}


def normalize_encoding(encoding: str) -> str:
    """'utf-8', 'gbk' or 'gb18030' (aliases such as utf8, cp936 and gb2312 accepted)."""
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        name = None
    if name not in _ENCODINGS:
        raise ConfigError(
            f"unsupported encoding {encoding!r}",
            fix="use utf-8 (the default), gbk or gb18030; convert other files to UTF-8 first, "
            "e.g. iconv -f SOURCE-ENCODING -t UTF-8 FILE > FILE.utf8",
        )
    return _ENCODINGS[name]


def looks_gbk(sample: bytes) -> bool:
    """True when bytes that are not UTF-8 read as Chinese text in GBK/GB18030."""
    try:
        text = codecs.getincrementaldecoder("gb18030")().decode(sample, final=False)
    except UnicodeDecodeError:
        return False
    wide = [char for char in text if ord(char) > 0x7F]
    if not wide:
        return False
    common = 0  # characters of the GB2312 core (both bytes >= 0xA1): everyday Chinese text
    for char in wide:
        try:
            char.encode("gb2312")
        except UnicodeEncodeError:
            continue
        common += 1
    return common * 2 >= len(wide)


def decode_error(
    path: Path, data: bytes, exc: UnicodeDecodeError, *, offset: int, line: int | None, encoding: str
):
    """The DatasetError for bytes that do not decode; `data` is what was being decoded."""
    at = f"byte offset {offset}" + (f", line {line}" if line is not None else "")
    bad = data[exc.start : exc.start + 1].hex()
    if encoding == "utf-8" and looks_gbk(data[exc.start : exc.start + 4096]):
        return DatasetError(
            f"file looks GBK-encoded, not UTF-8 (first non-UTF-8 byte 0x{bad} at {at})",
            where=str(path),
            fix=f"re-run with --encoding gbk to convert it, or convert it with "
            f"iconv -f GBK -t UTF-8 {path} > {path.with_suffix('.utf8' + path.suffix)}",
        )
    return DatasetError(
        f"file is not valid {encoding.upper()} (byte 0x{bad} at {at})",
        where=str(path),
        fix="convert it to UTF-8, e.g. iconv -f SOURCE-ENCODING -t UTF-8; Chinese text in GBK or "
        "GB18030 can be read with --encoding gbk / --encoding gb18030",
    )


def check_prefix(path: Path, encoding: str) -> None:
    """Check the first 64 KiB before any record is read, so a wrong encoding fails up front."""
    with path.open("rb") as stream:
        sample = stream.read(PREFIX_BYTES)
    if encoding != "utf-8" and not sample.isascii() and _is_utf8(sample):
        raise DatasetError(
            f"file is already UTF-8, but it was to be read as {encoding.upper()}",
            where=str(path),
            fix=f"drop --encoding {encoding}: decoding UTF-8 text as {encoding.upper()} garbles it",
        )
    start = len(BOM) if encoding == "utf-8" and sample.startswith(BOM) else 0
    try:
        codecs.getincrementaldecoder(encoding)().decode(sample[start:], final=False)
    except UnicodeDecodeError as exc:
        line = sample.count(b"\n", 0, start + exc.start) + 1
        raise decode_error(
            path, sample[start:], exc, offset=start + exc.start, line=line, encoding=encoding
        ) from None


def _is_utf8(sample: bytes) -> bool:
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
    except UnicodeDecodeError:
        return False
    return True


def decoded_lines(stream: BinaryIO, path: Path, encoding: str) -> Iterator[tuple[int, str]]:
    """(1-based line number, text with its line ending) for each line; a UTF-8 BOM is dropped.

    Splitting bytes at b"\\n" is safe for UTF-8, GBK and GB18030: no multi-byte character holds 0x0A.
    """
    offset = 0
    for number, raw in enumerate(stream, start=1):
        skip = len(BOM) if number == 1 and encoding == "utf-8" and raw.startswith(BOM) else 0
        try:
            text = raw[skip:].decode(encoding)
        except UnicodeDecodeError as exc:
            at = offset + skip + exc.start
            raise decode_error(path, raw[skip:], exc, offset=at, line=number, encoding=encoding) from None
        offset += len(raw)
        yield number, text


class Utf8Stream:
    """A binary stream of UTF-8 bytes from a file in `encoding`, checked chunk by chunk (for ijson)."""

    def __init__(self, stream: BinaryIO, path: Path, encoding: str) -> None:
        self._stream = stream
        self._path = path
        self._encoding = encoding
        self._decoder = codecs.getincrementaldecoder(encoding)()
        self._offset = 0  # bytes of the file consumed so far
        self._lines = 0  # newlines consumed so far
        self._done = False

    def read(self, size: int = -1) -> bytes:
        if size == 0 or self._done:
            return b""
        data = self._stream.read(size if size > 0 else CHUNK_BYTES)
        start = self._offset
        if start == 0 and self._encoding == "utf-8" and data.startswith(BOM):
            data = data[len(BOM) :]
            start = self._offset = len(BOM)
        pending = self._decoder.getstate()[0]
        try:
            text = self._decoder.decode(data, final=not data)
        except UnicodeDecodeError as exc:
            seen = pending + data
            line = self._lines + seen.count(b"\n", 0, exc.start) + 1
            at = start - len(pending) + exc.start
            raise decode_error(self._path, seen, exc, offset=at, line=line, encoding=self._encoding) from None
        self._offset += len(data)
        self._lines += data.count(b"\n")
        self._done = not data
        return data if self._encoding == "utf-8" else text.encode("utf-8")
