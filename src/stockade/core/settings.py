"""Workspace settings (``stockade.yaml``): the only singleton, loaded once per process."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from stockade.core.security_settings import SecuritySettings
from stockade.core.specs.base import Spec


class AuditSettings(Spec):
    retention_days: int = Field(
        180,
        ge=1,
        description="Days audit records are kept before an export-and-archive may remove them. "
        "China's Cybersecurity Law art. 21 asks for at least 6 months; values under 180 are warned.",
    )


class GateEvaluation(Spec):
    """One evaluation a release gate requires, with the scores it must reach."""

    dataset: str | None = Field(
        None,
        description="Dataset NAME (any version) or NAME@vN the version must be evaluated on "
        "(`stockade eval REF --dataset ...`).",
    )
    benchmark: str | None = Field(
        None, description="Benchmark the version must be evaluated on: ceval, cmmlu or mmlu (`--benchmark`)."
    )
    task: str | None = Field(
        None, description="Task preset whose metrics the dataset report must carry (`--task NAME`)."
    )
    min: dict[str, float] = Field(
        default_factory=dict,
        description="Metric name -> lowest accepted candidate score (rates are fractions, 0.8 = 80%).",
    )
    max_regression: dict[str, float] = Field(
        default_factory=dict,
        description="Metric name -> largest accepted drop against the report's baseline (loss, "
        "perplexity: largest rise); the report must have been made with `--baseline`.",
    )

    @model_validator(mode="after")
    def _one_target(self) -> GateEvaluation:
        if self.dataset and self.benchmark:
            raise ValueError("give `dataset` or `benchmark`, not both (one report each)")
        if not (self.dataset or self.benchmark or self.task):
            raise ValueError("name the required evaluation: `dataset`, `benchmark` or `task`")
        if self.benchmark and self.task:
            raise ValueError("`task` applies to dataset evaluations, not to a benchmark")
        lower_better = sorted({"loss", "perplexity"} & set(self.min))
        if lower_better:
            raise ValueError(f"`min` of {', '.join(lower_better)} (lower is better): use `max_regression`")
        negative = sorted(name for name, value in self.max_regression.items() if value < 0)
        if negative:
            raise ValueError(f"`max_regression` must be 0 or more ({', '.join(negative)})")
        return self


class PiiGate(Spec):
    """The personal-data check of generated answers stored in the required dataset reports."""

    sample: int = Field(
        200, ge=1, description="Answers drawn from each required dataset report (seeded by the report id)."
    )
    max_spans: int = Field(
        0,
        ge=0,
        description="Personal-data spans the privacy detectors may find in the drawn answers, in all.",
    )


class StageGate(Spec):
    """What a version must show before it is approved for one stage."""

    evaluations: list[GateEvaluation] = Field(
        default_factory=list,
        description="Required evaluations (`dataset`/`benchmark`/`task`, `min`, `max_regression`).",
    )
    pii: PiiGate | None = Field(
        None,
        description="Check sampled stored answers for personal data (`sample`, `max_spans`); off when empty.",
    )

    @model_validator(mode="after")
    def _pii_has_answers(self) -> StageGate:
        if self.pii and not any(e.dataset or e.task for e in self.evaluations):
            raise ValueError("`pii` checks the answers of a required dataset evaluation; require one")
        return self


class GateSettings(Spec):
    staging: StageGate = Field(
        default_factory=StageGate, description="Gate of every version submitted for approval."
    )
    production: StageGate = Field(
        default_factory=StageGate,
        description="Gate a version tagged `production` must pass as well (besides `staging`).",
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
    gates: GateSettings = Field(
        default_factory=GateSettings,
        description="Release gates per stage (`staging`, `production`): required evaluations, minimum "
        "scores, largest regression, personal data in answers. Approving a version that fails one needs "
        "`--override-gate`. See docs/governance.md.",
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
