"""Workspace settings (``stockade.yaml``): the only singleton, loaded once per process."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from stockade.core.security_settings import SecuritySettings
from stockade.core.specs.base import Spec


class AuditSettings(Spec):
    retention_days: int = Field(
        180,
        ge=1,
        description="Days audit records are kept before an export-and-archive may remove them. "
        "China's Cybersecurity Law art. 21 asks for at least 6 months; values under 180 are warned.",
    )


class GovernanceSettings(Spec):
    approvals_required: int = Field(
        1, ge=1, le=10, description="Distinct reviewers who must approve a submitted model version."
    )
    production_approvals: int = Field(
        2, ge=1, le=10, description="Approvals needed instead for a version tagged `production`."
    )
    session_hours: float = Field(
        12.0, gt=0, le=720, description="Hours a `stockade login` session lasts before it expires."
    )


class Settings(Spec):
    """Settings of one workspace. Every key is documented in docs/configuration.md."""

    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL. Empty means SQLite in the workspace (stockade.db, WAL). "
        "PostgreSQL: postgresql+psycopg://user:password@127.0.0.1/stockade (needs stockade[postgres]).",
    )
    egress_allowlist: list[str] = Field(
        default_factory=list,
        description="Non-loopback CIDRs, addresses or host names the offline guard lets through. "
        "Empty (the default) means loopback only.",
    )
    min_free_disk_gb: float = Field(
        40.0, ge=0, description="`stockade doctor` fails when the models folder has less free space."
    )
    dev_mode: bool = Field(
        False,
        description="Relaxes the approval requirement for serving; announced in responses and the audit log.",
    )
    audit: AuditSettings = Field(default_factory=AuditSettings, description="Audit log settings.")
    governance: GovernanceSettings = Field(
        default_factory=GovernanceSettings, description="Approvals (maker-checker) and login sessions."
    )
    security: SecuritySettings = Field(
        default_factory=SecuritySettings, description="Access control: JWT, API keys, allowlist, limits."
    )
    serve_pii_filter: Literal["mask", "block", "off"] = Field(
        "mask",
        description="What `stockade serve` does with personal data the privacy detectors find in a response: "
        "mask it (typed placeholders such as `<身份证号>`), block the response, or off. "
        "`stockade serve --pii-filter` overrides it.",
    )

    @field_validator("serve_pii_filter", mode="before")
    @classmethod
    def _yaml_off(cls, value: object) -> object:
        return "off" if value is False else value  # YAML reads a bare `off` as false

    @field_validator("egress_allowlist", mode="before")
    @classmethod
    def _allowlist_entries(cls, value: object) -> object:
        return [] if value is None else value
