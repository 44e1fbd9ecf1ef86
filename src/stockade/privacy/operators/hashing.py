"""``hash``: a keyed, consistent token (``<手机号:3f2a9c0d1e4b5a67>``).

HMAC-SHA256 under the workspace secret over ``"<type>:<normalized value>"`` (see ``normalize``),
so the same person's number gives the same token across a whole dataset, whatever its formatting,
and nobody without the workspace key can test a guess against a token.
"""

from __future__ import annotations

import hashlib
import hmac

from pydantic import BaseModel, Field

from stockade.privacy.operators.base import OPERATORS, BaseOperator, OperatorParams, label, require_secret
from stockade.privacy.operators.normalize import normalize
from stockade.privacy.spans import SpanType


class HashParams(OperatorParams):
    length: int = Field(16, ge=8, le=64, description="Hex digits of the HMAC kept in the token.")
    prefix: str | None = Field(
        None,
        min_length=1,
        max_length=32,
        description="Written instead of the Chinese label: `<{prefix}:{hex}>`.",
    )


def hmac_hex(secret: bytes, pii_type: SpanType, value: str) -> str:
    message = f"{pii_type.value}:{normalize(value, pii_type)}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


class HashOperator(BaseOperator):
    name = "hash"
    Params = HashParams

    def apply(self, value: str, pii_type: SpanType, params: BaseModel, secret: bytes) -> str:
        assert isinstance(params, HashParams)
        digest = hmac_hex(require_secret(self.name, secret), pii_type, value)
        return f"<{params.prefix or label(pii_type)}:{digest[: params.length]}>"


OPERATORS.add(HashOperator.name, HashOperator())
