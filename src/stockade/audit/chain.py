"""The hash chain: what a record's hash covers and how it is computed."""

from __future__ import annotations

import hashlib
from typing import Any

from stockade.core.hashing import canonical_json

GENESIS_HASH = "0" * 64
HASHED_FIELDS = (
    "seq",
    "ts",
    "actor",
    "role",
    "source",
    "action",
    "target",
    "result",
    "request_id",
    "reason",
    "details",
    "prev_hash",
)


def record_hash(fields: dict[str, Any]) -> str:
    """SHA-256 over the canonical JSON of every hashed field (``details`` is already canonical JSON)."""
    payload = {name: fields.get(name) for name in HASHED_FIELDS}
    return hashlib.sha256(canonical_json(payload).encode("utf-8")).hexdigest()
