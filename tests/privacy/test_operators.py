"""Desensitization operators: mask, replace, hash, pseudonym, redact.

Checksums are validated with implementations written here, independently of the package's own.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import ipaddress
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from stockade.core.errors import ConfigError
from stockade.privacy.operators import OPERATORS, apply_operator, build_params, normalize
from stockade.privacy.spans import LABELS, PiiType

SECRET = b"test-workspace-secret-0123456789"
OTHER_SECRET = b"another-workspace-secret-9876543"
T = PiiType

# --- independent validators -------------------------------------------------------------------

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECKS = "10X98765432"
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
PROVINCE_CODES = {
    *range(11, 16), *range(21, 24), *range(31, 38), *range(41, 47), *range(50, 55), *range(61, 66),
}  # fmt: skip
PLATE_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
PLATE_RE = re.compile(
    rf"[{PLATE_PROVINCES}][A-HJ-NP-Z]"
    r"(?:[A-HJ-NP-Z0-9]{5}|[A-HJ-NP-Z0-9]{4}[学警挂领使港澳试超]|[A-HJK][A-HJ-NP-Z0-9]\d{4}|\d{5}[A-HJK])"
)


def compact(value: str) -> str:
    return re.sub(r"[\s\-()（）·]", "", value)


def id_check(first17: str) -> str:
    return ID_CHECKS[sum(int(d) * w for d, w in zip(first17, ID_WEIGHTS, strict=True)) % 11]


def real_date(text: str, fmt: str) -> bool:
    try:
        day = dt.datetime.strptime(text, fmt).date()
    except ValueError:
        return False
    return dt.date(1900, 1, 1) <= day <= dt.date.today()


def region_ok(code: str) -> bool:
    return int(code[:2]) in PROVINCE_CODES and code[2:4] != "00" and code[4:6] != "00"


def valid_id_card(value: str) -> bool:
    core = compact(value).upper()
    if len(core) == 18:
        return (
            core[:17].isdigit()
            and region_ok(core[:6])
            and real_date(core[6:14], "%Y%m%d")
            and id_check(core[:17]) == core[17]
        )
    if len(core) == 15:
        return core.isdigit() and region_ok(core[:6]) and real_date("19" + core[6:12], "%Y%m%d")
    return False


def luhn_valid(number: str) -> bool:
    digits = [int(c) for c in number]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def with_luhn(payload: str) -> str:
    return next(payload + d for d in "0123456789" if luhn_valid(payload + d))


def uscc_valid(value: str) -> bool:
    core = compact(value)
    if len(core) != 18 or any(c not in USCC_ALPHABET for c in core):
        return False
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(core[:17], USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31] == core[17]


def with_uscc_check(first17: str) -> str:
    return next(first17 + c for c in USCC_ALPHABET if uscc_valid(first17 + c))


def valid_mobile(value: str) -> bool:
    digits = re.sub(r"\D", "", value)
    return len(digits) >= 11 and re.fullmatch(r"1[3-9]\d{9}", digits[-11:]) is not None


def valid_ipv4(value: str) -> bool:
    address = ipaddress.IPv4Address(value)
    nets = ("10.0.0.0/8", "192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")
    return any(address in ipaddress.IPv4Network(net) for net in nets)


def valid_ipv6(value: str) -> bool:
    bare = value.strip("[]").partition("%")[0]
    address = ipaddress.IPv6Address(bare)
    if address.ipv4_mapped:
        return valid_ipv4(str(address.ipv4_mapped))
    return address in ipaddress.IPv6Network("2001:db8::/32")


def make_id(region: str, birth: str, seq: str) -> str:
    return region + birth + seq + id_check(region + birth + seq)


ID_A = make_id("110101", "19900307", "123")
ID_X = next(
    make_id("440305", "19851120", f"{n:03d}")
    for n in range(1000)
    if id_check(f"44030519851120{n:03d}") == "X"
)
CARD = with_luhn("622202123456789012")  # 19 digits
CARD16 = with_luhn("436742012345678")
USCC = with_uscc_check("91110108MA01ABCD1")

VALIDATORS: dict[PiiType, Callable[[str], bool]] = {
    T.ID_CARD: valid_id_card,
    T.MOBILE: valid_mobile,
    T.LANDLINE: lambda v: re.fullmatch(r"[\d\s\-()+转#x分机ext.]+", v) is not None,
    T.BANK_CARD: lambda v: compact(v).isdigit() and luhn_valid(compact(v)),
    T.USCC: uscc_valid,
    T.PASSPORT: lambda v: re.fullmatch(r"[A-Z]{1,2}\d{7,8}", v) is not None,
    T.HK_MACAO_PERMIT: lambda v: re.fullmatch(r"[A-Z]{1,2}\d{7,10}", v) is not None,
    T.EMAIL: lambda v: re.fullmatch(r"user_[0-9a-f]{6}@[\w.-]+", v) is not None,
    T.IPV4: valid_ipv4,
    T.IPV6: valid_ipv6,
    T.LICENSE_PLATE: lambda v: PLATE_RE.fullmatch(re.sub(r"[\s·\-]", "", v)) is not None,
    T.PERSON: lambda v: re.fullmatch(r"[\u4e00-\u9fff·]+|[A-Za-z. '\-]+", v) is not None,
    T.ADDRESS: lambda v: len(v) > 0,
}

SAMPLES: dict[PiiType, list[str]] = {
    T.ID_CARD: [ID_A, ID_X, ID_X.lower(), f"{ID_A[:6]} {ID_A[6:14]} {ID_A[14:]}", "110101900307123"],
    T.MOBILE: ["13800138000", "138 0013 8000", "138-0013-8000", "+86 138 0013 8000", "0086-13800138000"],
    T.LANDLINE: [
        "010-62345678",
        "(0755)8888 6666",
        "021 6234 5678-801",
        "0571-8765432转12",
        "+86 10 62345678",
    ],
    T.BANK_CARD: [CARD, " ".join([CARD[i : i + 4] for i in range(0, 19, 4)]), CARD16],
    T.USCC: [USCC, "91350100M000100Y43"],
    T.PASSPORT: ["E12345678", "EA1234567", "G23456789"],
    T.HK_MACAO_PERMIT: ["C12345678", "CA1234567", "H1234567800"],
    T.EMAIL: ["zhang.san@icbc.com.cn", "LiSi@QQ.com"],
    T.IPV4: ["192.168.1.10", "8.8.8.8", "10.0.0.1"],
    T.IPV6: ["2408:8207:1234::1", "fe80::1ff:fe23:4567:890a", "[2001:DA8:0:0:0:0:0:1]", "::ffff:8.8.8.8"],
    T.LICENSE_PLATE: ["京A12345", "沪B·9K8J7", "粤BD12345", "粤B12345D", "京A1234学"],
    T.PERSON: ["张三", "王小明", "欧阳娜娜", "买买提·艾力", "John Smith"],
    T.ADDRESS: [
        "北京市朝阳区建国路88号",
        "广东省深圳市南山区深南大道10000号3栋2单元1201室",
        "123 Main Street, Springfield",
    ],
}

CASES = [(pii_type, value) for pii_type, values in SAMPLES.items() for value in values]
CASE_IDS = [f"{t.value}:{v}" for t, v in CASES]


def pseudo(value: str, pii_type: PiiType, secret: bytes = SECRET, **params: object) -> str:
    return apply_operator("pseudonym", value, pii_type, build_params("pseudonym", params), secret)


def hashed(value: str, pii_type: PiiType, secret: bytes = SECRET, **params: object) -> str:
    return apply_operator("hash", value, pii_type, build_params("hash", params), secret)


def masked(value: str, pii_type: PiiType = T.BANK_CARD, **params: object) -> str:
    return apply_operator("mask", value, pii_type, build_params("mask", params), SECRET)


def skeleton(value: str) -> str:
    """Where the separators are: letters/digits/CJK become '_'."""
    return re.sub(r"[^\W_]", "_", value)


# --- registry and common API ------------------------------------------------------------------


def test_registry_offers_the_five_operators_with_strict_parameter_models() -> None:
    assert OPERATORS.names() == ["hash", "mask", "pseudonym", "redact", "replace"]
    for name in OPERATORS.names():
        operator = OPERATORS.get(name)
        assert operator.name == name
        assert issubclass(operator.Params, BaseModel)
        assert operator.Params.model_config.get("extra") == "forbid"
        assert isinstance(build_params(name, {}), operator.Params)
    with pytest.raises(ConfigError, match="did you mean 'mask'"):
        OPERATORS.get("masks")


def test_safe_defaults() -> None:
    mask = build_params("mask", {})
    assert (mask.keep_first, mask.keep_last, mask.char) == (0, 0, "*")
    assert build_params("hash", {}).length == 16


@pytest.mark.parametrize(("pii_type", "value"), CASES, ids=CASE_IDS)
@pytest.mark.parametrize("operator", ["mask", "replace", "hash", "pseudonym", "redact"])
def test_every_operator_on_every_type(operator: str, pii_type: PiiType, value: str) -> None:
    out = apply_operator(operator, value, pii_type, None, SECRET)
    label = LABELS[pii_type]
    if operator == "mask":
        assert len(out) == len(value)
        assert not any(c.isalnum() for c in out)
        assert skeleton(out.replace("*", "a")) == skeleton(value)
    elif operator == "replace":
        assert out == f"<{label}>"
    elif operator == "hash":
        assert re.fullmatch(rf"<{re.escape(label)}:[0-9a-f]{{16}}>", out)
    elif operator == "pseudonym":
        assert out != value
        assert normalize(out, pii_type) != normalize(value, pii_type)
        assert VALIDATORS[pii_type](out), out
        assert out == apply_operator(operator, value, pii_type, None, SECRET)  # deterministic
    else:
        assert out == ""


def test_apply_operator_accepts_a_raw_mapping_and_a_type_name() -> None:
    assert apply_operator("mask", "13800138000", "mobile", {"keep_first": 3, "keep_last": 4}, SECRET) == (
        "138****8000"
    )


# --- parameter validation ----------------------------------------------------------------------

BAD_PARAMS = [
    ("mask", {"keep_frist": 3}, "keep_frist"),
    ("mask", {"keep_first": "three"}, "keep_first"),
    ("mask", {"keep_last": -1}, "keep_last"),
    ("mask", {"char": "**"}, "char"),
    ("mask", {"char": ""}, "char"),
    ("replace", {"placeholder": 5}, "placeholder"),
    ("replace", {"placeholder": "<{lable}>"}, "placeholder"),
    ("hash", {"length": 4}, "length"),
    ("hash", {"length": 65}, "length"),
    ("hash", {"length": "long"}, "length"),
    ("hash", {"salt": "x"}, "salt"),
    ("pseudonym", {"keep_domain": "maybe"}, "keep_domain"),
    ("pseudonym", {"keep_citty": True}, "keep_citty"),
    ("redact", {"anything": 1}, "anything"),
]


@pytest.mark.parametrize(("operator", "raw", "field"), BAD_PARAMS)
def test_bad_params_raise_config_error_naming_operator_and_field(
    operator: str, raw: dict, field: str
) -> None:
    with pytest.raises(ConfigError) as info:
        build_params(operator, raw)
    assert f"'{operator}'" in info.value.what
    assert field in info.value.what
    assert info.value.fix and operator in info.value.fix


def test_other_api_misuse_raises_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown privacy operator 'scramble'"):
        build_params("scramble", {})
    with pytest.raises(ConfigError, match="must be a mapping"):
        build_params("mask", ["keep_first", 3])  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="HashParams"):
        apply_operator("hash", "x", T.EMAIL, build_params("mask", {}), SECRET)
    with pytest.raises(ConfigError, match="unknown personal-data type"):
        apply_operator("mask", "x", "ssn", None, SECRET)
    for operator in ("hash", "pseudonym"):
        with pytest.raises(ConfigError, match="secret"):
            apply_operator(operator, "13800138000", T.MOBILE, None, b"")


# --- mask ------------------------------------------------------------------------------------

MASK_CASES = [
    ("6222021234567890128", T.BANK_CARD, {"keep_first": 6, "keep_last": 4}, "622202*********0128"),
    ("6222 0212 3456 7890 128", T.BANK_CARD, {"keep_first": 6, "keep_last": 4}, "6222 02** **** ***0 128"),
    ("138-0013-8000", T.MOBILE, {"keep_first": 3, "keep_last": 4}, "138-****-8000"),
    (ID_A, T.ID_CARD, {"keep_first": 1, "keep_last": 1, "char": "X"}, ID_A[0] + "X" * 16 + ID_A[-1]),
    ("zhangsan@qq.com", T.EMAIL, {"keep_first": 1, "keep_domain": True}, "z*******@qq.com"),
    ("zhangsan@qq.com", T.EMAIL, {"keep_first": 1}, "z*******@**.***"),
    ("张三", T.PERSON, {"keep_first": 1}, "张*"),
    ("欧阳娜娜", T.PERSON, {"keep_first": 1, "keep_last": 1}, "欧**娜"),
    ("张三", T.PERSON, {"keep_first": 1, "keep_last": 1}, "张*"),  # at least one is masked
    ("123", T.PASSPORT, {"keep_first": 6, "keep_last": 4}, "12*"),
    ("192.168.1.10", T.IPV4, {"keep_first": 6}, "192.168.*.**"),
    ("１３８００１３８０００", T.MOBILE, {"keep_last": 4}, "*******８０００"),
    ("-- --", T.MOBILE, {}, "-- --"),
    ("", T.MOBILE, {}, ""),
]


@pytest.mark.parametrize(("value", "pii_type", "params", "expected"), MASK_CASES)
def test_mask(value: str, pii_type: PiiType, params: dict, expected: str) -> None:
    assert masked(value, pii_type, **params) == expected


# --- replace ---------------------------------------------------------------------------------


@pytest.mark.parametrize("pii_type", list(PiiType))
@pytest.mark.parametrize(
    ("placeholder", "expected"),
    [
        (None, "<{label}>"),
        ("[{type}]", "[{type}]"),
        ("<{label}/{type}>", "<{label}/{type}>"),
        ("***", "***"),
    ],
)
def test_replace(pii_type: PiiType, placeholder: str | None, expected: str) -> None:
    params = build_params("replace", {"placeholder": placeholder})
    out = apply_operator("replace", "secret value", pii_type, params, SECRET)
    assert out == expected.replace("{label}", LABELS[pii_type]).replace("{type}", pii_type.value)


# --- hash ------------------------------------------------------------------------------------


def reference_hmac(pii_type: PiiType, canonical: str, secret: bytes = SECRET) -> str:
    return hmac.new(secret, f"{pii_type.value}:{canonical}".encode(), hashlib.sha256).hexdigest()


VARIANTS: list[tuple[PiiType, str, list[str]]] = [
    (T.MOBILE, "13800138000", ["138 0013 8000", "138-0013-8000", "+86 138 0013 8000", "0086-13800138000",
                               "+8613800138000", "(138)00138000", "１３８００１３８０００"]),
    (T.ID_CARD, ID_X, [ID_X.lower(), f"{ID_X[:6]} {ID_X[6:14]} {ID_X[14:]}", f"{ID_X[:6]}-{ID_X[6:]}"]),
    (T.BANK_CARD, CARD, [" ".join(CARD[i : i + 4] for i in range(0, 19, 4)), "-".join([CARD[:6], CARD[6:]])]),
    (T.LANDLINE, "01062345678", ["010-62345678", "(010)62345678", "+86 10 6234 5678", "0086 10 62345678"]),
    (T.EMAIL, "zhang.san@icbc.com.cn", ["Zhang.San@ICBC.com.cn", " zhang.san@icbc.com.cn "]),
    (T.IPV4, "192.168.1.10", ["192.168.001.010"]),
    (T.IPV6, "2001:db8::1", ["2001:0DB8:0000:0000:0000:0000:0000:0001", "[2001:db8::1]"]),
    (T.LICENSE_PLATE, "京A12345", ["京A·12345", "京A 12345", "京a12345"]),
    (T.PERSON, "张三", ["张 三", " 张三 "]),
    (T.PERSON, "john smith", ["John Smith", "JOHN  SMITH"]),
    (T.PASSPORT, "E12345678", ["e12345678", "E 1234 5678"]),
]  # fmt: skip


@pytest.mark.parametrize(("pii_type", "canonical", "variants"), VARIANTS, ids=[v[0].value for v in VARIANTS])
def test_hash_is_the_hmac_of_the_canonical_value_for_every_variant(
    pii_type: PiiType, canonical: str, variants: list[str]
) -> None:
    expected = f"<{LABELS[pii_type]}:{reference_hmac(pii_type, canonical)[:16]}>"
    for value in [canonical, *variants]:
        assert normalize(value, pii_type) == canonical
        assert hashed(value, pii_type) == expected, value


def test_hash_length_prefix_secret_and_type() -> None:
    token = hashed("13800138000", T.MOBILE, length=64)
    assert token == f"<手机号:{reference_hmac(T.MOBILE, '13800138000')}>"
    assert re.fullmatch(r"<手机号:[0-9a-f]{8}>", hashed("13800138000", T.MOBILE, length=8))
    assert re.fullmatch(r"<PHONE:[0-9a-f]{16}>", hashed("13800138000", T.MOBILE, prefix="PHONE"))
    assert hashed("13800138000", T.MOBILE) != hashed("13800138000", T.MOBILE, secret=OTHER_SECRET)
    assert hashed("13800138000", T.MOBILE) != hashed("13800138001", T.MOBILE)
    # the type is part of the HMAC input: the same digits as a different type give another token
    assert hashed("12345678", T.PASSPORT)[-17:] != hashed("12345678", T.LANDLINE)[-17:]


# --- pseudonym: specific formats ----------------------------------------------------------------


def kept(value: str, out: str, start: int, end: int) -> bool:
    return compact(value)[start:end] == compact(out)[start:end]


PSEUDONYM_CASES: list[tuple[PiiType, str, dict, Callable[[str, str], bool]]] = [
    (T.ID_CARD, ID_X.lower(), {}, lambda v, o: len(o) == 18 and (o[-1] != "X")),
    (T.ID_CARD, f"{ID_A[:6]} {ID_A[6:14]} {ID_A[14:]}", {}, lambda v, o: skeleton(o) == skeleton(v)),
    (T.ID_CARD, "110101900307123", {}, lambda v, o: len(o) == 15 and o.isdigit()),
    (T.MOBILE, "+86 138-0013-8000", {}, lambda v, o: o.startswith("+86 ") and skeleton(o) == skeleton(v)),
    (T.MOBILE, "0086 13800138000", {}, lambda v, o: o.startswith("0086 1") and len(o) == len(v)),
    (T.LANDLINE, "010-62345678", {}, lambda v, o: re.fullmatch(r"010-[2-9]\d{7}", o) is not None),
    (T.LANDLINE, "(0755)8888 6666", {}, lambda v, o: o.startswith("(0755)") and skeleton(o) == skeleton(v)),
    (T.LANDLINE, "0571-8765432转12", {}, lambda v, o: re.fullmatch(r"0571-[2-9]\d{6}转\d\d", o) is not None),
    (T.LANDLINE, "021 6234 5678-801", {}, lambda v, o: re.fullmatch(r"021 [2-9]\d{3} \d{4}-\d{3}", o)),
    (T.LANDLINE, "+86 10 62345678", {}, lambda v, o: re.fullmatch(r"\+86 10 [2-9]\d{7}", o) is not None),
    (T.BANK_CARD, CARD, {}, lambda v, o: o[:6] == v[:6] and len(o) == len(v)),
    (T.BANK_CARD, " ".join(CARD[i : i + 4] for i in range(0, 19, 4)), {},
     lambda v, o: kept(v, o, 0, 6) and skeleton(o) == skeleton(v)),
    (T.USCC, USCC, {}, lambda v, o: o[:8] == v[:8] and len(o) == 18),
    (T.PASSPORT, "EA1234567", {}, lambda v, o: o[:2] == "EA" and len(o) == 9),
    (T.HK_MACAO_PERMIT, "H1234567800", {}, lambda v, o: o[0] == "H" and len(o) == 11),
    (T.EMAIL, "zhang.san@icbc.com.cn", {}, lambda v, o: o.endswith("@icbc.com.cn")),
    (T.EMAIL, "zhang.san@icbc.com.cn", {"keep_domain": False},
     lambda v, o: o.split("@")[1] in {"example.com", "example.org", "example.net"}),
    (T.IPV4, "192.168.1.10", {}, lambda v, o: o.startswith("10.")),
    (T.IPV4, "8.8.8.8", {}, lambda v, o: not o.startswith("10.")),
    (T.IPV6, "2001:0DB8:0000:0000:0000:0000:0000:0001", {}, lambda v, o: len(o) == len(v) and o.isupper()),
    (T.IPV6, "[fe80::1%eth0]", {}, lambda v, o: o.startswith("[2001:db8:") and o.endswith("%eth0]")),
    (T.LICENSE_PLATE, "京A·12345", {}, lambda v, o: o[0] == "京" and o[2] == "·" and len(o) == 8),
    (T.LICENSE_PLATE, "粤BD12345", {}, lambda v, o: o[0] == "粤" and len(o) == 8 and o[2] in "DF"),
    (T.LICENSE_PLATE, "粤B12345D", {}, lambda v, o: o[0] == "粤" and len(o) == 8 and o[-1] in "DF"),
    (T.LICENSE_PLATE, "京A1234学", {}, lambda v, o: o[0] == "京" and o[-1] == "学"),
    (T.PERSON, "王小明", {}, lambda v, o: len(o) == 3),
    (T.PERSON, "欧阳娜娜", {}, lambda v, o: len(o) == 4),
    (T.PERSON, "张", {}, lambda v, o: len(o) == 1),
    (T.PERSON, "买买提·艾力", {}, lambda v, o: o[3] == "·" and len(o) == 6),
    (T.PERSON, "JOHN SMITH", {}, lambda v, o: o.isupper() and len(o.split()) == 2),
    (T.PERSON, "J. Smith", {}, lambda v, o: re.fullmatch(r"[A-Z]\. [A-Z][a-z]+", o) is not None),
    (T.ADDRESS, "北京市朝阳区建国路88号", {},
     lambda v, o: o.startswith("北京市") and re.search(r"区.+路\d+号$", o)),
    (T.ADDRESS, "广东省深圳市南山区深南大道10000号3栋2单元1201室", {},
     lambda v, o: o.startswith("广东省深圳市") and re.search(r"\d+栋\d+单元\d+室$", o)),
    (T.ADDRESS, "广东省深圳市南山区深南大道10000号", {"keep_city": False},
     lambda v, o: re.match(r"[^\W\d]+省[^\W\d]+市", o) is not None and "深圳市南山区" not in o),
    (T.ADDRESS, "123 Main Street, Springfield", {}, lambda v, o: o.endswith("Street, Springfield")),
]  # fmt: skip


@pytest.mark.parametrize(
    ("pii_type", "value", "params", "check"),
    PSEUDONYM_CASES,
    ids=[f"{c[0].value}:{c[1]}" for c in PSEUDONYM_CASES],
)
def test_pseudonym_keeps_the_format(
    pii_type: PiiType, value: str, params: dict, check: Callable[[str, str], bool]
) -> None:
    out = pseudo(value, pii_type, **params)
    assert out != value
    assert VALIDATORS[pii_type](out), out
    assert check(value, out), out
    assert pseudo(value, pii_type, secret=OTHER_SECRET, **params) != out


def test_pseudonym_keeps_lower_case_x() -> None:
    outs = {pseudo(ID_X.lower(), T.ID_CARD, secret=bytes([n]) * 16) for n in range(1, 120)}
    with_check_x = [o for o in outs if not o[-1].isdigit()]
    assert with_check_x and all(o[-1] == "x" for o in with_check_x)
    assert all(valid_id_card(o) for o in outs)


def test_pseudonym_license_plate_region_can_be_faked_too() -> None:
    outs = {
        pseudo("京A12345", T.LICENSE_PLATE, secret=bytes([n]) * 16, keep_region=False) for n in range(1, 40)
    }
    assert all(PLATE_RE.fullmatch(o) for o in outs)
    assert len({o[0] for o in outs}) > 5


@pytest.mark.parametrize(("pii_type", "canonical", "variants"), VARIANTS, ids=[v[0].value for v in VARIANTS])
def test_pseudonym_is_consistent_across_formatting_variants(
    pii_type: PiiType, canonical: str, variants: list[str]
) -> None:
    reference = normalize(pseudo(canonical, pii_type), pii_type)
    for value in variants:
        assert normalize(pseudo(value, pii_type), pii_type) == reference, value


def test_pseudonym_never_returns_the_input_even_for_tiny_value_spaces() -> None:
    # one digit: the first derivation equals the input for about one secret in ten
    for n in range(200):
        secret = n.to_bytes(4, "big") * 4
        assert pseudo("E1", T.PASSPORT, secret=secret) != "E1"
        assert pseudo("张", T.PERSON, secret=secret) != "张"


def test_pseudonym_with_nothing_to_fake_falls_back_to_the_placeholder() -> None:
    assert pseudo("---", T.PASSPORT) == "<护照号>"
    assert pseudo("", T.MOBILE) == "<手机号>"


def test_pseudonym_of_unusual_shapes_still_changes_them() -> None:
    unusual = [
        (T.ID_CARD, "1234"),
        (T.BANK_CARD, "1234 5678"),
        (T.IPV4, "300.1.2.3"),
        (T.USCC, "ABC"),
        (T.EMAIL, "not-an-email"),
        (T.LICENSE_PLATE, "WJ1234"),
    ]
    for pii_type, value in unusual:
        out = pseudo(value, pii_type)
        assert out != value and len(out) == len(value) and skeleton(out) == skeleton(value)


def test_pseudonym_is_the_same_in_another_process() -> None:
    values = [
        (T.ID_CARD, ID_A),
        (T.MOBILE, "138 0013 8000"),
        (T.PERSON, "王小明"),
        (T.ADDRESS, SAMPLES[T.ADDRESS][1]),
    ]
    code = (
        "import json, sys\n"
        "from stockade.privacy.operators import apply_operator\n"
        "from stockade.privacy.spans import PiiType\n"
        "items = json.loads(sys.argv[1])\n"
        "print(json.dumps([apply_operator(op, v, PiiType(t), None, sys.argv[2].encode())\n"
        "                  for op in ('pseudonym', 'hash') for t, v in items]))\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    payload = json.dumps([[t.value, v] for t, v in values])
    result = subprocess.run(
        [sys.executable, "-c", code, payload, SECRET.decode()],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    here = [apply_operator(op, v, t, None, SECRET) for op in ("pseudonym", "hash") for t, v in values]
    assert json.loads(result.stdout) == here


# --- pseudonym: properties over generated valid inputs ----------------------------------------

REGIONS = ("110105", "310115", "440305", "510107", "330106", "650102", "420106", "210102")

births = st.dates(min_value=dt.date(1930, 1, 1), max_value=dt.date(2012, 12, 31))


@st.composite
def id_numbers(draw: st.DrawFn) -> str:
    core = make_id(
        draw(st.sampled_from(REGIONS)), draw(births).strftime("%Y%m%d"), f"{draw(st.integers(0, 999)):03d}"
    )
    if core[-1] == "X" and draw(st.booleans()):
        core = core[:-1] + "x"
    style = draw(st.sampled_from(["plain", "spaced", "hyphen"]))
    if style == "spaced":
        return f"{core[:6]} {core[6:14]} {core[14:]}"
    return f"{core[:6]}-{core[6:14]}-{core[14:]}" if style == "hyphen" else core


@st.composite
def legacy_id_numbers(draw: st.DrawFn) -> str:
    birth = draw(st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(1999, 12, 31)))
    return draw(st.sampled_from(REGIONS)) + birth.strftime("%y%m%d") + f"{draw(st.integers(0, 999)):03d}"


@st.composite
def bank_cards(draw: st.DrawFn) -> str:
    length = draw(st.integers(13, 19))
    payload = draw(
        st.text("0123456789", min_size=length - 1, max_size=length - 1).filter(lambda s: s[0] != "0")
    )
    number = with_luhn(payload)
    if draw(st.booleans()):
        return " ".join(number[i : i + 4] for i in range(0, length, 4))
    return number


@st.composite
def mobiles(draw: st.DrawFn) -> str:
    number = "1" + draw(st.sampled_from("3456789")) + draw(st.text("0123456789", min_size=9, max_size=9))
    sep = draw(st.sampled_from(["", " ", "-"]))
    grouped = sep.join([number[:3], number[3:7], number[7:]])
    return draw(st.sampled_from(["", "+86 ", "+86", "0086 ", "0086-"])) + grouped


@st.composite
def usccs(draw: st.DrawFn) -> str:
    head = draw(st.sampled_from(["91", "92", "93", "11", "51", "52", "Y1"])) + draw(st.sampled_from(REGIONS))
    body = draw(st.text(USCC_ALPHABET, min_size=9, max_size=9))
    return with_uscc_check(head + body)


def assert_good_pseudonym(value: str, pii_type: PiiType, same_digits_as: str | None = None) -> str:
    out = pseudo(value, pii_type)
    assert VALIDATORS[pii_type](out), (value, out)
    assert skeleton(out) == skeleton(value)
    assert normalize(out, pii_type) != normalize(value, pii_type)
    assert pseudo(value, pii_type) == out
    assert pseudo(value, pii_type, secret=OTHER_SECRET) != out
    if same_digits_as is not None:
        assert normalize(pseudo(same_digits_as, pii_type), pii_type) == normalize(out, pii_type)
    return out


@settings(max_examples=150, deadline=None)
@given(id_numbers())
def test_pseudonym_id_numbers_are_valid_and_consistent(value: str) -> None:
    out = assert_good_pseudonym(value, T.ID_CARD, same_digits_as=compact(value).upper())
    if value[-1] == "x" and out[-1] in "xX":
        assert out[-1] == "x"


@settings(max_examples=100, deadline=None)
@given(legacy_id_numbers())
def test_pseudonym_legacy_id_numbers_are_valid(value: str) -> None:
    out = assert_good_pseudonym(value, T.ID_CARD)
    assert len(out) == 15


@settings(max_examples=150, deadline=None)
@given(bank_cards())
def test_pseudonym_bank_cards_pass_luhn_and_keep_the_bin(value: str) -> None:
    out = assert_good_pseudonym(value, T.BANK_CARD, same_digits_as=compact(value))
    assert compact(out)[:6] == compact(value)[:6]


@settings(max_examples=150, deadline=None)
@given(mobiles())
def test_pseudonym_mobiles_keep_prefix_and_grouping(value: str) -> None:
    out = assert_good_pseudonym(value, T.MOBILE, same_digits_as=re.sub(r"\D", "", value)[-11:])
    prefix = re.match(r"(\+86|0086)?", value).group()  # type: ignore[union-attr]
    assert out.startswith(prefix)


@settings(max_examples=100, deadline=None)
@given(usccs())
def test_pseudonym_usccs_keep_structure_and_check(value: str) -> None:
    out = assert_good_pseudonym(value, T.USCC)
    assert out[:8] == value[:8]


FUZZ_ALPHABET = "0123456789abcxXEDF +-()@.:[]%#转号路区市省栋单元室张·京A粤ｘ１\u3000_/"


@settings(max_examples=300, deadline=None)
@given(
    st.text(FUZZ_ALPHABET, max_size=30),
    st.sampled_from(list(PiiType)),
    st.sampled_from([{}, {"keep_domain": False, "keep_region": False, "keep_city": False}]),
)
def test_no_operator_fails_on_arbitrary_text(value: str, pii_type: PiiType, params: dict) -> None:
    for operator in ("mask", "replace", "hash", "redact"):
        assert isinstance(apply_operator(operator, value, pii_type, None, SECRET), str)
    out = pseudo(value, pii_type, **params)
    assert out == pseudo(value, pii_type, **params)
    if value.strip():
        assert out != value


# --- normalization and speed -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pii_type", "value", "expected"),
    [
        (T.MOBILE, "+86 (138) 0013-8000", "13800138000"),
        (T.MOBILE, "8613800138000", "13800138000"),
        (T.ID_CARD, "１１０１０１ １９９００３０７ １２３ｘ", "11010119900307123X"),
        (T.LANDLINE, "010-62345678转801", "01062345678801"),
        (T.LANDLINE, "+86 (0)10 62345678", "01062345678"),
        (T.EMAIL, " Zhang@QQ.COM ", "zhang@qq.com"),
        (T.IPV6, "[2001:DB8:0:0::1%eth0]", "2001:db8::1%eth0"),
        (T.LICENSE_PLATE, "京a·12345", "京A12345"),
        (T.PERSON, "Ｊｏｈｎ　Ｓｍｉｔｈ", "john smith"),
        (T.ADDRESS, "北京市 朝阳区", "北京市朝阳区"),
    ],
)
def test_normalize(pii_type: PiiType, value: str, expected: str) -> None:
    assert normalize(value, pii_type) == expected


@pytest.mark.parametrize(
    ("operator", "params", "value"),
    [
        ("mask", {"keep_first": 6, "keep_last": 4}, "6222021234567890128"),
        ("mask", {"keep_first": 6, "keep_last": 4}, "6222 0212 3456 7890 128"),
        ("replace", {}, ID_A),
        ("replace", {"placeholder": "[{label}]"}, ID_A),
    ],
)
def test_mask_and_replace_are_fast(operator: str, params: dict, value: str) -> None:
    """Target: 200k operations/s; asserted with a margin for slow, shared CI machines."""
    built = build_params(operator, params)
    best = 0.0
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(20_000):
            apply_operator(operator, value, T.BANK_CARD, built, SECRET)
        best = max(best, 20_000 / (time.perf_counter() - start))
    assert best > 100_000, f"{best:,.0f} operations/s"
