"""Fakes of emails, IP addresses, license plates, names and addresses (see ``fake_numbers``)."""

from __future__ import annotations

import ipaddress
import re
from typing import TYPE_CHECKING

from stockade.privacy.operators.derive import (
    DIGITS,
    UPPER,
    Rng,
    aligned,
    compound_surnames,
    english_given_names,
    english_surnames,
    fill,
    given_chars,
    is_cjk,
    nfkc_text,
    surnames,
    transliteration_chars,
)

if TYPE_CHECKING:
    from stockade.privacy.operators.pseudonym import PseudonymParams

# --- email -----------------------------------------------------------------------------------

_EXAMPLE_DOMAINS = ("example.com", "example.org", "example.net")


def fake_email(value: str, rng: Rng, params: PseudonymParams) -> str | None:
    """``user_<6 hex>@<the same domain>`` (or an example.* domain when ``keep_domain`` is false)."""
    local, at, domain = value.rpartition("@")
    if not at or not local.strip() or not domain.strip():
        return None
    lead = local[: len(local) - len(local.lstrip())]
    fake_local = f"user_{rng.hex(6)}"
    fake_domain = domain if params.keep_domain else rng.choice(_EXAMPLE_DOMAINS)
    return f"{lead}{fake_local}@{fake_domain}"


# --- IP addresses ----------------------------------------------------------------------------

_PRIVATE_V4 = tuple(
    ipaddress.IPv4Network(net)
    for net in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8", "169.254.0.0/16")
)
_DOCUMENTATION_V4 = ("192.0.2.", "198.51.100.", "203.0.113.")  # RFC 5737 TEST-NET-1/2/3


def _fake_v4(rng: Rng, original: ipaddress.IPv4Address) -> str:
    if any(original in net for net in _PRIVATE_V4):
        return f"10.{rng.below(256)}.{rng.below(256)}.{1 + rng.below(254)}"
    return f"{rng.choice(_DOCUMENTATION_V4)}{1 + rng.below(254)}"


def _split_space(value: str) -> tuple[str, str, str]:
    core = value.strip()
    start = value.find(core) if core else 0
    return value[:start], core, value[start + len(core) :]


def fake_ipv4(value: str, rng: Rng, params: PseudonymParams) -> str | None:
    """A private input gets an address in 10.0.0.0/8, a public one a documentation address
    (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24)."""
    head, core, tail = _split_space(value)
    parts = aligned(core).split(".")
    if len(parts) != 4 or not all(part.isdigit() and len(part) <= 3 and int(part) < 256 for part in parts):
        return None
    return head + _fake_v4(rng, ipaddress.IPv4Address(".".join(str(int(p)) for p in parts))) + tail


def fake_ipv6(value: str, rng: Rng, params: PseudonymParams) -> str | None:
    """An address in the documentation prefix 2001:db8::/32, written in the input's style
    (compressed / full / unpadded, case, brackets, zone); an embedded IPv4 gives ``::ffff:<v4>``."""
    head, core, tail = _split_space(value)
    text = aligned(core)
    open_, close = ("[", "]") if text.startswith("[") and text.endswith("]") else ("", "")
    bare = text[1:-1] if open_ else text
    address, percent, zone = bare.partition("%")
    try:
        original = ipaddress.IPv6Address(address)
    except ValueError:
        return None
    if "." in address:
        mapped = original.ipv4_mapped or ipaddress.IPv4Address(int(original) & 0xFFFFFFFF)
        fake = "::ffff:" + _fake_v4(rng, mapped)
    else:
        number = (0x20010DB8 << 96) | rng.below(1 << 96)
        fake_address = ipaddress.IPv6Address(number)
        groups = address.split(":")
        if "::" in address:
            fake = fake_address.compressed
        elif all(len(group) == 4 for group in groups):
            fake = fake_address.exploded
        else:
            fake = ":".join(group.lstrip("0") or "0" for group in fake_address.exploded.split(":"))
        letters = [char for char in address if char.isalpha()]
        if letters and all(char.isupper() for char in letters):
            fake = fake.upper()
    return f"{head}{open_}{fake}{percent}{zone}{close}{tail}"


# --- license plates --------------------------------------------------------------------------

PLATE_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
PLATE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # no I, no O
_PLATE_SUFFIXES = "学警挂领使港澳试超"


def fake_license_plate(value: str, rng: Rng, params: PseudonymParams) -> str | None:
    """Province character kept (``keep_region``), city letter and serial redrawn in the plate's
    own pattern: regular (5 serial characters, at most 2 letters), special suffix (学/警/挂...
    kept), new-energy small (D/F + letter/digit + 4 digits) or large (5 digits + D/F)."""
    text = aligned(value)
    positions = [i for i, char in enumerate(text) if (char.isascii() and char.isalnum()) or is_cjk(char)]
    core = "".join(text[i] for i in positions).upper()
    if len(core) not in (7, 8) or core[0] not in PLATE_PROVINCES or core[1] not in UPPER:
        return None
    province = core[0] if params.keep_region else rng.choice(PLATE_PROVINCES)
    city = rng.choice(PLATE_LETTERS)
    tail = core[2:]
    if len(core) == 8:
        if tail[-1] in "DF" and tail[:-1].isdigit():
            serial = rng.digits(5) + rng.choice("DF")
        else:
            serial = rng.choice("DF") + rng.choice(PLATE_LETTERS + DIGITS) + rng.digits(4)
    elif tail[-1] in _PLATE_SUFFIXES:
        serial = rng.digits(4) + tail[-1]
    else:
        chars = list(rng.digits(5))
        for _ in range(rng.below(3)):
            chars[rng.below(5)] = rng.choice(PLATE_LETTERS)
        serial = "".join(chars)
    fake = province + city + serial
    # write back in the original's case (plates are upper case; a lower-case input stays lower)
    if core != "".join(text[i] for i in positions):
        fake = "".join(f.lower() if text[p].islower() else f for f, p in zip(fake, positions, strict=True))
    return fill(value, positions, fake)


# --- names -----------------------------------------------------------------------------------

_LATIN_WORD = re.compile(r"[A-Za-z\u00c0-\u024f]+(?:['’\-][A-Za-z\u00c0-\u024f]+)*")
_DOT_CHARS = "·•・‧.\u00b7"


def _styled(word: str, like: str) -> str:
    if like.isupper() and len(like) > 1:
        return word.upper()
    if like.islower():
        return word.lower()
    return word


def fake_person(value: str, rng: Rng, params: PseudonymParams) -> str | None:
    """A Chinese name of the same length (surname + given name; 4 characters get a compound
    surname, names with a middle dot get transliteration characters), or an English name with
    the same number of words, initials and case."""
    text = aligned(value)
    positions = [i for i, char in enumerate(text) if is_cjk(char)]
    if positions:
        if any(not is_cjk(c) and not c.isspace() and c not in _DOT_CHARS for c in text):
            return None
        count = len(positions)
        if any(char in _DOT_CHARS for char in text):
            chars = transliteration_chars()
            return fill(value, positions, "".join(rng.choice(chars) for _ in range(count)))
        if count == 4:
            name = rng.choice(compound_surnames()) + rng.choice(given_chars()) + rng.choice(given_chars())
        else:
            name = rng.choice(surnames()) + "".join(rng.choice(given_chars()) for _ in range(count - 1))
        return fill(value, positions, name)
    words = list(_LATIN_WORD.finditer(text))
    if not words:
        return None
    out, last = [], 0
    for index, match in enumerate(words):
        word = match.group()
        if len(word) == 1:
            fake = rng.choice(UPPER)
        elif index == len(words) - 1 and len(words) > 1:
            fake = rng.choice(english_surnames())
        else:
            fake = rng.choice(english_given_names())
        out.append(value[last : match.start()])
        out.append(_styled(fake, word))
        last = match.end()
    out.append(value[last:])
    return "".join(out)


# --- addresses -------------------------------------------------------------------------------

_NOT_PLACE = r"区县市路街道号镇乡村巷弄栋幢楼室单元层"
_PREFIX = re.compile(
    rf"(?P<muni>(?:北京|上海|天津|重庆)市?)"
    rf"|(?P<prov>[^\W\d{_NOT_PLACE}]{{2,7}}?(?:省|自治区|特别行政区))?"
    rf"(?P<city>[^\W\d{_NOT_PLACE}]{{1,9}}?(?:市|自治州|地区|盟))?"
)
_PROVINCE_CITIES = (
    ("广东省", "深圳市"), ("广东省", "广州市"), ("浙江省", "杭州市"), ("江苏省", "南京市"),
    ("江苏省", "苏州市"), ("四川省", "成都市"), ("湖北省", "武汉市"), ("山东省", "青岛市"),
    ("福建省", "厦门市"), ("河南省", "郑州市"), ("湖南省", "长沙市"), ("陕西省", "西安市"),
)  # fmt: skip
_MUNICIPALITIES = ("北京市", "上海市", "天津市", "重庆市")
_DISTRICTS = (
    "新城区", "城东区", "城西区", "高新区", "经开区", "和平区", "长安区", "鼓楼区", "城关区", "开发区",
)  # fmt: skip
_TOWNS = ("城关镇", "新华镇", "东风镇", "太平镇", "永安镇", "长兴镇")
_SUBDISTRICTS = ("新华街道", "东风街道", "朝阳街道", "和平街道", "文化街道", "光明街道")
_ROADS = (
    "人民路", "解放路", "中山路", "建设路", "和平路", "新华路", "文化路", "胜利路", "光明路", "长江路",
    "黄河路", "友谊路", "青年路", "学府路", "科技路", "创业路", "东风路", "滨江大道", "迎宾大道", "幸福街",
)  # fmt: skip
_COMPOUNDS = ("阳光花园", "幸福家园", "锦绣小区", "翠苑小区", "金色家园", "华府公寓", "万和大厦", "香樟苑")
_LATIN_KEEP = frozenset(
    (
        "road", "rd", "street", "st", "avenue", "ave", "lane", "ln", "drive", "dr", "boulevard", "blvd",
        "way", "room", "rm", "unit", "apt", "apartment", "suite", "floor", "fl", "building", "bldg",
        "block", "blk", "tower", "no", "district", "city", "county", "province", "town", "village",
        "china", "prc", "east", "west", "north", "south",
    )
)  # fmt: skip
_LATIN_WORDS = ("Maple", "Cedar", "Oak", "Pine", "Elm", "Lake", "Hill", "Park", "River", "Garden", "Spring")
_DISTRICT = re.compile(rf"[^\W\d{_NOT_PLACE}]{{1,6}}?(?:新区|区|县|旗)")
_FEATURES = (
    ("town", re.compile(r"镇|乡")),
    ("subdistrict", re.compile(r"街道")),
    ("village", re.compile(r"村(?!委)")),
    ("road", re.compile(r"大道|路|街(?!道)|巷|弄|胡同")),
    ("number", re.compile(r"\d+号(?!楼)")),
    ("compound", re.compile(r"小区|花园|大厦|公寓|家园|苑|广场|大楼|中心")),
    ("building", re.compile(r"\d+(?:栋|幢|号楼|座)")),
    ("unit", re.compile(r"\d+单元")),
    ("floor", re.compile(r"\d+(?:层|楼)(?!\d)")),
    ("room", re.compile(r"\d+(?:室|房)|\d+-\d+(?:-\d+)?$|(?<!\d)\d{3,4}$")),
)


def _fake_prefix(rng: Rng, match: re.Match[str] | None) -> str:
    if match is None or not match.group():
        return ""
    if match.group("muni") or (match.group("city") and not match.group("prov")):
        pool = _MUNICIPALITIES + tuple(city for _, city in _PROVINCE_CITIES)
        return rng.choice(pool)
    province, city = _PROVINCE_CITIES[rng.below(len(_PROVINCE_CITIES))]
    return province + (city if match.group("city") else "")


def fake_address(value: str, rng: Rng, params: PseudonymParams) -> str | None:
    """Chinese: province/city prefix kept (``keep_city``), then fake parts at the same levels as
    the original (district, town/subdistrict, village, road + number, compound, building, unit,
    floor, room). Latin script: numbers and names redrawn, address words (Road, Room...) kept,
    the last comma-separated part (the city) kept with ``keep_city``."""
    text = nfkc_text(value).strip()
    if not any(is_cjk(char) for char in text):
        return _fake_latin_address(value, rng, params)
    match = _PREFIX.match(text)
    prefix = match.group() if match else ""
    rest = re.sub(r"\s+", "", text[len(prefix) :])
    if not params.keep_city or not rest:
        prefix = _fake_prefix(rng, match)
    parts = [prefix]
    district = _DISTRICT.match(rest)
    if district and not district.group().endswith(("小区", "社区", "园区", "景区", "校区")):
        parts.append(rng.choice(_DISTRICTS))
    found = {name for name, pattern in _FEATURES if pattern.search(rest)}
    if not found and rest and not district:
        found = {"road", "number"}
    if "town" in found:
        parts.append(rng.choice(_TOWNS))
    if "subdistrict" in found:
        parts.append(rng.choice(_SUBDISTRICTS))
    if "village" in found:
        parts.append(rng.choice(surnames()) + "家村")
    if "road" in found:
        parts.append(rng.choice(_ROADS))
    if "number" in found:
        parts.append(f"{1 + rng.below(300)}号")
    if "compound" in found:
        parts.append(rng.choice(_COMPOUNDS))
    if "building" in found:
        parts.append(f"{1 + rng.below(30)}栋")
    if "unit" in found:
        parts.append(f"{1 + rng.below(6)}单元")
    if "floor" in found:
        parts.append(f"{1 + rng.below(30)}层")
    if "room" in found:
        parts.append(f"{1 + rng.below(30)}{1 + rng.below(8):02d}室")
    return "".join(parts)


def _fake_latin_address(value: str, rng: Rng, params: PseudonymParams) -> str | None:
    keep_from = len(value)
    if params.keep_city and value.count(",") >= 1:
        keep_from = value.rindex(",")
    head = value[:keep_from]
    out, last = [], 0
    for match in re.finditer(r"\d+|[A-Za-z\u00c0-\u024f]+", head):
        token = match.group()
        out.append(head[last : match.start()])
        if token.isdigit():
            out.append(rng.choice("123456789") + rng.digits(len(token) - 1))
        elif token.lower() in _LATIN_KEEP:
            out.append(token)
        else:
            out.append(_styled(rng.choice(_LATIN_WORDS), token))
        last = match.end()
    out.append(head[last:])
    return "".join(out) + value[keep_from:]
