"""Access-control tables: issued credentials and login/authentication lockouts (migration 0006)."""

from __future__ import annotations

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from stockade.storage.database import Base


class IssuedCredential(Base):
    """One issued JWT or API key. An API key's secret is kept only as its SHA-256; a JWT not at all."""

    __tablename__ = "security_credentials"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # the JWT's jti or the API key's id
    kind: Mapped[str] = mapped_column(String(20), index=True)  # jwt | api_key
    subject: Mapped[str] = mapped_column(String(200), index=True)  # user name the credential acts as
    roles: Mapped[str] = mapped_column(Text)  # JSON list
    models: Mapped[str | None] = mapped_column(Text)  # JSON list of NAME@vN; null: any
    secret_sha256: Mapped[str | None] = mapped_column(String(64))  # API keys only
    signing_key_id: Mapped[str | None] = mapped_column(String(64))  # JWTs only: the kid
    created_at: Mapped[str] = mapped_column(String(40))
    created_by: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[str] = mapped_column(String(40))
    revoked_at: Mapped[str | None] = mapped_column(String(40))
    revoked_by: Mapped[str | None] = mapped_column(String(200))


class Lockout(Base):
    """Failures counted for one user name or address, and until when it is locked out."""

    __tablename__ = "security_lockouts"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)  # "user:NAME" or "address:IP"
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_started_at: Mapped[str] = mapped_column(String(40))
    locked_until: Mapped[str | None] = mapped_column(String(40))
