"""Values of the realistic corpus: structured numbers in every surface form, names, addresses, decoys.

Each ``make_*`` function takes a ``random.Random`` and a form name and returns ``(surface, canonical)``:
``surface`` is what is written into the text (spoken numerals, full-width digits, odd groupings...),
``canonical`` the plain value it stands for (ASCII digits, no separators, upper-case check character),
on which the checksum helpers of :mod:`stockade.privacy.corpus.checks` must pass. :func:`normalize`
turns a surface back into its canonical form, so tests can check the two agree.
"""

from __future__ import annotations

import random
import re

from stockade.privacy.corpus import checks
from stockade.privacy.corpus.realistic_pools import (
    CITIES,
    COMPOUND_STEMS,
    COMPOUND_SUFFIXES,
    COMPOUND_SURNAMES,
    COUNTIES,
    DEV_ZONES,
    GIVEN_CHARS,
    MONGOLIAN_NAMES,
    STREET_STEMS,
    STREET_SUFFIXES,
    SURNAMES,
    TIBETAN_NAMES,
    TOWER_STEMS,
    TOWER_SUFFIXES,
    TOWN_STEMS,
    UYGHUR_GIVEN,
    VILLAGE_STEMS,
    words,
)

FORMS: dict[str, tuple[str, ...]] = {
    "id_card": ("plain", "lower_x", "groups4", "g6_8_4", "spoken", "fullwidth", "pause_grouped"),
    "mobile": ("plain", "plus86", "g3_4_4", "pause_grouped", "spoken", "fullwidth", "irregular"),
    "bank_card": ("plain", "groups4", "irregular", "spoken", "fullwidth"),
    "landline": ("hyphen", "paren", "extension"),
    "uscc": ("upper", "lower_check"),
    "license_plate": ("plain", "new_energy", "lower"),
    "email": ("plain",),
    "ipv4": ("plain",),
    "ipv6": ("full", "compressed"),
    "passport": ("context",),
    "hk_macao_permit": ("context",),
    "person": (
        "trigger2",
        "trigger3",
        "bare2",
        "bare3",
        "mou",
        "honorific",
        "list",
        "compound",
        "tibetan",
        "uyghur",
        "mongolian",
        "romanised_label",
        "romanised_echo",
    ),
    "address": (
        "road_number",
        "building_room",
        "compound_unit",
        "tower_floor",
        "zone_block",
        "village_group",
        "dev_zone",
        "spoken_number",
        "latin",  # abroad, in Latin letters: a wire instruction's beneficiary (not in Chinese text)
    ),
}
#: The address forms written in Chinese, for any record.
CHINESE_ADDRESS_FORMS: tuple[str, ...] = tuple(f for f in FORMS["address"] if f != "latin")
DECOY_KINDS: tuple[str, ...] = (
    "amount",
    "date",
    "time",
    "order_no",
    "bad_id",
    "branch_no",
    "hotline",
    "txn_ref",
    "rate",
    "product_code",
    "version",
    "word",
    "place",
    "org",
    "swift",
    "word",  # a common word holding a surname character (黄瓜, 母亲, 时发送): planted by the templates
)

FULLWIDTH_SPACE = "\u3000"
_DIGIT_ZH = "零一二三四五六七八九"
_SPOKEN_TO_DIGIT = {**{c: str(i) for i, c in enumerate(_DIGIT_ZH)}, "〇": "0", "幺": "1", "叉": "X"}
_FULLWIDTH_TO_ASCII = {chr(0xFF10 + i): str(i) for i in range(10)} | {"Ｘ": "X", "ｘ": "X"}


def normalize(surface: str) -> str:
    """The canonical value a numeric surface stands for: ASCII digits, upper-case ``X``, no separators,
    no ``+86``/``0086`` prefix, no extension."""
    text = surface.split("转")[0]
    text = "".join(_FULLWIDTH_TO_ASCII.get(c, _SPOKEN_TO_DIGIT.get(c, c)) for c in text)
    text = re.sub(r"^(?:\+86|0086)", "", re.sub(r"[\s,，、.·()（）\-]", "", text))
    return text.upper()


def _fullwidth(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if c.isascii() and c.isalnum() else c for c in text)


def _spoken(r: random.Random, digits: str, *, prefer_yao: bool) -> str:
    one = "幺" if prefer_yao and r.random() < 0.8 else r.choice("一一幺")
    zero = r.choice("零零〇")
    mixed = r.random() < 0.15  # some speakers switch between 一 and 幺 within one number
    out = []
    for c in digits:
        if c == "1":
            out.append(r.choice("一幺") if mixed else one)
        elif c == "0":
            out.append(zero)
        elif c in "Xx":
            out.append(r.choice(("X", "叉", "x")))
        else:
            out.append(_DIGIT_ZH[int(c)])
    return "".join(out)


def _group(digits: str, sizes: list[int], sep: str) -> str:
    parts, at = [], 0
    for size in sizes:
        if at >= len(digits):
            break
        parts.append(digits[at : at + size])
        at += size
    if at < len(digits):
        parts.append(digits[at:])
    return sep.join(parts)


def _random_chunks(r: random.Random, n: int, low: int, high: int) -> list[int]:
    sizes, total = [], 0
    while total < n:
        size = r.randint(low, high)
        sizes.append(size)
        total += size
    return sizes


# ---------------------------------------------------------------- structured values


def id_number(r: random.Random, *, want_x: bool = False) -> str:
    """A valid 18-digit resident ID (GB 11643): region, birth date, sequence, check character."""
    while True:
        province = r.choice(sorted(checks.PROVINCE_CODES - {"71", "81", "82"}))
        region = f"{province}{r.randint(1, 20):02d}{r.randint(1, 30):02d}"
        birth = f"{r.randint(1950, 2004)}{r.randint(1, 12):02d}{r.randint(1, 28):02d}"
        body = f"{region}{birth}{r.randint(0, 999):03d}"
        check = checks.id_check_char(body)
        if want_x and check != "X":
            continue
        return body + check


def make_id_card(r: random.Random, form: str) -> tuple[str, str]:
    value = id_number(r, want_x=form == "lower_x" or r.random() < 0.1)
    if form == "plain":
        surface = value
    elif form == "lower_x":
        surface = value[:17] + "x"
    elif form == "groups4":
        surface = _group(value, [4] * 4, " ")
    elif form == "g6_8_4":
        surface = _group(value, [6, 8], r.choice((" ", "-", " ")))
    elif form == "spoken":
        surface = _spoken(r, value, prefer_yao=r.random() < 0.4)
        if r.random() < 0.3:
            surface = _group(surface, [6, 8], "，")
    elif form == "fullwidth":
        surface = _group(_fullwidth(value), r.choice(([6, 8], [3, 3, 4, 4], [18])), FULLWIDTH_SPACE)
    elif form == "pause_grouped":
        surface = _group(value, r.choice(([6, 8], [6, 4, 4], [3, 3, 4, 4, 4])), r.choice("，、,"))
    else:
        raise ValueError(form)
    if form != "lower_x" and value.endswith("X") and r.random() < 0.3:
        surface = surface[:-1] + ("ｘ" if form == "fullwidth" else "x")
    return surface, value


MOBILE_PREFIXES = words(
    "130 131 132 133 134 135 136 137 138 139 145 147 150 151 152 153 155 156 157 158 159 166 "
    "173 175 176 177 178 180 181 182 183 184 185 186 187 188 189 191 193 195 198 199"
)


def mobile_number(r: random.Random) -> str:
    value = r.choice(MOBILE_PREFIXES) + f"{r.randint(0, 99_999_999):08d}"
    assert checks.MOBILE_RE.fullmatch(value), value
    return value


def make_mobile(r: random.Random, form: str) -> tuple[str, str]:
    value = mobile_number(r)
    if form in ("plain", "plus86"):
        surface = value
    elif form == "g3_4_4":
        surface = _group(value, [3, 4], r.choice((" ", "-")))
    elif form == "pause_grouped":
        surface = _group(value, [3, 4], r.choice(("，", ",", "、", "，")))
    elif form == "spoken":
        surface = _spoken(r, value, prefer_yao=True)
        if r.random() < 0.3:
            surface = _group(surface, [3, 4], r.choice(("，", " ")))
    elif form == "fullwidth":
        surface = _fullwidth(value)
        if r.random() < 0.5:
            surface = _group(surface, [3, 4], FULLWIDTH_SPACE)
    elif form == "irregular":
        surface = _group(value, r.choice(([4, 3], [3, 3, 3], [2, 4, 3], [5, 3], [3, 5])), " ")
    else:
        raise ValueError(form)
    return surface, value


CARD_BINS = (
    ("621226", 19),
    ("622202", 19),
    ("622848", 19),
    ("621700", 19),
    ("623668", 19),
    ("621661", 19),
    ("622588", 16),
    ("622700", 19),
    ("625911", 16),
    ("622575", 16),
    ("621483", 16),
    ("622260", 19),
    ("620522", 19),
    ("621799", 19),
    ("623058", 19),
    ("622609", 16),
    ("436742", 16),
    ("518710", 16),
    ("628288", 17),
    ("621098", 18),
)


def card_number(r: random.Random) -> str:
    prefix, length = r.choice(CARD_BINS)
    body = prefix + "".join(str(r.randint(0, 9)) for _ in range(length - len(prefix) - 1))
    return body + checks.luhn_check_digit(body)


def make_bank_card(r: random.Random, form: str) -> tuple[str, str]:
    value = card_number(r)
    if form == "plain":
        surface = value
    elif form == "groups4":
        surface = _group(value, [4] * 4, r.choice((" ", " ", " ", "-")))
    elif form == "irregular":
        if r.random() < 0.5:
            sizes = [3, 6, 3] if len(value) == 16 else r.choice(([6, 6, 3], [3, 6, 6], [6, 3]))
        else:
            sizes = _random_chunks(r, len(value), 3, 6)
        surface = _group(value, sizes, " ")
    elif form == "spoken":
        surface = _spoken(r, value, prefer_yao=r.random() < 0.5)
        if r.random() < 0.4:
            surface = _group(surface, [4] * 4, r.choice(("，", " ")))
    elif form == "fullwidth":
        surface = _fullwidth(value)
        if r.random() < 0.6:
            surface = _group(surface, [4] * 4, FULLWIDTH_SPACE)
    else:
        raise ValueError(form)
    return surface, value


AREA_CODES = words(
    "010 021 022 023 020 024 025 027 028 029 0571 0755 0512 0531 0532 0591 0592 0731 0871 0351 0371 "
    "0451 0431 0551 0574 0577 0769 0757 0991 0891"
)


def make_landline(r: random.Random, form: str) -> tuple[str, str]:
    """Gold runs from the first digit of the area code to the last digit of the subscriber number
    (an opening parenthesis before it and an extension after it are outside)."""
    area = r.choice(AREA_CODES)
    length = 8 if len(area) == 3 or r.random() < 0.7 else 7
    number = str(r.randint(2, 8)) + "".join(str(r.randint(0, 9)) for _ in range(length - 1))
    value = area + number
    if form in ("hyphen", "extension"):
        surface = f"{area}-{number}"
    elif form == "paren":
        surface = area + r.choice((")", "）", ") ")) + number
    else:
        raise ValueError(form)
    return surface, value


def make_uscc(r: random.Random, form: str) -> tuple[str, str]:
    while True:
        head = r.choice(("91", "91", "91", "92", "93", "12", "52"))
        region = f"{r.choice(sorted(checks.PROVINCE_CODES - {'71', '81', '82'}))}{r.randint(1, 20):02d}"
        region += f"{r.randint(0, 30):02d}"
        org_body = "".join(r.choice(checks.USCC_ALPHABET[:10] + "ABCDEFGHJKLMNPQRTUWXY") for _ in range(8))
        org = org_body + checks.org_code_check(org_body)
        first17 = head + region + org
        if not all(c in checks.USCC_ALPHABET for c in first17):
            continue
        value = first17 + checks.uscc_check_char(first17)
        if form == "lower_check" and not value[-1].isalpha():
            continue
        break
    surface = value[:-1] + value[-1].lower() if form == "lower_check" else value
    return surface, value


def make_plate(r: random.Random, form: str) -> tuple[str, str]:
    province = r.choice(checks.PLATE_PROVINCES)
    letter = r.choice(checks.PLATE_LETTERS)
    if form == "new_energy":
        tail = r.choice("DF") + "".join(str(r.randint(0, 9)) for _ in range(5))
    else:
        tail = "".join(str(r.randint(0, 9)) for _ in range(5))
        if r.random() < 0.4:
            at = r.randint(0, 4)
            tail = tail[:at] + r.choice(checks.PLATE_LETTERS) + tail[at + 1 :]
    value = province + letter + tail
    if form == "lower":
        return province + letter.lower() + tail.lower(), value
    return value, value


EMAIL_DOMAINS = words(
    "qq.com 163.com 126.com sina.com foxmail.com gmail.com hotmail.com outlook.com 139.com yeah.net "
    "sohu.com aliyun.com icloud.com"
)


def make_email(r: random.Random, pinyin: list[str]) -> str:
    surname, given = pinyin[0], "".join(pinyin[1:])
    local = r.choice(
        (
            f"{surname}{given}",
            f"{given}.{surname}",
            f"{surname}_{given}{r.randint(1, 99)}",
            f"{surname[0]}{given}{r.randint(1970, 2005)}",
            str(r.randint(100_000_000, 2_999_999_999)),
            f"{surname}.{given}",
        )
    )
    domain = (
        r.choice(EMAIL_DOMAINS) if r.random() < 0.8 else f"{r.choice(('hx', 'zt', 'jx', 'hd'))}corp.com.cn"
    )
    return f"{local}@{domain}"


def make_ipv4(r: random.Random) -> str:
    head = r.choice(
        ((10,), (192, 168), (172, r.randint(16, 31)), (r.choice((58, 61, 101, 114, 116, 183, 223)),))
    )
    parts = list(head) + [r.randint(1, 254) for _ in range(4 - len(head))]
    return ".".join(map(str, parts))


def make_ipv6(r: random.Random, form: str) -> str:
    prefix = r.choice(("240e", "2408", "2409", "2001:da8", "240a"))
    groups = prefix.split(":")
    while len(groups) < 4:
        groups.append(f"{r.randint(0x100, 0xFFFF):x}")
    if form == "full":
        groups += [f"{r.randint(0, 0xFFFF):04x}" for _ in range(4)]
        return ":".join(g.zfill(4) if r.random() < 0.5 else g for g in groups)
    tail = [f"{r.randint(1, 0xFFF):x}" for _ in range(r.randint(1, 2))]
    return ":".join(groups[: r.randint(2, 4)]) + "::" + ":".join(tail)


def make_passport(r: random.Random) -> str:
    return "E" + f"{r.randint(0, 99_999_999):08d}"


def make_permit(r: random.Random) -> str:
    return "C" + f"{r.randint(0, 99_999_999):08d}"


# ---------------------------------------------------------------- names


def given_name(r: random.Random, length: int) -> tuple[str, list[str]]:
    chars = r.sample(sorted(GIVEN_CHARS), length)
    return "".join(chars), [GIVEN_CHARS[c] for c in chars]


def chinese_name(r: random.Random, length: int, *, compound: bool = False) -> tuple[str, list[str]]:
    """A Han name of ``length`` characters in all; returns (name, [surname pinyin, given pinyin...])."""
    pool = COMPOUND_SURNAMES if compound else SURNAMES
    surname = r.choice(sorted(pool))
    given, given_py = given_name(r, length - len(surname))
    return surname + given, [pool[surname], *given_py]


def minority_name(r: random.Random, form: str) -> str:
    if form == "tibetan":
        first = r.choice(TIBETAN_NAMES)
        if r.random() < 0.5:
            return first
        return first + r.choice([n for n in TIBETAN_NAMES if n != first])
    if form == "uyghur":
        first = r.choice(UYGHUR_GIVEN)
        return first + "·" + r.choice([n for n in UYGHUR_GIVEN if n != first])
    if form == "mongolian":
        return r.choice(MONGOLIAN_NAMES)
    raise ValueError(form)


def romanise(r: random.Random, pinyin: list[str]) -> str:
    """``["luo", "xiao", "ming"]`` as a bank clerk would type it: LUO XIAOMING, Luo Xiaoming, WANG Fang..."""
    surname, given = pinyin[0], "".join(pinyin[1:])
    style = r.choice(("upper", "upper", "title", "surname_upper", "given_first"))
    if style == "upper":
        return f"{surname.upper()} {given.upper()}"
    if style == "title":
        return f"{surname.title()} {given.title()}"
    if style == "surname_upper":
        return f"{surname.upper()} {given.title()}"
    return f"{given.title()} {surname.title()}"


# ---------------------------------------------------------------- addresses

_ZH_TENS = "零一二三四五六七八九"


def spoken_number(n: int) -> str:
    """1-999 as read aloud: 123 -> 一百二十三, 15 -> 十五, 208 -> 二百零八."""
    hundreds, tens, ones = n // 100, n // 10 % 10, n % 10
    out = ""
    if hundreds:
        out += _ZH_TENS[hundreds] + "百"
        if tens == 0 and ones:
            return out + "零" + _ZH_TENS[ones]
    if tens:
        out += ("" if tens == 1 and not hundreds else _ZH_TENS[tens]) + "十"
    if ones:
        out += _ZH_TENS[ones]
    return out


def spoken_digits(n: int) -> str:
    """502 -> 五零二 (room numbers are read digit by digit)."""
    return "".join(_ZH_TENS[int(c)] for c in str(n))


def _city_prefix(r: random.Random) -> tuple[str, str]:
    prov, city, districts = r.choice(CITIES)
    with_prov = prov and r.random() < 0.7
    return (prov if with_prov else "") + city + r.choice(districts), city


def street(r: random.Random) -> str:
    return r.choice(STREET_STEMS) + r.choice(STREET_SUFFIXES)


def compound_name(r: random.Random) -> str:
    return r.choice(COMPOUND_STEMS) + r.choice(COMPOUND_SUFFIXES)


def _room(r: random.Random) -> int:
    return r.randint(1, 32) * 100 + r.randint(1, 8)


_LATIN_UNITS = ("Room", "Flat", "Unit", "Apt", "Suite", "RM", "FLAT")
_LATIN_STREETS = (
    "Nathan", "Queen's", "Des Voeux", "Orchard", "Collins", "Oxford", "Baker", "Lockhart", "Harbour",
    "King's", "Victoria", "Bloor", "Granville", "George", "Pitt", "Lonsdale",
)  # fmt: skip
_LATIN_STREET_KINDS = ("Road", "Street", "Avenue", "Rd", "St.", "Ave")
_LATIN_CITIES = (
    "Kowloon, Hong Kong", "Central, Hong Kong SAR", "Singapore 238801", "Melbourne VIC 3000",
    "London W1U 6AG", "Toronto ON M5V 2T6", "Sydney NSW 2000", "Vancouver BC V6B 1A1", "Macau",
)  # fmt: skip


def _latin_address(r: random.Random) -> str:
    unit = f"{r.choice(_LATIN_UNITS)} {r.randint(1, 40)}{r.choice(('', 'A', 'B', 'C', 'F'))}"
    floor = f"{r.randint(2, 60)}/F, " if r.random() < 0.4 else ""
    road = f"{r.randint(1, 999)} {r.choice(_LATIN_STREETS)} {r.choice(_LATIN_STREET_KINDS)}"
    return f"{unit}, {floor}{road}, {r.choice(_LATIN_CITIES)}"


def make_address(r: random.Random, form: str) -> str:
    """An address from province/city to its last digit (or 号/室/组/幢 after it); ``latin``: one abroad,
    from the flat to the city."""
    if form == "latin":
        return _latin_address(r)
    head, _ = _city_prefix(r)
    number = f"{r.randint(1, 999)}号"
    if form == "road_number":
        return head + street(r) + number
    if form == "building_room":
        building = r.choice(TOWER_STEMS) + r.choice(TOWER_SUFFIXES)
        return head + street(r) + number + building + f"{r.choice('ABCDE')}座{_room(r)}室"
    if form == "compound_unit":
        tail = r.choice(
            (
                f"{r.randint(1, 40)}栋{r.randint(1, 6)}单元{_room(r)}室",
                f"{r.randint(1, 40)}号楼{r.randint(1, 6)}单元{_room(r)}",
                f"{r.randint(1, 40)}幢{_room(r)}室",
                f"{r.randint(1, 30)}-{r.randint(1, 6)}-{_room(r)}",
            )
        )
        road = street(r) + number if r.random() < 0.5 else ""
        return head + road + compound_name(r) + tail
    if form == "tower_floor":
        floor = r.randint(2, 45)
        building = r.choice(TOWER_STEMS) + r.choice(TOWER_SUFFIXES)
        return head + street(r) + number + building + f"{floor}层{floor}{r.randint(1, 20):02d}室"
    if form == "zone_block":
        zone = r.choice(COMPOUND_STEMS) + spoken_number(r.randint(1, 9)) + "区"
        return head + zone + f"{r.randint(1, 60)}幢" + (f"{_room(r)}室" if r.random() < 0.5 else "")
    if form == "village_group":
        prov, city, county = r.choice(COUNTIES)
        town = r.choice(TOWN_STEMS) + r.choice("镇镇乡")
        village = r.choice(VILLAGE_STEMS) + "村"
        tail = f"{r.randint(1, 12)}组" + (f"{r.randint(1, 99)}号" if r.random() < 0.5 else "")
        return prov + city + county + (town if r.random() < 0.6 else "") + village + tail
    if form == "dev_zone":
        prov, city, zone = r.choice(DEV_ZONES)
        lead = (prov if prov and r.random() < 0.5 else "") + (city if city[:2] not in zone else "")
        return lead + zone + street(r) + number
    if form == "spoken_number":
        tail = r.choice(
            (
                f"{spoken_number(r.randint(1, 399))}号",
                f"{r.randint(1, 399)}号{compound_name(r)}{spoken_number(r.randint(1, 30))}栋"
                f"{spoken_number(r.randint(1, 6))}单元{spoken_digits(_room(r))}室",
            )
        )
        return head + street(r) + tail
    raise ValueError(form)


# ---------------------------------------------------------------- decoys

HOTLINES = words("95588 95533 95599 95566 95555 95528 95595 95559 95568 95561")
ORGS = (
    "中国工商银行北京分行",
    "招商银行深圳分行",
    "中国建设银行上海市分行",
    "交通银行杭州分行营业部",
    "中国银行股份有限公司苏州分行",
    "中国农业银行广州天河支行",
    "浦发银行南京分行",
    "兴业银行福州分行",
    "中信银行成都分行",
    "平安银行武汉分行",
)
PLACES = words("孟买 伦敦 纽约 新加坡 东京 法兰克福 迪拜 悉尼 首尔 多伦多")
SWIFT = words("ICBKCNBJ BKCHCNBJ PCBCCNBJ ABOCCNBJ COMMCNSH CMBCCNBS SPDBCNSH HSBCHKHH")


def _digits(r: random.Random, n: int) -> str:
    return "".join(str(r.randint(0, 9)) for _ in range(n))


def _date_digits(r: random.Random) -> str:
    return f"{r.randint(2019, 2025)}{r.randint(1, 12):02d}{r.randint(1, 28):02d}"


def make_decoy(r: random.Random, kind: str) -> str:
    """A look-alike that is not personal data; numeric ones never pass a validator (regenerated)."""
    while True:
        value = _decoy_once(r, kind)
        if checks.looks_like_pii(value) is None:
            return value


def _decoy_once(r: random.Random, kind: str) -> str:
    if kind == "amount":
        yuan = r.randint(100, 9_999_999)
        return r.choice(
            (
                f"{yuan:,}.{r.randint(0, 99):02d}元",
                f"¥{yuan:,}.00",
                f"人民币{yuan:,}元",
                f"{r.randint(1, 500)}万元",
                f"USD {yuan:,}.{r.randint(0, 99):02d}",
            )
        )
    if kind == "date":
        y, m, d = r.randint(2019, 2025), r.randint(1, 12), r.randint(1, 28)
        return r.choice((f"{y}年{m}月{d}日", f"{y}-{m:02d}-{d:02d}", f"{y}/{m:02d}/{d:02d}", f"{m}月{d}日"))
    if kind == "time":
        h, mi, s = r.randint(0, 23), r.randint(0, 59), r.randint(0, 59)
        return r.choice((f"{h:02d}:{mi:02d}:{s:02d}", f"{h:02d}:{mi:02d}", f"下午{r.randint(1, 5)}点{mi}分"))
    if kind == "order_no":
        while True:
            value = _date_digits(r) + _digits(r, r.randint(8, 11))
            if not checks.luhn_valid(value):
                return value
    if kind == "bad_id":
        good = id_number(r)
        wrong = r.choice([c for c in "0123456789X" if c != good[-1]])
        return good[:17] + wrong
    if kind == "branch_no":
        return r.choice((_digits(r, 4), _digits(r, 5), _digits(r, 6), _digits(r, 5), "1" + _digits(r, 11)))
    if kind == "hotline":
        return r.choice(
            (
                r.choice(HOTLINES),
                f"400-{r.randint(100, 999)}-{r.randint(1000, 9999)}",
                f"400 {r.randint(100, 999)} {r.randint(1000, 9999)}",
                f"800-{r.randint(100, 999)}-{r.randint(1000, 9999)}",
            )
        )
    if kind == "txn_ref":
        return r.choice(
            (
                f"FT{r.randint(20, 25)}{r.randint(1, 365):03d}"
                + "".join(r.choices(checks.PLATE_LETTERS, k=4)),
                f"TRN{_date_digits(r)}{_digits(r, 6)}",
                f"HX{_date_digits(r)}{_digits(r, 8)}",
                f"{_date_digits(r)}{_digits(r, 6)}",
            )
        )
    if kind == "rate":
        return r.choice(
            (
                f"{r.randint(2, 6)}.{r.randint(0, 99):02d}%",
                f"{r.randint(1, 9)}.{r.randint(0, 9)}‰",
                "LPR+50BP",
            )
        )
    if kind == "product_code":
        return r.choice(
            (
                f"ZH{r.randint(2001, 2599)}{r.choice('ABCD')}",
                f"GS{_digits(r, 5)}",
                f"{r.choice(('SY', 'JX', 'TL'))}-{r.randint(2020, 2025)}-{_digits(r, 3)}",
                _digits(r, 6),
            )
        )
    if kind == "version":
        return r.choice(
            (
                f"{r.randint(1, 12)}.{r.randint(0, 9)}.{r.randint(0, 30)}",
                f"v{r.randint(1, 9)}.{r.randint(0, 9)}",
            )
        )
    if kind == "place":
        return r.choice(PLACES)
    if kind == "org":
        return r.choice(ORGS)
    if kind == "swift":
        code = r.choice(SWIFT)
        return code + ("XXX" if r.random() < 0.5 else "")
    raise ValueError(kind)
