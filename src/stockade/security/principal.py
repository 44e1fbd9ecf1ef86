"""Who is calling the API, and the contract every authenticator meets.

The serving API (L4) depends on this protocol, not on a concrete scheme: JWT and API keys
(this package) implement it, and the app refuses every route but ``/health`` without one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from stockade.core.errors import StockadeError


@dataclass(frozen=True)
class Principal:
    """An authenticated caller."""

    subject: str  # user name, or the API key's id (never the secret)
    roles: frozenset[str]
    credential: str  # "jwt" | "api_key"
    credential_id: str  # the JWT's jti or the API key's id: what rate limits and the audit log name
    models: frozenset[str] | None = None  # model versions (NAME@vN) it may call; None: any

    def may_use(self, model: str) -> bool:
        return self.models is None or model in self.models


class AuthenticationFailed(StockadeError):
    """No credential, or one that does not verify (HTTP 401). ``reason`` is safe to log."""

    exit_code = 3

    def __init__(
        self, what: str, *, reason: str = "invalid", where: str | None = None, fix: str | None = None
    ) -> None:
        super().__init__(what, where=where, fix=fix)
        self.reason = reason


class AccessDenied(StockadeError):
    """A verified caller that may not do this (HTTP 403)."""

    exit_code = 3


class Authenticator(Protocol):
    """Turns the ``Authorization`` header (and the peer address) of a request into a principal."""

    def authenticate(self, authorization: str | None, client_address: str) -> Principal:
        """Return the principal, or raise AuthenticationFailed (never return None)."""
        ...
