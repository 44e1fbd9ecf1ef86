"""Identifiers: time-ordered, random, URL-safe."""

from __future__ import annotations

import secrets
import time


def new_id(prefix: str = "") -> str:
    """``<prefix>`` + 12 hex digits of milliseconds + 8 random hex digits: sorts by creation time."""
    return f"{prefix}{int(time.time() * 1000):012x}{secrets.token_hex(4)}"


def new_request_id() -> str:
    return new_id("req-")
