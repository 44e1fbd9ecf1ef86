"""Desensitization (脱敏) operators, chosen by name in a privacy policy.

* ``mask``: letters/digits behind ``*``, separators kept: ``622202*********0128``
  (params ``keep_first``, ``keep_last``, ``char``, ``keep_domain``).
* ``replace``: a typed placeholder, ``<身份证号>`` (``placeholder``, may use ``{label}``/``{type}``).
* ``hash``: a keyed consistent token, ``<手机号:3f2a9c0d1e4b5a67>`` (``length``, ``prefix``).
* ``pseudonym``: a consistent fake in the same format with a valid checksum
  (``keep_domain``, ``keep_region``, ``keep_city``); built-in types only, as a policy's custom
  types have no format to fake (a policy giving it one is refused by name).
* ``redact``: nothing, the value is removed (no params).

``build_params(name, raw)`` validates a policy's ``params`` once (errors are ``ConfigError`` naming
the operator and the field); ``apply_operator(name, value, type, params, secret)`` applies it.
Operators are pure functions of their inputs and the workspace secret: no state, safe in any
number of processes.
"""

from __future__ import annotations

from stockade.privacy.operators import hashing, mask, pseudonym, redact, replace
from stockade.privacy.operators.base import (
    OPERATORS,
    BaseOperator,
    Operator,
    OperatorParams,
    apply_operator,
    build_params,
)
from stockade.privacy.operators.hashing import HashParams
from stockade.privacy.operators.mask import MaskParams
from stockade.privacy.operators.normalize import normalize
from stockade.privacy.operators.pseudonym import PseudonymParams
from stockade.privacy.operators.redact import RedactParams
from stockade.privacy.operators.replace import ReplaceParams

__all__ = [
    "OPERATORS",
    "BaseOperator",
    "HashParams",
    "MaskParams",
    "Operator",
    "OperatorParams",
    "PseudonymParams",
    "RedactParams",
    "ReplaceParams",
    "apply_operator",
    "build_params",
    "hashing",
    "mask",
    "normalize",
    "pseudonym",
    "redact",
    "replace",
]
