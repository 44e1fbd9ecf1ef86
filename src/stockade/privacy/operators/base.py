"""The operator protocol, the ``OPERATORS`` registry and the two entry points the engine calls."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Protocol

from pydantic import BaseModel, ConfigDict, ValidationError

from stockade.core.errors import ConfigError
from stockade.core.registry import Registry
from stockade.privacy.spans import CustomType, PiiType, SpanType, type_label


class OperatorParams(BaseModel):
    """Base of every operator's parameter model: unknown keys are errors, instances are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Operator(Protocol):
    """Turns one detected value into its desensitized form. Pure: same inputs, same output."""

    name: str
    Params: type[BaseModel]

    def apply(self, value: str, pii_type: SpanType, params: BaseModel, secret: bytes) -> str: ...


class BaseOperator:
    """Shared plumbing for the built-in operators (a ready default parameter instance)."""

    name: ClassVar[str]
    Params: ClassVar[type[BaseModel]] = OperatorParams
    #: True for an operator that needs a built-in type's format (``pseudonym``): a policy may not
    #: give it a custom type, and ``apply_operator`` refuses one.
    builtin_types_only: ClassVar[bool] = False

    def __init__(self) -> None:
        self.default_params = self.Params()

    def apply(self, value: str, pii_type: SpanType, params: BaseModel, secret: bytes) -> str:
        raise NotImplementedError

    def constant(self, pii_type: SpanType, params: BaseModel) -> str | None:
        """What :meth:`apply` returns for every value and secret of ``pii_type`` with ``params``, or
        ``None`` when the output depends on them. The engine renders a constant once per type
        rather than once per span (an operator without this method is always applied)."""
        return None


OPERATORS: Registry[Operator] = Registry("privacy operator")


def label(pii_type: SpanType) -> str:
    """The Chinese label of a built-in type, or the policy's label of a custom one."""
    return type_label(pii_type)


def require_secret(operator: str, secret: bytes) -> bytes:
    """The workspace key, checked: keyed operators are guessable without one."""
    if not isinstance(secret, (bytes, bytearray, memoryview)):
        raise TypeError(f"the {operator} operator needs the workspace secret as bytes, not {type(secret)}")
    if not secret:
        raise ConfigError(
            f"the {operator} operator needs the workspace secret, and it is empty",
            fix="run inside a workspace (its privacy key is created on first use) and pass its key",
        )
    return bytes(secret)


def _describe(exc: ValidationError) -> list[str]:
    problems = []
    for error in exc.errors():
        field = ".".join(str(part) for part in error["loc"]) or "(parameters)"
        message = error["msg"]
        if error["type"] != "missing" and "input" in error:
            message += f" (got {error['input']!r})"
        problems.append(f"{field}: {message}")
    return problems


def build_params(operator_name: str, raw: Mapping[str, Any] | None) -> BaseModel:
    """Validate ``raw`` (a policy's ``params`` mapping) into ``operator_name``'s parameter model.

    Raises ``ConfigError`` naming the operator and each offending field.
    """
    operator = OPERATORS.get(operator_name)
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ConfigError(
            f"parameters of operator {operator_name!r} must be a mapping, not {type(raw).__name__}",
            fix=f"write them as `params: {{key: value}}`; {_allowed(operator)}",
        )
    try:
        return operator.Params.model_validate(dict(raw))
    except ValidationError as exc:
        problems = _describe(exc)
        raise ConfigError(
            f"invalid parameters for operator {operator_name!r}: " + "; ".join(problems),
            fix=_allowed(operator),
        ) from None


def _allowed(operator: Operator) -> str:
    fields = list(operator.Params.model_fields)
    if not fields:
        return f"operator {operator.name!r} takes no parameters"
    return f"operator {operator.name!r} takes: {', '.join(fields)}"


def apply_operator(
    operator_name: str,
    value: str,
    pii_type: SpanType | str,
    params: BaseModel | Mapping[str, Any] | None,
    secret: bytes,
) -> str:
    """Desensitize ``value`` (of ``pii_type``) with the named operator.

    ``pii_type`` is a built-in type (or its name) or a policy's :class:`CustomType` (a plain
    string names a built-in type only: a custom type brings its label). ``params`` is what
    ``build_params`` returned (build it once, apply it many times); ``None``
    means the operator's defaults, and a plain mapping is validated on the spot.
    """
    operator = OPERATORS.get(operator_name)
    if params is None:
        params = getattr(operator, "default_params", None)
        if params is None:
            params = operator.Params()
    elif not isinstance(params, operator.Params):
        if isinstance(params, Mapping):
            params = build_params(operator_name, params)
        else:
            raise ConfigError(
                f"operator {operator_name!r} was given {type(params).__name__}, "
                f"not its parameters ({operator.Params.__name__})",
                fix=f"build them with build_params({operator_name!r}, ...)",
            )
    if isinstance(pii_type, CustomType):
        if getattr(operator, "builtin_types_only", False):
            raise ConfigError(
                f"operator {operator_name!r} makes fakes in the format of a built-in type, and "
                f"{pii_type.value!r} is a custom type",
                fix="give the custom type replace, mask, hash or redact",
            )
    elif not isinstance(pii_type, PiiType):
        try:
            pii_type = PiiType(pii_type)
        except ValueError:
            raise ConfigError(
                f"unknown personal-data type {pii_type!r}",
                fix=f"choose one of: {', '.join(t.value for t in PiiType)} (a policy's own types are "
                "passed as CustomType)",
            ) from None
    return operator.apply(value, pii_type, params, secret)
