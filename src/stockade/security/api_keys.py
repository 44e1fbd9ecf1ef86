"""API keys: ``stk_<id>_<secret>`` with a 32-byte random secret, stored only as a SHA-256.

The id is not secret (it names the key in listings, rate limits and the audit log); the secret
is shown once, at issue. A 256-bit random secret needs no slow password hash: SHA-256 of it
cannot be reversed, and the comparison is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from stockade.security.principal import AuthenticationFailed

PREFIX = "stk"
SECRET_BYTES = 32
ID_PATTERN = re.compile(r"^[0-9a-f]{16}$")
_TOKEN = re.compile(r"^stk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$")


@dataclass(frozen=True)
class NewApiKey:
    key_id: str
    token: str  # shown once; never stored or logged
    secret_sha256: str


def secret_hash(key_id: str, secret: str) -> str:
    return hashlib.sha256(f"{key_id}:{secret}".encode()).hexdigest()


def new_api_key() -> NewApiKey:
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(SECRET_BYTES)  # 43 characters of base64url
    return NewApiKey(key_id, f"{PREFIX}_{key_id}_{secret}", secret_hash(key_id, secret))


def looks_like_api_key(token: str) -> bool:
    return token.startswith(f"{PREFIX}_")


def parse_api_key(token: str) -> tuple[str, str]:
    """(key id, secret) of a well-formed key; AuthenticationFailed otherwise."""
    match = _TOKEN.match(token)
    if match is None:
        raise AuthenticationFailed("API key refused: malformed", reason="malformed", fix="check the key")
    return match.group(1), match.group(2)


def secret_matches(stored_sha256: str, key_id: str, secret: str) -> bool:
    return hmac.compare_digest(stored_sha256.encode(), secret_hash(key_id, secret).encode())
