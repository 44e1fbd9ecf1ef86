"""Signed checkpoints of the audit chain (Ed25519, one key per workspace).

The hash chain shows any single change, but someone who can rewrite the whole database could
rebuild a consistent chain. A checkpoint is a signature over the chain's head (record number and
hash) made with a key kept under ``pki/`` (0600); rebuilding the chain then breaks every later
checkpoint, and forging a checkpoint needs the private key. Verification needs only the public key,
which can be copied out of the workspace (``stockade audit status`` prints its fingerprint).
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from stockade.core.errors import AuditError
from stockade.core.hashing import canonical_json
from stockade.core.workspace import write_private_file

PRIVATE_KEY_FILE = "pki/audit-signing.key"
PUBLIC_KEY_FILE = "pki/audit-signing.pub"
CHECKPOINT_EVERY = 100  # records between two checkpoints
CHECKPOINT_MAX_AGE_S = 3600  # or this long after the last one, whichever comes first
_DOMAIN = "stockade-audit-checkpoint-v1"


def checkpoint_message(seq: int, record_hash: str, ts: str, key_id: str) -> bytes:
    payload = {"domain": _DOMAIN, "seq": seq, "hash": record_hash, "ts": ts, "key_id": key_id}
    return canonical_json(payload).encode("utf-8")


def key_id_of(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


@dataclass
class CheckpointVerifier:
    """Checks checkpoint signatures with the workspace's public key."""

    public_key: Ed25519PublicKey

    @property
    def key_id(self) -> str:
        return key_id_of(self.public_key)

    def valid(self, seq: int, record_hash: str, ts: str, key_id: str, signature: str) -> bool:
        try:
            self.public_key.verify(
                base64.b64decode(signature, validate=True), checkpoint_message(seq, record_hash, ts, key_id)
            )
        except (InvalidSignature, ValueError):
            return False
        return key_id == self.key_id

    @classmethod
    def from_file(cls, path: Path) -> CheckpointVerifier:
        try:
            key = serialization.load_pem_public_key(path.read_bytes())
        except (OSError, ValueError) as exc:
            raise AuditError(
                f"cannot read the audit public key: {exc}",
                where=str(path),
                fix="point --public-key to the PEM file `stockade audit status` names",
            ) from None
        if not isinstance(key, Ed25519PublicKey):
            raise AuditError("not an Ed25519 public key", where=str(path), fix="use pki/audit-signing.pub")
        return cls(key)

    @classmethod
    def for_workspace(cls, root: Path) -> CheckpointVerifier | None:
        path = root / PUBLIC_KEY_FILE
        return cls.from_file(path) if path.exists() else None


@dataclass
class CheckpointSigner:
    """Signs checkpoints with the workspace's private key."""

    private_key: Ed25519PrivateKey

    @property
    def verifier(self) -> CheckpointVerifier:
        return CheckpointVerifier(self.private_key.public_key())

    @property
    def key_id(self) -> str:
        return key_id_of(self.private_key.public_key())

    def sign(self, seq: int, record_hash: str, ts: str) -> str:
        message = checkpoint_message(seq, record_hash, ts, self.key_id)
        return base64.b64encode(self.private_key.sign(message)).decode("ascii")

    @classmethod
    def for_workspace(cls, root: Path) -> CheckpointSigner:
        """Load the workspace key, creating it (private 0600, public beside it) on first use."""
        private_path, public_path = root / PRIVATE_KEY_FILE, root / PUBLIC_KEY_FILE
        if private_path.exists():
            try:
                key = serialization.load_pem_private_key(private_path.read_bytes(), password=None)
            except (OSError, ValueError) as exc:
                raise AuditError(
                    f"cannot read the audit signing key: {exc}",
                    where=str(private_path),
                    fix="restore pki/audit-signing.key from backup",
                ) from None
            if not isinstance(key, Ed25519PrivateKey):
                raise AuditError("not an Ed25519 key", where=str(private_path), fix="restore it from backup")
            return cls(key)
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        try:
            write_private_file(private_path, pem.decode("ascii"))
        except FileExistsError:  # another process created it a moment ago
            import time

            time.sleep(0.2)
            return cls.for_workspace(root)
        if not public_path.exists():
            public = key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            write_private_file(public_path, public.decode("ascii"))
        return cls(key)
