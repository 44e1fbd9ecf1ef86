"""Tokenized training data, cached in the workspace so that a second run starts at once.

A cache entry holds one dataset version encoded for one run setting; its key is the SHA-256 of

* the dataset version's content hash,
* the base model's manifest hash (the tokenizer's files are part of it),
* the chat template asked for (``None``: the model's own, which the manifest fixes), ``cutoff_len`` and
  ``max_samples``,
* the source of the tokenization code (``stockade.data.tokenization`` and ``stockade.data.templates``),
  so an upgrade that changes how text becomes tokens never reuses an old entry.

An entry is ``<key>.json`` (counts, template name, pad id, and the SHA-256 of the token file) beside
``<key>.bin`` (little-endian int32: every example's input ids then its labels). Both are written to a
temporary name and renamed; a token file whose hash does not match is not used (and is rewritten).
No pickle: the cache holds numbers only. It lives in ``<workspace>/cache/tokenized/`` (mode 0700, like
the datasets it is derived from) and may be deleted at any time.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

FORMAT = 1


@dataclass
class Encoded:
    """One dataset version, tokenized: its examples, records read, skips by reason, template, pad id."""

    examples: list[Any]
    records: int
    skipped: dict[str, int] = field(default_factory=dict)
    template: str = ""
    pad_token_id: int = 0


@cache
def code_fingerprint() -> str:
    """SHA-256 over the tokenization and template source files."""
    from stockade.data import templates, tokenization

    digest = hashlib.sha256()
    files = [Path(tokenization.__file__), *sorted(Path(templates.__file__).parent.rglob("*.py"))]
    for path in files:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def cache_key(
    dataset_sha256: str, model_sha256: str, template: str | None, cutoff_len: int, max_samples: int | None
) -> str:
    parts = {
        "format": FORMAT,
        "dataset": dataset_sha256,
        "model": model_sha256,
        "template": template,
        "cutoff_len": cutoff_len,
        "max_samples": max_samples,
        "code": code_fingerprint(),
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def load(folder: Path, key: str) -> Encoded | None:
    """The entry ``key``, or None when there is none or it does not check out."""
    from stockade.data.tokenization import EncodedExample

    meta_path, bin_path = folder / f"{key}.json", folder / f"{key}.bin"
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        raw = bin_path.read_bytes()
    except (OSError, ValueError):
        return None
    if meta.get("format") != FORMAT or hashlib.sha256(raw).hexdigest() != meta.get("tokens_sha256"):
        return None
    numbers = array("i")
    numbers.frombytes(raw)
    if sys.byteorder != "little":
        numbers.byteswap()
    examples, at = [], 0
    for length, trainable, truncated in meta["examples"]:
        ids = numbers[at : at + length].tolist()
        labels = numbers[at + length : at + 2 * length].tolist()
        at += 2 * length
        examples.append(EncodedExample(ids, labels, trainable, bool(truncated)))
    return Encoded(examples, meta["records"], meta["skipped"], meta["template"], meta["pad_token_id"])


def store(folder: Path, key: str, encoded: Encoded) -> None:
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    numbers = array("i")
    for example in encoded.examples:
        numbers.extend(example.input_ids)
        numbers.extend(example.labels)
    if sys.byteorder != "little":
        numbers.byteswap()
    raw = numbers.tobytes()
    meta = {
        "format": FORMAT,
        "records": encoded.records,
        "skipped": encoded.skipped,
        "template": encoded.template,
        "pad_token_id": encoded.pad_token_id,
        "tokens_sha256": hashlib.sha256(raw).hexdigest(),
        "examples": [[len(e.input_ids), e.trainable_tokens, int(e.truncated)] for e in encoded.examples],
    }
    _write_atomically(folder / f"{key}.bin", raw)  # tokens first: a meta file always has its tokens
    _write_atomically(folder / f"{key}.json", json.dumps(meta).encode())


def cached(folder: Path | None, key: str, encode: Callable[[], Encoded]) -> tuple[Encoded, bool]:
    """The entry ``key`` from ``folder``, else ``encode()`` stored there; and whether it was a hit."""
    if folder is not None:
        hit = load(folder, key)
        if hit is not None:
            return hit, True
    encoded = encode()
    if folder is not None:
        store(folder, key, encoded)
    return encoded, False


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
