"""Seal secrets with a passphrase: scrypt derives a key, AES-256-GCM encrypts and authenticates.

The passphrase is never stored. A wrong passphrase and a changed byte look the same to AES-GCM (the
tag does not match), so the error says both; the archive's own SHA-256 manifest tells them apart.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from stockade.core.errors import StockadeError

MAGIC = b"STOCKADE-SEALED1"  # 16 bytes: format and version
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1  # 32 MiB, about 0.1 s per attempt
MIN_PASSPHRASE = 12


class WrongPassphrase(StockadeError):
    """The passphrase does not open the sealed keys (exit code 3, like other refusals)."""

    exit_code = 3


def _key(passphrase: str, salt: bytes) -> bytes:
    return Scrypt(salt=salt, length=32, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P).derive(passphrase.encode("utf-8"))


def check_passphrase(passphrase: str, *, where: str) -> None:
    if len(passphrase) < MIN_PASSPHRASE:
        raise StockadeError(
            f"the backup passphrase needs at least {MIN_PASSPHRASE} characters (this one has "
            f"{len(passphrase)})",
            where=where,
            fix="choose a longer passphrase, e.g. four unrelated words, and keep it apart from the backups",
        )


def seal(data: bytes, passphrase: str) -> bytes:
    salt, nonce = os.urandom(16), os.urandom(12)
    header = MAGIC + salt
    return header + nonce + AESGCM(_key(passphrase, salt)).encrypt(nonce, data, header)


def unseal(blob: bytes, passphrase: str, *, where: str) -> bytes:
    if not blob.startswith(MAGIC) or len(blob) < len(MAGIC) + 16 + 12 + 16:
        raise StockadeError(
            "not sealed by Stockade (unknown format)", where=where, fix="use an archive `backup create` wrote"
        )
    salt = blob[len(MAGIC) : len(MAGIC) + 16]
    nonce = blob[len(MAGIC) + 16 : len(MAGIC) + 28]
    try:
        return AESGCM(_key(passphrase, salt)).decrypt(nonce, blob[len(MAGIC) + 28 :], MAGIC + salt)
    except InvalidTag:
        raise WrongPassphrase(
            "wrong passphrase: the workspace keys in this backup cannot be decrypted with it",
            where=where,
            fix="give the passphrase used at `backup create` (--passphrase-file FILE, or type it); "
            "nothing was restored",
        ) from None
