"""Password hashing (argon2id), verification, strength rules and password files.

Only argon2 hashes are stored; a password never reaches a log, an audit record or an error text.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from stockade.core.errors import StockadeError

MIN_LENGTH = 10
MAX_LENGTH = 1024
_hasher = PasswordHasher()  # argon2id, RFC 9106 low-memory profile (t=3, m=64 MiB, p=4)
# For secrets Stockade generated itself (>= 128 random bits) a slow hash adds nothing: nobody can
# enumerate 2^128 guesses at any cost per guess. Still argon2id, so verification is the same.
_random_secret_hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


class WeakPassword(StockadeError):
    """A new password breaks the rules (length)."""

    exit_code = 2


def check_strength(password: str, *, where: str = "password") -> None:
    if len(password) < MIN_LENGTH or len(password) > MAX_LENGTH:
        raise WeakPassword(
            f"a password needs {MIN_LENGTH} to {MAX_LENGTH} characters (this one has {len(password)})",
            where=where,
            fix="choose a longer passphrase, e.g. four unrelated words",
        )


def hash_password(password: str, *, random_secret: bool = False) -> str:
    """argon2id hash; ``random_secret`` only for values from :func:`generate_password`."""
    check_strength(password)
    return (_random_secret_hasher if random_secret else _hasher).hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True when ``password`` matches; False on a mismatch or an unreadable hash (never raises)."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def generate_password() -> str:
    """A random password (144 bits), for a first admin when none was given."""
    return secrets.token_urlsafe(18)


def read_password_file(path: Path) -> str:
    """The first line of ``path`` (without its line break): how scripts pass passwords."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise StockadeError(
            f"cannot read the password file: {exc.strerror}", where=str(path), fix="check the path"
        ) from None
    lines = text.splitlines()
    password = lines[0] if lines else ""
    if not password:
        raise WeakPassword("the password file is empty", where=str(path), fix="write the password on line 1")
    return password
