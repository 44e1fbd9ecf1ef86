"""The ``security:`` section of ``stockade.yaml``: authentication, allowlist, limits, lockout.

It lives in ``core`` (L0) because ``Settings`` nests it; the code that enforces it is
``stockade.security`` (L3).
"""

from __future__ import annotations

import ipaddress
from typing import Literal

from pydantic import Field, field_validator

from stockade.core.specs.base import Spec

LOOPBACK = ["127.0.0.0/8", "::1/128"]


def _networks(value: object) -> object:
    if value is None:
        return []
    if isinstance(value, list):
        for entry in value:
            try:
                ipaddress.ip_network(str(entry), strict=False)
            except ValueError as exc:
                raise ValueError(f"{entry!r} is not an IPv4/IPv6 address or CIDR ({exc})") from None
    return value


class SecuritySettings(Spec):
    jwt_algorithm: Literal["EdDSA", "RS256", "HS256"] = Field(
        "EdDSA",
        description="The one algorithm JWTs are signed and verified with (pinned; `alg` in a token is "
        "never trusted). EdDSA (Ed25519) or RS256; HS256 only for a single-host setup.",
    )
    jwt_issuer: str = Field("stockade", min_length=1, description="`iss` of issued JWTs; required.")
    jwt_audience: str = Field("stockade-api", min_length=1, description="`aud` of issued JWTs; required.")
    jwt_ttl_seconds: int = Field(900, ge=30, description="Default lifetime of a JWT (short: 15 minutes).")
    jwt_max_ttl_seconds: int = Field(86400, ge=60, description="Longest lifetime `token issue` allows.")
    jwt_leeway_seconds: int = Field(30, ge=0, le=300, description="Clock skew tolerated on exp/nbf/iat.")
    api_key_ttl_days: int = Field(90, ge=1, description="Default lifetime of an API key.")
    api_key_max_ttl_days: int = Field(365, ge=1, description="Longest lifetime of an API key.")
    allowlist: list[str] = Field(
        default_factory=lambda: list(LOOPBACK),
        description="CIDRs (IPv4 and IPv6) that may reach the API, checked on the real client address. "
        "Default: loopback only. Add your intranet ranges.",
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Addresses of reverse proxies (nginx) whose X-Forwarded-For is believed. Default: "
        "none, so X-Forwarded-For is ignored.",
    )
    rate_per_address: float = Field(20.0, gt=0, description="Requests per second per client address.")
    burst_per_address: int = Field(40, ge=1, description="Burst per client address (token bucket size).")
    rate_per_credential: float = Field(10.0, gt=0, description="Requests per second per token or key.")
    burst_per_credential: int = Field(20, ge=1, description="Burst per token or key.")
    max_body_bytes: int = Field(1_048_576, ge=1024, description="Largest request body (HTTP 413 above).")
    header_timeout_seconds: float = Field(
        10.0,
        gt=0,
        description="Seconds a request's line and headers may take to arrive (from the connection opening or "
        "the previous response); HTTP 408 and the connection closed after.",
    )
    body_timeout_seconds: float = Field(
        30.0,
        gt=0,
        description="Seconds a request body may take to arrive after its headers (HTTP 408 after).",
    )
    keep_alive_seconds: int = Field(
        5, ge=1, description="An idle keep-alive connection is closed after this."
    )
    max_header_bytes: int = Field(
        16384, ge=1024, description="Largest request line and headers together (HTTP 400 above)."
    )
    max_connections_per_address: int = Field(
        32,
        ge=0,
        description="Open connections one client address may hold (HTTP 429 above); trusted_proxies are "
        "exempt. 0: no cap.",
    )
    cors_origins: list[str] = Field(
        default_factory=list, description="Origins allowed by CORS. Empty (default): CORS off."
    )
    lockout_failures: int = Field(
        5, ge=1, description="Failed logins or authentications that lock a user or address out."
    )
    lockout_window_seconds: int = Field(900, ge=1, description="Window in which failures are counted.")
    lockout_seconds: int = Field(900, ge=1, description="How long a lockout lasts.")

    @field_validator("allowlist", "trusted_proxies", mode="before")
    @classmethod
    def _valid_networks(cls, value: object) -> object:
        return _networks(value)
