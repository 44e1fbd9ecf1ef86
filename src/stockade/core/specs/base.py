"""The base every spec and settings model derives from: strict, documented, alias-aware."""

from __future__ import annotations

from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict


class Spec(BaseModel):
    """A strict pydantic model: unknown keys are errors, every field has a description."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, validate_default=True)

    @classmethod
    def accepted_keys(cls) -> dict[str, str]:
        """Every key a YAML file or CLI flag may use, mapped to its field name."""
        keys: dict[str, str] = {}
        for name, info in cls.model_fields.items():
            keys[name] = name
            alias = info.validation_alias
            if isinstance(alias, AliasChoices):
                for choice in alias.choices:
                    if isinstance(choice, str):
                        keys[choice] = name
            elif isinstance(alias, str):
                keys[alias] = name
        return keys

    @classmethod
    def nested_specs(cls) -> dict[str, type[Spec]]:
        """Fields whose value is itself a spec (a YAML sub-mapping)."""
        nested = {}
        for name, info in cls.model_fields.items():
            annotation: Any = info.annotation
            if isinstance(annotation, type) and issubclass(annotation, Spec):
                nested[name] = annotation
        return nested


def split_list(value: object) -> object:
    """LLaMA-Factory writes lists as comma-separated strings (``dataset: a,b``)."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value
