"""``redact``: the value is removed entirely."""

from __future__ import annotations

from pydantic import BaseModel

from stockade.privacy.operators.base import OPERATORS, BaseOperator, OperatorParams
from stockade.privacy.spans import PiiType


class RedactParams(OperatorParams):
    """No parameters."""


class RedactOperator(BaseOperator):
    name = "redact"
    Params = RedactParams

    def apply(self, value: str, pii_type: PiiType, params: BaseModel, secret: bytes) -> str:
        return ""


OPERATORS.add(RedactOperator.name, RedactOperator())
