"""Privacy policies: which detectors run, and which operator each type of personal data gets.

A policy is YAML loaded with ``yaml.safe_load`` into a strict spec (unknown keys are errors with
suggestions). The default policy is safe: every type is replaced by a typed placeholder.

```yaml
name: bank-default
mode: desensitize        # the import gate: desensitize | block | allow
min_score: 0.5
rules:
  id_card: {operator: pseudonym}
  bank_card: {operator: mask, params: {keep_first: 6, keep_last: 4}}
  person: {operator: hash}
```
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from stockade.core.errors import ConfigError
from stockade.core.hashing import canonical_json
from stockade.core.specs import Spec, load_spec
from stockade.privacy.spans import PiiType

GateMode = Literal["desensitize", "block", "allow"]


class TypeRule(Spec):
    operator: str = Field(description="mask | replace | hash | pseudonym | redact")
    params: dict[str, Any] = Field(default_factory=dict, description="The operator's parameters.")


def _default_rules() -> dict[PiiType, TypeRule]:
    return {pii_type: TypeRule(operator="replace") for pii_type in PiiType}


class PrivacyPolicy(Spec):
    name: str = Field("default", description="Shown in reports and lineage.")
    mode: GateMode = Field(
        "desensitize",
        description="What `data import` does when personal data is found: desensitize it, block the "
        "import, or allow it unchanged (recorded, with a reason).",
    )
    min_score: float = Field(0.5, ge=0, le=1, description="Spans scored below this are ignored.")
    detectors: list[str] | None = Field(None, description="Detector names; empty means all built-in ones.")
    rules: dict[PiiType, TypeRule] = Field(
        default_factory=_default_rules, description="Operator per type; types not listed get `replace`."
    )

    @field_validator("rules", mode="before")
    @classmethod
    def _known_types(cls, value: object) -> object:
        if isinstance(value, dict):
            known = {t.value for t in PiiType}
            unknown = [key for key in value if (key.value if isinstance(key, PiiType) else key) not in known]
            if unknown:
                raise ValueError(
                    f"unknown personal-data types {unknown}; known: {', '.join(t.value for t in PiiType)}"
                )
        return value

    @model_validator(mode="after")
    def _complete_and_check(self) -> PrivacyPolicy:
        from stockade.privacy.operators import build_params

        rules = _default_rules()
        rules.update(self.rules)
        self.rules = rules
        for pii_type, rule in rules.items():
            try:
                build_params(rule.operator, rule.params)
            except ConfigError as exc:
                raise ValueError(f"rules.{pii_type.value}: {exc.what}") from None
        if self.detectors:
            from stockade.privacy.detectors import DETECTORS

            for name in self.detectors:
                DETECTORS.get(name)  # raises ConfigError with did-you-mean
        return self

    def fingerprint(self) -> str:
        """SHA-256 of the resolved policy: lineage records exactly which rules applied."""
        return hashlib.sha256(canonical_json(self.model_dump(mode="json")).encode()).hexdigest()


def load_policy(path: Path | None, *, mode: GateMode | None = None) -> PrivacyPolicy:
    """The policy in ``path`` (or the default), with ``mode`` overriding its gate mode."""
    policy = load_spec(PrivacyPolicy, path) if path else PrivacyPolicy()
    if mode is not None:
        policy = policy.model_copy(update={"mode": mode})
    return policy
