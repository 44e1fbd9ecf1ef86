"""``redact``: the value is removed entirely."""

from __future__ import annotations

from pydantic import BaseModel

from stockade.privacy.operators.base import OPERATORS, BaseOperator, OperatorParams
from stockade.privacy.spans import SpanType


class RedactParams(OperatorParams):
    """No parameters."""


class RedactOperator(BaseOperator):
    name = "redact"
    Params = RedactParams

    def apply(self, value: str, pii_type: SpanType, params: BaseModel, secret: bytes) -> str:
        return ""

    def constant(self, pii_type: SpanType, params: BaseModel) -> str | None:
        return ""


OPERATORS.add(RedactOperator.name, RedactOperator())
