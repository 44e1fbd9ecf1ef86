"""JSON Web Tokens: issue and verify with one pinned algorithm and rotating signing keys.

The algorithm comes from ``security.jwt_algorithm`` alone; a token's own ``alg`` header is only
compared with it, never obeyed, which refuses ``alg=none`` and HS/RS key confusion. Each key has a
``kid``; keys live in ``pki/jwt/`` (0600) and a new one is added by rotation, so tokens signed with
the previous key stay valid until it is removed.
"""

from __future__ import annotations

import os
import re
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from stockade.core.errors import WorkspaceError
from stockade.core.workspace import DIRECTORY_MODE, SECRET_FILE_MODE
from stockade.security.principal import AuthenticationFailed

REQUIRED_CLAIMS = ["exp", "iat", "nbf", "aud", "iss", "sub", "jti"]
KID_PATTERN = re.compile(r"^[0-9]{20}-[0-9a-f]{8}$")
KEY_FOLDER = "jwt"
MAX_TOKEN_LENGTH = 8192


@dataclass(frozen=True)
class SigningKey:
    kid: str
    algorithm: str
    private: Any  # a cryptography private key, or the HMAC secret (bytes)
    public: Any  # the matching public key, or the same secret


@dataclass(frozen=True)
class JwtPolicy:
    algorithm: str
    issuer: str
    audience: str
    leeway: int = 30


def _suffix(algorithm: str) -> str:
    return "key" if algorithm == "HS256" else "pem"


def _generate(algorithm: str) -> bytes:
    if algorithm == "HS256":
        return secrets.token_bytes(64)
    key = (
        ed25519.Ed25519PrivateKey.generate()
        if algorithm == "EdDSA"
        else rsa.generate_private_key(65537, 3072)
    )
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _load(algorithm: str, kid: str, data: bytes) -> SigningKey:
    if algorithm == "HS256":
        return SigningKey(kid, algorithm, data, data)
    private = serialization.load_pem_private_key(data, password=None)
    return SigningKey(kid, algorithm, private, private.public_key())


class Keyring:
    """The signing keys of one algorithm in ``pki/jwt/``: ``KID.ALG.pem`` (or ``.key`` for HS256)."""

    def __init__(self, folder: Path, algorithm: str) -> None:
        self.folder = folder
        self.algorithm = algorithm
        self._keys: dict[str, SigningKey] = {}
        self.reload()

    def reload(self) -> None:
        keys = {}
        if self.folder.is_dir():
            for path in self.folder.glob(f"*.{self.algorithm}.{_suffix(self.algorithm)}"):
                kid = path.name.split(".", 1)[0]
                if KID_PATTERN.match(kid):
                    keys[kid] = _load(self.algorithm, kid, path.read_bytes())
        self._keys = keys

    def kids(self) -> list[str]:
        return sorted(self._keys)

    def current(self) -> SigningKey | None:
        """The newest key (kids begin with their UTC creation time)."""
        return self._keys[max(self._keys)] if self._keys else None

    def _path(self, kid: str) -> Path:
        return self.folder / f"{kid}.{self.algorithm}.{_suffix(self.algorithm)}"

    def get(self, kid: str) -> SigningKey | None:
        """The key with this id while its file exists (removing the file retires it, even while serving)."""
        if not KID_PATTERN.match(kid):  # never a path: a kid like ../../x is refused here
            return None
        path = self._path(kid)
        if not path.is_file():
            self._keys.pop(kid, None)
            return None
        if kid not in self._keys:  # added by rotation, perhaps in another process
            self._keys[kid] = _load(self.algorithm, kid, path.read_bytes())
        return self._keys[kid]

    def create(self) -> SigningKey:
        """Add a new key (rotation); the older ones keep verifying until their files are removed."""
        self.folder.mkdir(mode=DIRECTORY_MODE, parents=True, exist_ok=True)
        os.chmod(self.folder, DIRECTORY_MODE)
        kid = f"{datetime.now(timezone.utc):%Y%m%d%H%M%S%f}-{secrets.token_hex(4)}"
        data = _generate(self.algorithm)
        path = self._path(kid)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, SECRET_FILE_MODE)
        except FileExistsError:
            raise WorkspaceError("a signing key with this id exists", where=str(path), fix="retry") from None
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        key = _load(self.algorithm, kid, data)
        self._keys[kid] = key
        return key


def keyring_for(pki_folder: Path, algorithm: str) -> Keyring:
    return Keyring(pki_folder / KEY_FOLDER, algorithm)


def encode_token(key: SigningKey, policy: JwtPolicy, claims: dict[str, Any], ttl_seconds: int) -> str:
    """Sign ``claims`` (sub, jti, roles, ...) with iss, aud, iat, nbf and exp added."""
    now = int(time.time())
    payload = {**claims, "iss": policy.issuer, "aud": policy.audience, "iat": now, "nbf": now}
    payload["exp"] = now + ttl_seconds
    return jwt.encode(payload, key.private, algorithm=policy.algorithm, headers={"kid": key.kid})


_REASONS: tuple[tuple[type[Exception], str], ...] = (
    (jwt.ExpiredSignatureError, "expired"),
    (jwt.ImmatureSignatureError, "not_yet_valid"),
    (jwt.InvalidAudienceError, "audience"),
    (jwt.InvalidIssuerError, "issuer"),
    (jwt.InvalidSignatureError, "signature"),
    (jwt.MissingRequiredClaimError, "missing_claim"),
    (jwt.InvalidIssuedAtError, "not_yet_valid"),
    (jwt.InvalidAlgorithmError, "algorithm"),
)


def _fail(what: str, reason: str) -> AuthenticationFailed:
    return AuthenticationFailed(f"JWT refused: {what}", reason=reason, fix="ask for a new token")


def unverified_jti(token: str) -> str | None:
    """The token's jti for the audit log, if it has a well-formed one (not trusted for anything else)."""
    try:
        jti = jwt.decode(token, options={"verify_signature": False}).get("jti")
    except Exception:
        return None
    return jti if isinstance(jti, str) and re.fullmatch(r"[A-Za-z0-9_-]{1,64}", jti) else None


def verify_token(token: str, keyring: Keyring, policy: JwtPolicy) -> dict[str, Any]:
    """Verify signature and claims; return them, or raise AuthenticationFailed with a loggable reason."""
    if len(token) > MAX_TOKEN_LENGTH:
        raise _fail("too long", "malformed")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise _fail("not a JWT", "malformed") from None
    if header.get("alg") != policy.algorithm:  # none, HS256 against an RS/EdDSA key, ...
        raise _fail(f"algorithm {str(header.get('alg'))[:20]!r} is not the configured one", "algorithm")
    kid = header.get("kid")
    key = keyring.get(kid) if isinstance(kid, str) else None
    if key is None:
        raise _fail("unknown signing key id (kid)", "unknown_key")
    try:
        claims = jwt.decode(
            token,
            key.public,
            algorithms=[policy.algorithm],
            audience=policy.audience,
            issuer=policy.issuer,
            leeway=policy.leeway,
            options={"require": REQUIRED_CLAIMS, "strict_aud": True, "enforce_minimum_key_length": True},
        )
    except jwt.PyJWTError as exc:
        reason = next((name for kind, name in _REASONS if isinstance(exc, kind)), "invalid")
        raise _fail(reason.replace("_", " "), reason) from None
    if not isinstance(claims.get("sub"), str) or not isinstance(claims.get("roles", []), list):
        raise _fail("malformed claims", "malformed")
    return claims
