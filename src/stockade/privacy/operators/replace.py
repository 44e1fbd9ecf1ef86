"""``replace``: a typed placeholder instead of the value (``<身份证号>``)."""

from __future__ import annotations

import re

from pydantic import BaseModel, Field, field_validator

from stockade.privacy.operators.base import OPERATORS, BaseOperator, OperatorParams, label
from stockade.privacy.spans import SpanType

_FIELD = re.compile(r"\{([^{}]*)\}")
_ALLOWED = ("label", "type")


class ReplaceParams(OperatorParams):
    placeholder: str | None = Field(
        None,
        description="The text put in place of the value; `{label}` is the Chinese label, `{type}` the "
        "type name. Default: `<{label}>`.",
    )

    @field_validator("placeholder")
    @classmethod
    def _known_fields(cls, value: str | None) -> str | None:
        if value is None:
            return value
        unknown = [name for name in _FIELD.findall(value) if name not in _ALLOWED]
        if unknown:
            raise ValueError(f"unknown field {{{unknown[0]}}}; only {{label}} and {{type}} can be used")
        return value


def render_placeholder(template: str | None, pii_type: SpanType) -> str:
    if template is None:
        return f"<{label(pii_type)}>"
    if "{" not in template:
        return template
    return template.replace("{label}", label(pii_type)).replace("{type}", pii_type.value)


class ReplaceOperator(BaseOperator):
    name = "replace"
    Params = ReplaceParams

    def apply(self, value: str, pii_type: SpanType, params: BaseModel, secret: bytes) -> str:
        assert isinstance(params, ReplaceParams)
        return render_placeholder(params.placeholder, pii_type)

    def constant(self, pii_type: SpanType, params: BaseModel) -> str | None:
        return self.apply("", pii_type, params, b"")  # the placeholder ignores the value


OPERATORS.add(ReplaceOperator.name, ReplaceOperator())
