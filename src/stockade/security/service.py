"""Issue, list and revoke credentials (JWTs and API keys); every change is audited, no secret is."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

from sqlalchemy import select

from stockade.core.errors import StockadeError
from stockade.governance.users import find_user
from stockade.security.api_keys import new_api_key
from stockade.security.jwt import JwtPolicy, encode_token, keyring_for
from stockade.storage.database import make_session_factory
from stockade.storage.security_tables import IssuedCredential
from stockade.workspace.service import WorkspaceContext

MODEL_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}@v[0-9]+$")
ROLE = re.compile(r"^[a-z][a-z0-9_-]{0,49}$")
Kind = Literal["jwt", "api_key"]


class CredentialError(StockadeError):
    exit_code = 2


@dataclass(frozen=True)
class CredentialView:
    id: str
    kind: str
    subject: str
    roles: list[str]
    models: list[str] | None
    created_at: str
    created_by: str
    expires_at: str
    revoked_at: str | None
    status: str  # active | expired | revoked

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class IssuedToken:
    token: str  # the only time the secret exists outside the caller's hands
    credential: CredentialView


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


def _stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def view_of(row: IssuedCredential, *, now: datetime | None = None) -> CredentialView:
    now = now or now_utc()
    status = (
        "revoked"
        if row.revoked_at
        else "expired"
        if datetime.fromisoformat(row.expires_at) <= now
        else "active"
    )
    return CredentialView(
        row.id,
        row.kind,
        row.subject,
        json.loads(row.roles),
        json.loads(row.models) if row.models else None,
        row.created_at,
        row.created_by,
        row.expires_at,
        row.revoked_at,
        status,
    )


def _check_scope(roles: Iterable[str], models: Iterable[str] | None) -> tuple[list[str], list[str] | None]:
    role_list = sorted(set(roles))
    if not role_list:
        raise CredentialError("a credential needs at least one role", fix="pass --role ROLE")
    for role in role_list:
        if not ROLE.match(role):
            raise CredentialError(f"{role!r} is not a role name", where="--role", fix="use e.g. user, admin")
    model_list = sorted(set(models)) if models else None
    for model in model_list or []:
        if not MODEL_REF.match(model):
            raise CredentialError(f"{model!r} is not NAME@vN", where="--model", fix="e.g. --model qwen@v2")
    return role_list, model_list


def _check_user_roles(context: WorkspaceContext, subject: str, roles: list[str]) -> None:
    """A credential carries only roles its user holds now (a JWT keeps them until it expires)."""
    with make_session_factory(context.engine)() as session:
        user = find_user(session, subject)
        held = set(json.loads(user.roles))
        status = user.status
    if status != "active":
        raise CredentialError(f"user {subject!r} is {status}", fix="enable the user first")
    missing = sorted(set(roles) - held)
    if missing:
        raise CredentialError(
            f"user {subject!r} does not hold the role(s) {', '.join(missing)} "
            f"(holds: {', '.join(sorted(held))})",
            where="--role",
            fix=f"ask an admin: `stockade user roles {subject} --role ROLE`, or issue a narrower token",
        )


def issue_credential(
    context: WorkspaceContext,
    *,
    kind: Kind,
    subject: str,
    roles: Iterable[str],
    models: Iterable[str] | None = None,
    ttl_seconds: int | None = None,
) -> IssuedToken:
    """Issue a JWT or an API key for ``subject`` with these roles (and model versions, if scoped)."""
    security = context.workspace.settings.security
    role_list, model_list = _check_scope(roles, models)
    _check_user_roles(context, subject, role_list)
    if kind == "jwt":
        ttl = ttl_seconds or security.jwt_ttl_seconds
        limit = security.jwt_max_ttl_seconds
    else:
        ttl = ttl_seconds or security.api_key_ttl_days * 86400
        limit = security.api_key_max_ttl_days * 86400
    if not 1 <= ttl <= limit:
        raise CredentialError(
            f"lifetime {ttl} s is outside 1..{limit} s", where="--ttl", fix="choose a shorter lifetime"
        )
    now = now_utc()
    row = IssuedCredential(
        kind=kind,
        subject=subject,
        roles=json.dumps(role_list),
        models=json.dumps(model_list) if model_list else None,
        created_at=_stamp(now),
        created_by=context.actor.name,
        expires_at=_stamp(now + timedelta(seconds=ttl)),
    )
    if kind == "jwt":
        keyring = keyring_for(context.workspace.folder("pki"), security.jwt_algorithm)
        key = keyring.current()
        if key is None:
            key = keyring.create()
            context.record("secret.create", f"pki/jwt/{key.kid}", purpose="JWT signing key", kid=key.kid)
        row.id, row.signing_key_id = secrets.token_hex(16), key.kid
        policy = JwtPolicy(security.jwt_algorithm, security.jwt_issuer, security.jwt_audience)
        claims: dict[str, Any] = {"sub": subject, "jti": row.id, "roles": role_list}
        if model_list:
            claims["models"] = model_list
        token = encode_token(key, policy, claims, ttl)
    else:
        new = new_api_key()
        row.id, row.secret_sha256, token = new.key_id, new.secret_sha256, new.token
    with make_session_factory(context.engine).begin() as session:
        session.add(row)
        context.record(
            "token.issue",
            row.id,
            session=session,
            kind=kind,
            subject=subject,
            roles=role_list,
            models=model_list,
            expires_at=row.expires_at,
        )
    return IssuedToken(token, view_of(row, now=now))


def revoke_credential(
    context: WorkspaceContext, credential_id: str, *, reason: str | None = None
) -> CredentialView:
    with make_session_factory(context.engine).begin() as session:
        row = session.get(IssuedCredential, credential_id)
        if row is None:
            raise CredentialError(
                f"no credential with id {credential_id[:64]!r}", fix="see the ids with `stockade token list`"
            )
        if row.revoked_at is None:
            row.revoked_at, row.revoked_by = _stamp(now_utc()), context.actor.name
            context.record(
                "token.revoke", row.id, reason=reason, session=session, kind=row.kind, subject=row.subject
            )
        return view_of(row)


def list_credentials(context: WorkspaceContext, *, include_inactive: bool = False) -> list[CredentialView]:
    with make_session_factory(context.engine)() as session:
        rows = session.scalars(select(IssuedCredential).order_by(IssuedCredential.created_at)).all()
    views = [view_of(row) for row in rows]
    return views if include_inactive else [view for view in views if view.status == "active"]


def rotate_signing_key(context: WorkspaceContext) -> str:
    """Add a new JWT signing key; new tokens use it, tokens signed with older keys stay valid."""
    security = context.workspace.settings.security
    key = keyring_for(context.workspace.folder("pki"), security.jwt_algorithm).create()
    context.record("secret.rotate", f"pki/jwt/{key.kid}", purpose="JWT signing key", kid=key.kid)
    return key.kid
