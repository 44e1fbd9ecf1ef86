"""The API's authenticator: ``Authorization: Bearer <JWT or API key>`` to a ``Principal``.

Every attempt is recorded in the audit log (success and failure; the credential's id, never
the credential); refusals that repeat (a locked-out address, a caller over its rate, a request with no
credential) are coalesced: one record per address and reason a minute, with a count. An address with
repeated credential failures is locked out for a while (403; ``stockade security unlock --address A``
lifts it), and each credential has its own rate limit (429).
A request without any credential is refused (401, with how to get one) but never counts toward a lockout:
a client that forgot its header is not an attacker guessing secrets.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import select

from stockade.audit import AuditEvent
from stockade.core.security_settings import SecuritySettings
from stockade.security.api_keys import ID_PATTERN, looks_like_api_key, parse_api_key, secret_matches
from stockade.security.asgi import SecurityMiddleware
from stockade.security.jwt import JwtPolicy, Keyring, keyring_for, unverified_jti, verify_token
from stockade.security.lockout import DatabaseLockouts, FailureTracker, LockedOut
from stockade.security.principal import AuthenticationFailed, Principal
from stockade.security.ratelimit import RateLimited, RefusalTally, TokenBuckets
from stockade.security.service import now_utc
from stockade.storage.database import make_session_factory
from stockade.storage.governance_tables import User
from stockade.storage.security_tables import IssuedCredential
from stockade.workspace.service import WorkspaceContext

MISSING_FIX = (
    "send the header Authorization: Bearer TOKEN; an admin issues a token with "
    "`stockade token issue --user NAME --role api_client` (a service account for an application: "
    "`stockade user add NAME --service`)"
)


class StockadeAuthenticator:
    """JWTs (pinned algorithm, kid) and API keys (hashed, scoped, expiring, revocable)."""

    def __init__(self, context: WorkspaceContext, settings: SecuritySettings | None = None) -> None:
        self.context = context
        self.settings = settings or context.workspace.settings.security
        self.policy = JwtPolicy(
            self.settings.jwt_algorithm,
            self.settings.jwt_issuer,
            self.settings.jwt_audience,
            self.settings.jwt_leeway_seconds,
        )
        self.keyring: Keyring = keyring_for(context.workspace.folder("pki"), self.settings.jwt_algorithm)
        self.failures = FailureTracker(self.settings, store=DatabaseLockouts(context.engine))
        self.buckets = TokenBuckets(self.settings.rate_per_credential, self.settings.burst_per_credential)
        self.refusals = RefusalTally()
        self._sessions = make_session_factory(context.engine)

    def authenticate(self, authorization: str | None, client_address: str) -> Principal:
        address_key = f"address:{client_address}"
        try:
            self.failures.ensure_not_locked(address_key)
        except LockedOut as locked:
            self._record_refusal("auth.failure", client_address, None, "locked_out")
            raise locked
        kind, credential_id = "none", None
        try:
            scheme, _, token = (authorization or "").strip().partition(" ")
            token = token.strip()
            if not (authorization or "").strip():
                raise AuthenticationFailed(
                    "no credential: every route but /health needs an API token",
                    reason="missing",
                    fix=MISSING_FIX,
                )
            if scheme.lower() != "bearer" or not token:
                raise AuthenticationFailed(
                    "use the Bearer scheme",
                    reason="scheme",
                    fix="send the header Authorization: Bearer TOKEN",
                )
            if looks_like_api_key(token):
                kind = "api_key"
                credential_id = token[4:20] if ID_PATTERN.match(token[4:20]) else None
                principal = self._api_key(token)
            else:
                kind, credential_id = "jwt", unverified_jti(token)
                principal = self._jwt(token)
        except AuthenticationFailed as failure:
            # only a credential that fails counts toward the lockout, never a missing one
            if failure.reason == "missing":  # not an attack on a secret: coalesced like other refusals
                self._record_refusal("auth.failure", client_address, None, "missing", kind=kind)
                raise
            locked = self.failures.failure(address_key)
            self._record(
                "auth.failure", client_address, credential_id, failure.reason, kind=kind, denied=True
            )
            if locked:
                self._record("auth.lockout", client_address, credential_id, "too_many_failures", denied=True)
            raise
        self.failures.success(address_key)
        wait = self.buckets.take(principal.credential_id)
        if wait:
            self._record_refusal("auth.rate_limited", client_address, principal.credential_id, "rate")
            raise RateLimited("too many requests for this credential", retry_after=wait)
        self._record(
            "auth.success", client_address, principal.credential_id, None, kind=kind, principal=principal
        )
        return principal

    def _jwt(self, token: str) -> Principal:
        claims = verify_token(token, self.keyring, self.policy)
        self._check_row(claims["jti"], "jwt")
        models = claims.get("models")
        return Principal(
            subject=claims["sub"],
            roles=frozenset(str(role) for role in claims.get("roles", [])),
            credential="jwt",
            credential_id=claims["jti"],
            models=frozenset(models) if isinstance(models, list) else None,
        )

    def _api_key(self, token: str) -> Principal:
        key_id, secret = parse_api_key(token)
        row = self._check_row(key_id, "api_key")
        if not row.secret_sha256 or not secret_matches(row.secret_sha256, key_id, secret):
            raise AuthenticationFailed("API key refused: wrong secret", reason="secret", fix="check the key")
        return Principal(
            subject=row.subject,
            roles=frozenset(json.loads(row.roles)),
            credential="api_key",
            credential_id=row.id,
            models=frozenset(json.loads(row.models)) if row.models else None,
        )

    def _check_row(self, credential_id: str, kind: str) -> IssuedCredential:
        with self._sessions() as session:
            row = session.get(IssuedCredential, credential_id)
            subject = row.subject if row is not None else ""
            status = session.scalar(select(User.status).where(User.name == subject))
        if row is None or row.kind != kind:
            raise AuthenticationFailed("credential unknown", reason="unknown", fix="ask for a new credential")
        if row.revoked_at:
            raise AuthenticationFailed("credential revoked", reason="revoked", fix="ask for a new credential")
        if datetime.fromisoformat(row.expires_at) <= now_utc():
            raise AuthenticationFailed("credential expired", reason="expired", fix="ask for a new credential")
        if status != "active":  # a disabled (or removed) user's credentials stop working at once
            raise AuthenticationFailed("the user is disabled", reason="user_disabled", fix="ask an admin")
        return row

    def _record_refusal(
        self, action: str, address: str, credential_id: str | None, reason: str, *, kind: str | None = None
    ) -> None:
        """A refusal that repeats (a locked-out address, a caller over its rate, no credential): one record
        per address, credential and reason a minute, with ``refusals``: how many it stands for."""
        count = self.refusals.due((action, address, credential_id, reason))
        if count:
            self._record(action, address, credential_id, reason, kind=kind, denied=True, refusals=count)

    def _record(
        self,
        action: str,
        address: str,
        credential_id: str | None,
        reason: str | None,
        *,
        kind: str | None = None,
        denied: bool = False,
        principal: Principal | None = None,
        refusals: int | None = None,
    ) -> None:
        details: dict[str, Any] = {"address": address}
        if refusals is not None:
            details["refusals"] = refusals
        if kind:
            details["credential"] = kind
        self.context.audit.append(
            AuditEvent(
                action=action,
                actor=principal.subject if principal else "anonymous",
                role=",".join(sorted(principal.roles)) if principal else None,
                source=f"api:{address}",
                target=credential_id,
                result="denied" if denied else "ok",
                request_id=self.context.request_id,
                reason=reason,
                details=details,
            )
        )


def build_authenticator(context: WorkspaceContext, spec: object = None) -> StockadeAuthenticator:
    """The authenticator ``stockade serve`` hands to the app (``spec``: the ServeSpec, unused so far)."""
    return StockadeAuthenticator(context)


def build_middleware(context: WorkspaceContext) -> list[tuple[type, dict[str, Any]]]:
    """``create_app(middleware=...)`` entries: allowlist, per-address limit, body limit, CORS."""
    settings = context.workspace.settings.security

    def record(action: str, target: str, reason: str, details: dict[str, Any]) -> None:
        context.audit.append(
            AuditEvent(
                action=action,
                actor="anonymous",
                source=f"api:{target}",
                target=target,
                result="denied",
                request_id=context.request_id,
                reason=reason,
                details=details,
            )
        )

    options = {
        "allowlist": settings.allowlist,
        "trusted_proxies": settings.trusted_proxies,
        "rate_per_address": settings.rate_per_address,
        "burst_per_address": settings.burst_per_address,
        "max_body_bytes": settings.max_body_bytes,
        "cors_origins": settings.cors_origins,
        "record": record,
    }
    return [(SecurityMiddleware, options)]
