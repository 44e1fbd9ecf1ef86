"""What detectors find and operators transform: typed spans of personal data.

Type names are stable identifiers (used in policies, reports and lineage); ``LABELS`` gives the
Chinese placeholder each type is replaced with by the ``replace`` operator.

A span's type is a :class:`PiiType` (the built-in types) or a :class:`CustomType` (a bank's own
type from a policy's ``custom_types``). Both are ``str`` subclasses equal to their name and have
``.value``, so ``span.type == "id_card"``, ``span.type.value`` and ``f"{span.type}"`` work alike
for either; :func:`type_label` gives the label of either.
"""

from __future__ import annotations

from enum import Enum
from typing import NamedTuple, Protocol


class PiiType(str, Enum):
    ID_CARD = "id_card"  # 居民身份证 (18-digit GB 11643, 15-digit legacy)
    MOBILE = "mobile"  # 手机号
    LANDLINE = "landline"  # 固定电话
    BANK_CARD = "bank_card"  # 银行卡号
    USCC = "uscc"  # 统一社会信用代码 (GB 32100)
    PASSPORT = "passport"  # 护照号
    HK_MACAO_PERMIT = "hk_macao_permit"  # 港澳居民来往内地通行证 / 往来港澳通行证
    EMAIL = "email"
    IPV4 = "ipv4"
    IPV6 = "ipv6"
    LICENSE_PLATE = "license_plate"  # 车牌号 (incl. new-energy)
    PERSON = "person"  # 姓名
    ADDRESS = "address"  # 地址

    def __str__(self) -> str:
        return self.value


LABELS: dict[PiiType, str] = {
    PiiType.ID_CARD: "身份证号",
    PiiType.MOBILE: "手机号",
    PiiType.LANDLINE: "固定电话",
    PiiType.BANK_CARD: "银行卡号",
    PiiType.USCC: "统一社会信用代码",
    PiiType.PASSPORT: "护照号",
    PiiType.HK_MACAO_PERMIT: "港澳通行证号",
    PiiType.EMAIL: "电子邮箱",
    PiiType.IPV4: "IP地址",
    PiiType.IPV6: "IP地址",
    PiiType.LICENSE_PLATE: "车牌号",
    PiiType.PERSON: "姓名",
    PiiType.ADDRESS: "地址",
}


class CustomType(str):
    """A type defined in a privacy policy (``custom_types``): a ``str`` equal to its name, with the
    label its placeholder shows (``<客户号>``). Equality and hashing are those of the name."""

    label: str

    def __new__(cls, name: str, label: str | None = None) -> CustomType:
        self = super().__new__(cls, name)
        self.label = label or name
        return self

    @property
    def value(self) -> str:
        """The type name, as ``PiiType.value``."""
        return str.__str__(self)

    def __str__(self) -> str:
        return self.value

    def __repr__(self) -> str:
        return f"CustomType({self.value!r}, label={self.label!r})"

    def __getnewargs__(self) -> tuple[str, str]:
        return self.value, self.label


#: The type of a span: a built-in type or a policy's own.
SpanType = PiiType | CustomType


def type_name(pii_type: SpanType | str) -> str:
    """The plain name of a type (``"id_card"``, ``"customer_no"``)."""
    return pii_type.value if isinstance(pii_type, (PiiType, CustomType)) else str(pii_type)


def type_label(pii_type: SpanType) -> str:
    """The placeholder label of a type: ``LABELS`` for built-in ones, the policy's for custom ones."""
    if isinstance(pii_type, CustomType):
        return pii_type.label
    return LABELS[PiiType(pii_type)]


STRUCTURED_TYPES: frozenset[PiiType] = frozenset(PiiType) - {PiiType.PERSON, PiiType.ADDRESS}


class _SpanFields(NamedTuple):
    start: int
    end: int
    type: SpanType
    score: float
    detector: str


class Span(_SpanFields):
    """``text[start:end]`` is personal data of ``type``; ``score`` in [0, 1]; ``detector`` found it.
    ``type`` is a :class:`PiiType`, or a :class:`CustomType` for a policy's own types.

    Immutable and ordered by its fields. A named tuple rather than a frozen dataclass: the gate
    creates and sorts tens of thousands per megabyte of dense text, and a tuple is built and
    compared in C (half the cost of a frozen dataclass's ``__init__``, a fraction of its ``__lt__``).
    """

    __slots__ = ()

    def __new__(cls, start: int, end: int, type: SpanType, score: float, detector: str) -> Span:
        if not 0 <= start < end:
            raise ValueError(f"bad span offsets {start}..{end}")
        # tuple.__new__ directly: the named tuple's own __new__ is one more Python call per span
        return _tuple_new(cls, (start, end, type, score, detector))


_tuple_new = tuple.__new__


class Detector(Protocol):
    """Finds spans of some types in a text. Must be pure and thread/process safe."""

    name: str
    version: str
    types: tuple[SpanType, ...]

    def detect(self, text: str) -> list[Span]: ...
