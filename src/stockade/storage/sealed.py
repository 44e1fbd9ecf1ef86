"""A staged file encrypted at rest: the records a data import holds before the privacy gate has run.

The content is encrypted with AES-256-GCM (``cryptography``) under a key made for it alone, held only in
this process's memory (never written, logged or passed to another process) and dropped when the import
ends (:meth:`SealedFile.destroy`). The disk only ever holds ciphertext, so a process killed at any moment
(kill -9, power loss) leaves nothing readable; the next workspace open removes the folder
(:mod:`stockade.workspace.recovery`).

Format: a sequence of frames, each ``header | ciphertext+tag`` where the header is the ciphertext length
(4 bytes, big-endian) and a final flag (1 byte). Frame ``i`` is sealed with nonce ``i`` (12 bytes,
big-endian) and its header as associated data, so frames cannot be reordered, swapped or dropped and a
truncated file does not read as a shorter one. Every :meth:`~SealedFile.writer` uses a new key, so a
(key, nonce) pair is never used twice.
"""

from __future__ import annotations

import hashlib
import io
import os
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from stockade.core.errors import StockadeError
from stockade.storage.staging import PRIVATE_FILE

CHUNK = 1024 * 1024  # plaintext bytes per frame
_HEADER = struct.Struct(">IB")  # ciphertext length, final flag


class SealedFileDamaged(StockadeError):
    """The staged file does not decrypt: changed, truncated, or its key is gone."""


class SealedFile:
    """Text (UTF-8) written and read in frames, encrypted under a key that lives only in this object."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._key: bytearray | None = None
        self.size = 0  # plaintext bytes of the current content
        self.sha256: str | None = None  # SHA-256 of the current plaintext

    @contextmanager
    def writer(self) -> Iterator[TextIO]:
        """A text handle whose writes replace the content when the block ends without an error (on an
        error the previous content, if any, stays). The file is created 0600."""
        key = bytearray(AESGCM.generate_key(bit_length=256))
        temporary = self.path.with_name(self.path.name + ".new")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
        os.fchmod(descriptor, PRIVATE_FILE)
        raw = _SealingWriter(io.FileIO(descriptor, "wb"), AESGCM(key))
        text = io.TextIOWrapper(io.BufferedWriter(raw, CHUNK), encoding="utf-8", newline="")
        try:
            yield text
            text.flush()
            raw.finish()
        except BaseException:
            raw.abandon()
            temporary.unlink(missing_ok=True)
            _wipe(key)
            raise
        os.replace(temporary, self.path)
        self._forget_key()
        self._key, self.size, self.sha256 = key, raw.size, raw.digest.hexdigest()

    @contextmanager
    def reader(self) -> Iterator[TextIO]:
        """The decrypted content as a text handle (lines as written: no newline translation)."""
        raw = self._opened()
        text = io.TextIOWrapper(io.BufferedReader(raw, CHUNK), encoding="utf-8", newline="")
        try:
            yield text
        finally:
            text.close()

    def decrypt_to(self, target: Path) -> None:
        """Write the plaintext to the new file ``target`` (0600, flushed to disk)."""
        descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
        os.fchmod(descriptor, PRIVATE_FILE)
        with os.fdopen(descriptor, "wb") as out, self._opened() as raw:
            while block := raw.read(CHUNK):
                out.write(block)
            out.flush()
            os.fsync(out.fileno())

    def destroy(self) -> None:
        """Forget the key and delete the file: whatever is left on disk can no longer be read."""
        self._forget_key()
        self.path.unlink(missing_ok=True)
        self.path.with_name(self.path.name + ".new").unlink(missing_ok=True)

    def _opened(self) -> _OpeningReader:
        if self._key is None:
            raise SealedFileDamaged(
                "the staged file has no content (nothing written, or its key was destroyed)",
                where=str(self.path),
            )
        return _OpeningReader(io.FileIO(self.path, "rb"), AESGCM(self._key), self.path)

    def _forget_key(self) -> None:
        if self._key is not None:
            _wipe(self._key)
        self._key = None


def _wipe(key: bytearray) -> None:
    key[:] = bytes(len(key))


def _nonce(index: int) -> bytes:
    return index.to_bytes(12, "big")


class _SealingWriter(io.RawIOBase):
    def __init__(self, sink: io.FileIO, cipher: AESGCM) -> None:
        self._sink, self._cipher = sink, cipher
        self._buffer = bytearray()
        self._index = 0
        self.size = 0
        self.digest = hashlib.sha256()

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:
        data = bytes(data)
        self._buffer += data
        self.size += len(data)
        self.digest.update(data)
        while len(self._buffer) > CHUNK:
            self._frame(bytes(self._buffer[:CHUNK]), final=False)
            del self._buffer[:CHUNK]
        return len(data)

    def _frame(self, plain: bytes, *, final: bool) -> None:
        header = _HEADER.pack(len(plain) + 16, int(final))
        self._sink.write(header + self._cipher.encrypt(_nonce(self._index), plain, header))
        self._index += 1

    def finish(self) -> None:
        self._frame(bytes(self._buffer), final=True)
        self._buffer.clear()
        os.fsync(self._sink.fileno())
        self._sink.close()
        super().close()  # closed: the buffers wrapping it neither flush into it nor write again

    def abandon(self) -> None:
        self._buffer.clear()
        self._sink.close()
        super().close()


class _OpeningReader(io.RawIOBase):
    def __init__(self, source: io.FileIO, cipher: AESGCM, path: Path) -> None:
        self._source, self._cipher, self._path = source, cipher, path
        self._plain = b""
        self._index = 0
        self._ended = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:
        while not self._plain and not self._ended:
            self._plain = self._next_frame()
        count = min(len(buffer), len(self._plain))
        buffer[:count] = self._plain[:count]
        self._plain = self._plain[count:]
        return count

    def _next_frame(self) -> bytes:
        header = self._source.read(_HEADER.size)
        if header is None or len(header) < _HEADER.size:
            raise self._damaged("it ends before its last frame (truncated)")
        length, final = _HEADER.unpack(header)
        sealed = self._source.read(length)
        if sealed is None or len(sealed) != length:
            raise self._damaged("it ends inside a frame (truncated)")
        try:
            plain = self._cipher.decrypt(_nonce(self._index), sealed, header)
        except InvalidTag:
            raise self._damaged(f"frame {self._index} fails authentication (changed)") from None
        self._index += 1
        if final:
            if self._source.read(1):
                raise self._damaged("it has data after its last frame")
            self._ended = True
        return plain

    def _damaged(self, what: str) -> SealedFileDamaged:
        return SealedFileDamaged(
            f"the staged file cannot be read back: {what}",
            where=str(self._path),
            fix="run the import again (staged files live only as long as the import that wrote them)",
        )

    def close(self) -> None:
        self._source.close()
        super().close()
