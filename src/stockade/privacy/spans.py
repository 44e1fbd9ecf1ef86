"""What detectors find and operators transform: typed spans of personal data.

Type names are stable identifiers (used in policies, reports and lineage); ``LABELS`` gives the
Chinese placeholder each type is replaced with by the ``replace`` operator.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Protocol


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

STRUCTURED_TYPES: frozenset[PiiType] = frozenset(PiiType) - {PiiType.PERSON, PiiType.ADDRESS}


@dataclass(frozen=True, order=True)
class Span:
    """``text[start:end]`` is personal data of ``type``; ``score`` in [0, 1]; ``detector`` found it."""

    start: int
    end: int
    type: PiiType
    score: float
    detector: str

    def __post_init__(self) -> None:
        if not 0 <= self.start < self.end:
            raise ValueError(f"bad span offsets {self.start}..{self.end}")


class Detector(Protocol):
    """Finds spans of some types in a text. Must be pure and thread/process safe."""

    name: str
    version: str
    types: tuple[PiiType, ...]

    def detect(self, text: str) -> list[Span]: ...
