"""The organisation's Ed25519 signing key: make a pair, sign a manifest, check a signature.

Key files are PEM (PKCS#8 private, SubjectPublicKeyInfo public), so OpenSSL reads them too; a
signature is the 64 raw bytes of Ed25519 over the manifest's exact bytes, which
``openssl pkeyutl -verify -pubin -inkey KEY.pub -rawin -in MANIFEST.json -sigfile MANIFEST.json.sig``
checks on a server where Stockade is not installed yet (``install.sh`` does that).
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from stockade.core.errors import StockadeError
from stockade.core.hashing import sha256_bytes

PUBLIC_SUFFIX = ".pub"


class SignatureRefused(StockadeError):
    """A bundle is unsigned, signed by another key, or its signed manifest changed (exit code 3)."""

    exit_code = 3


def public_path(private: Path) -> Path:
    return private.with_name(private.name + PUBLIC_SUFFIX)


def fingerprint(public: Ed25519PublicKey) -> str:
    """SHA-256 of the raw public key, first 16 hex digits: how messages and manifests name a key."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return sha256_bytes(raw)[:16]


def generate_key_pair(out: Path) -> tuple[Path, str]:
    """Write a new private key to ``out`` (0600, refused if it exists) and its public key to ``out.pub``."""
    public_file = public_path(out)
    for path in (out, public_file):
        if path.exists() or path.is_symlink():
            raise StockadeError(
                "a key file is already there; a signing key is never overwritten",
                where=str(path),
                fix="choose another --out, or move the old pair away if you really mean to replace it "
                "(bundles signed with it then need the old public key to verify)",
            )
    if not out.parent.is_dir():
        raise StockadeError("the folder for the key does not exist", where=str(out.parent))
    key = Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    descriptor = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(private_pem)
    public_file.write_bytes(public_pem)
    public_file.chmod(0o644)
    return public_file, fingerprint(key.public_key())


def load_private_key(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except FileNotFoundError:
        raise StockadeError(
            "no such signing key", where=str(path), fix="make one with `stockade bundle keygen --out FILE`"
        ) from None
    except (ValueError, TypeError) as exc:
        raise StockadeError(
            f"not an unencrypted PEM private key ({exc})",
            where=str(path),
            fix="give the private key `stockade bundle keygen` wrote (not the .pub file)",
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise StockadeError(
            f"the key is {type(key).__name__}, not Ed25519",
            where=str(path),
            fix="use `stockade bundle keygen`",
        )
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except FileNotFoundError:
        raise StockadeError(
            "no such public key",
            where=str(path),
            fix="give the KEY.pub file written by `stockade bundle keygen`",
        ) from None
    except (ValueError, TypeError) as exc:
        raise StockadeError(
            f"not a PEM public key ({exc})",
            where=str(path),
            fix="give the .pub file beside the signing key, not the private key",
        ) from None
    if not isinstance(key, Ed25519PublicKey):
        raise StockadeError(f"the key is {type(key).__name__}, not Ed25519", where=str(path))
    return key


def sign(key: Ed25519PrivateKey, data: bytes) -> bytes:
    return key.sign(data)


def check_signature(public: Ed25519PublicKey, data: bytes, signature: bytes, *, where: str) -> None:
    try:
        public.verify(signature, data)
    except InvalidSignature:
        raise SignatureRefused(
            f"the signature does not match the trusted key {fingerprint(public)}: the manifest was changed "
            "after signing, or another key signed it",
            where=where,
            fix="do not install it; ask the team that builds bundles for a copy signed with the "
            "organisation key, and check you gave the right --trusted-key",
        ) from None
