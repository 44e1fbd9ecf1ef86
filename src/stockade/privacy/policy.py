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
custom_types:              # the bank's own identifiers (see docs/privacy.md)
  customer_no: {label: 客户号, pattern: 'KH[0-9]{10}', validator: luhn, context: [客户号]}
deny_list: {person: [某某某]}       # always personal
allow_list: [95588, 中国工商银行北京分行]  # never personal
```
"""

from __future__ import annotations

import difflib
import hashlib
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from stockade.core.errors import ConfigError
from stockade.core.hashing import canonical_json
from stockade.core.specs import Spec, load_spec
from stockade.privacy.spans import PiiType

GateMode = Literal["desensitize", "block", "allow"]

_TYPE_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")
#: Keys left out of the fingerprint while empty, so a policy without them keeps the fingerprint
#: it had before they existed (lineage of older dataset versions stays comparable).
_OMITTED_WHEN_EMPTY = ("custom_types", "deny_list", "allow_list")


def _did_you_mean(name: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(name, choices, n=1, cutoff=0.6)
    return f"{name!r} (did you mean {close[0]!r}?)" if close else repr(name)


def _as_strings(value: object, what: str) -> object:
    """A YAML list of strings; plain integers (``- 95588``) are read as their digits."""
    if not isinstance(value, list):
        return value
    out = []
    for item in value:
        if isinstance(item, int) and not isinstance(item, bool):
            item = str(item)
        if not isinstance(item, str):
            raise ValueError(f"{what} entries are strings; quote {item!r}")
        if not item.strip():
            raise ValueError(f"{what} has an empty entry; every entry needs at least one visible character")
        out.append(item)
    return out


class TypeRule(Spec):
    operator: str = Field(description="mask | replace | hash | pseudonym | redact")
    params: dict[str, Any] = Field(default_factory=dict, description="The operator's parameters.")


class CustomTypeSpec(Spec):
    """One of the bank's own identifiers (customer, contract, internal account numbers...)."""

    label: str | None = Field(
        None,
        min_length=1,
        max_length=32,
        description="The placeholder text of `replace` (default: the name).",
    )
    pattern: str = Field(
        description="A Python regex, compiled at load (at most 500 characters, never matching the empty "
        "string); a `(?P<check>...)` group is what the validator reads."
    )
    validator: str = Field(
        "none", description="luhn | mod11 | iso7064_mod97 | iban | iso7064_mod37_36 | none (check digits)."
    )
    context: list[str] = Field(
        default_factory=list,
        description="Words that, within 16 characters before a match, add 0.3 to its score.",
    )
    score: float = Field(0.6, ge=0, le=1, description="Score of a match (compared with `min_score`).")
    context_required: bool = Field(False, description="Count a match only with a context word before it.")

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, value: object) -> object:
        if isinstance(value, dict):
            unknown = [key for key in value if key not in cls.model_fields]
            if unknown:
                names = ", ".join(_did_you_mean(str(key), list(cls.model_fields)) for key in unknown)
                raise ValueError(f"unknown key {names}")
        return value

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        from stockade.privacy.detectors.custom import compile_pattern

        compile_pattern(value)  # ValueError names the problem
        return value

    @field_validator("validator")
    @classmethod
    def _known_validator(cls, value: str) -> str:
        from stockade.privacy.check_digits import VALIDATORS

        if value not in VALIDATORS:
            raise ValueError(
                f"unknown validator {_did_you_mean(value, list(VALIDATORS))}; choose one of: "
                + ", ".join(VALIDATORS)
            )
        return value

    @field_validator("context", mode="before")
    @classmethod
    def _context_words(cls, value: object) -> object:
        return _as_strings(value, "context")

    @model_validator(mode="after")
    def _consistent(self) -> CustomTypeSpec:
        if self.context_required and not self.context:
            raise ValueError("context_required is true but no context words are given")
        from stockade.privacy.detectors.custom import CHECK_GROUP

        if self.validator == "none" and f"(?P<{CHECK_GROUP}>" in self.pattern:
            raise ValueError(f"the pattern has a `(?P<{CHECK_GROUP}>...)` group but no validator reads it")
        return self


def _default_rules() -> dict[str, TypeRule]:
    return {pii_type.value: TypeRule(operator="replace") for pii_type in PiiType}


class PrivacyPolicy(Spec):
    name: str = Field("default", description="Shown in reports and lineage.")
    mode: GateMode = Field(
        "desensitize",
        description="What `data import` does when personal data is found: desensitize it, block the "
        "import, or allow it unchanged (recorded, with a reason).",
    )
    min_score: float = Field(0.5, ge=0, le=1, description="Spans scored below this are ignored.")
    detectors: list[str] | None = Field(
        None, description="Built-in detector names; empty means all. Custom types always run."
    )
    custom_types: dict[str, CustomTypeSpec] = Field(
        default_factory=dict, description="The bank's own types by name: pattern, validator, context, score."
    )
    rules: dict[str, TypeRule] = Field(
        default_factory=_default_rules, description="Operator per type; types not listed get `replace`."
    )
    deny_list: dict[str, list[str]] = Field(
        default_factory=dict, description="Strings that are always personal data, by type (score 1.0)."
    )
    allow_list: list[str] = Field(
        default_factory=list,
        description="Strings that are never personal data: spans inside one are dropped.",
    )

    @field_validator("custom_types")
    @classmethod
    def _custom_names(cls, value: dict[str, CustomTypeSpec]) -> dict[str, CustomTypeSpec]:
        builtin = {t.value for t in PiiType}
        for name in value:
            if name in builtin:
                raise ValueError(f"{name!r} is a built-in type; give the custom type another name")
            if not _TYPE_NAME.fullmatch(name):
                raise ValueError(
                    f"{name!r} is not a type name: use lowercase letters, digits and _ (at most 40, "
                    "starting with a letter)"
                )
        return value

    @field_validator("rules", "deny_list")
    @classmethod
    def _known_types(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        if "custom_types" not in info.data:
            return value  # custom_types is invalid and reported; do not guess at the types
        known = [t.value for t in PiiType] + list(info.data["custom_types"])
        unknown = [key for key in value if key not in known]
        if unknown:
            names = ", ".join(_did_you_mean(str(key), known) for key in unknown)
            raise ValueError(f"unknown personal-data types {names}; known: {', '.join(known)}")
        return value

    @field_validator("deny_list", mode="before")
    @classmethod
    def _deny_strings(cls, value: object) -> object:
        if isinstance(value, dict):
            return {key: _as_strings(items, f"deny_list.{key}") for key, items in value.items()}
        return value

    @field_validator("allow_list", mode="before")
    @classmethod
    def _allow_strings(cls, value: object) -> object:
        return _as_strings(value, "allow_list")

    @model_validator(mode="after")
    def _complete_and_check(self) -> PrivacyPolicy:
        from stockade.privacy.operators import OPERATORS, build_params

        rules = _default_rules()
        rules.update({name: TypeRule(operator="replace") for name in self.custom_types})
        rules.update(self.rules)
        self.rules = rules
        for type_name, rule in rules.items():
            try:
                build_params(rule.operator, rule.params)
            except ConfigError as exc:
                raise ValueError(f"rules.{type_name}: {exc.what}") from None
            if type_name in self.custom_types and getattr(
                OPERATORS.get(rule.operator), "builtin_types_only", False
            ):
                raise ValueError(
                    f"rules.{type_name}: operator {rule.operator!r} makes fakes in the format of a built-in "
                    f"type, and {type_name!r} is a custom type; use replace, mask, hash or redact"
                )
        owner: dict[str, str] = {}
        for type_name, entries in self.deny_list.items():
            for entry in entries:
                if owner.setdefault(entry, type_name) != type_name:
                    raise ValueError(
                        f"deny_list: {entry!r} is listed under both {owner[entry]} and {type_name}"
                    )
        both = sorted(set(owner) & set(self.allow_list))
        if both:
            raise ValueError(f"{both} are in both deny_list and allow_list; keep each in one")
        if self.detectors:
            from stockade.privacy.detectors import DETECTORS

            for name in self.detectors:
                DETECTORS.get(name)  # raises ConfigError with did-you-mean
        return self

    def custom_definitions(self) -> list[Any]:
        """The custom types as the detectors take them (``CustomTypeDefinition``), in policy order."""
        from stockade.privacy.detectors.custom import CustomTypeDefinition

        return [
            CustomTypeDefinition(
                name=name,
                label=spec.label or name,
                pattern=spec.pattern,
                validator=spec.validator,
                context=tuple(spec.context),
                score=spec.score,
                context_required=spec.context_required,
            )
            for name, spec in self.custom_types.items()
        ]

    def fingerprint(self) -> str:
        """SHA-256 of the resolved policy: lineage records exactly which rules applied."""
        data = self.model_dump(mode="json")
        for key in _OMITTED_WHEN_EMPTY:
            if not data[key]:
                del data[key]
        return hashlib.sha256(canonical_json(data).encode()).hexdigest()


def load_policy(path: Path | None, *, mode: GateMode | None = None) -> PrivacyPolicy:
    """The policy in ``path`` (or the default), with ``mode`` overriding its gate mode."""
    policy = load_spec(PrivacyPolicy, path) if path else PrivacyPolicy()
    if mode is not None:
        policy = policy.model_copy(update={"mode": mode})
    return policy
