"""Postal addresses (地址) from a small gazetteer and the grammar of Chinese addresses.

A Chinese address runs from large to small::

    [province] [city] [district/county] [town/街道] [road/村/小区 ...] [number 号] [栋 单元 层 室]
    北京市      朝阳区                    建国路         88号  SOHO现代城 3栋 1201室

Three kinds of anchors start a match, all found in one regex scan of the text:

1. a house number (``88号``, ``100弄``, ``3栋``): the address is grown *leftwards* from it by
   matching a reversed grammar on the reversed text before it (so greedy quantifiers extend
   to the left), then rightwards over building/unit/room parts. A road, village or division
   must precede the number ("5号文件", "3月15号" are not addresses);
2. a context word (地址, 住址, 家住, 居住于...): the grammar is matched forwards after it and may
   stop at any level ("家住北京市朝阳区");
3. a gazetteer city/province followed by a district and a road ("上海市浦东新区世纪大道"),
   even with no number.

Place-name parts are runs of ideographs that exclude level suffixes (省 市 区 县 路 号...) and
function characters (的 在 是 于 住 址...), which keeps matches from swallowing the sentence.
The gazetteer (resources/divisions.txt) lists province-level divisions and prefecture-level
cities; districts, towns and roads are recognised by their suffixes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from stockade.privacy.detectors._base import (
    CJK,
    DETECTORS,
    cjk_class_without,
    fold_fullwidth,
    literal_alternation,
    load_table,
)
from stockade.privacy.spans import PiiType, Span

_ETHNIC = (
    "维吾尔", "朝鲜", "土家", "苗", "侗", "布依", "彝", "哈尼", "壮", "傣", "白", "景颇", "傈僳", "藏",
    "羌", "回", "蒙古", "柯尔克孜", "哈萨克",
)  # fmt: skip
_DIVISION_SUFFIXES = ("特别行政区", "自治区", "自治州", "地区", "新区", "省", "市", "盟")


def _short_name(full: str) -> str:
    name = full
    for suffix in _DIVISION_SUFFIXES:
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    stripped = True
    while stripped:
        stripped = False
        for group in _ETHNIC:
            if name.endswith(group + "族") and len(name) > len(group) + 2:
                name = name[: -len(group) - 1]
                stripped = True
        for group in ("维吾尔",):
            if name.endswith(group) and len(name) > len(group) + 1:
                name = name[: -len(group)]
                stripped = True
    return name


def _division_names(kind: str) -> list[str]:
    names: list[str] = []
    for row in load_table("divisions.txt"):
        if row[0] != kind:
            continue
        for full in row[1:]:
            names.append(full)
            short = _short_name(full)
            if len(short) >= 2 and short != full:
                names.append(short)
    return names


PROVINCES: tuple[str, ...] = tuple(dict.fromkeys(_division_names("P")))
CITIES: tuple[str, ...] = tuple(dict.fromkeys(_division_names("C")))

# Characters that end a place name in running text: they start the words before an address
# ("家住", "位于", "寄至", "走访", "地址为"). Common place-name characters (和 平 年 时 万 都 会 家)
# are deliberately absent.
_FUNCTION = (
    "的了在是我你他她们到把被从向对将请于为着过这那但而址住寄访称要需您已曾让给叫由按因所以及与或并且就至往"
)
# Level suffixes: a name part stops at them, so each level is parsed separately.
_LEVEL = "省市区县镇乡村路街巷弄号"  # not 旗 (a banner, but also 红旗村)
_P = cjk_class_without(_FUNCTION + _LEVEL)  # a place-name character
_PN = _P + "0-9"  # ... or a digit (村 groups, numbered lanes)
_PB = cjk_class_without(_FUNCTION) + "A-Za-z"  # building names: any level character too


def _rev(s: str) -> str:
    return s[::-1]


def _rev_alt(words: Iterable[str]) -> str:
    return literal_alternation(_rev(w) for w in words)


def _guarded(words: Iterable[str]) -> str:
    """A group matching any of ``words`` (longest first), behind a class of their first characters.

    Same matches as the bare alternation, only faster where it fails: ``re`` tries the top-level
    branches of a trie one by one (about 250 for the gazetteer), a class in one step.
    """
    words = tuple(words)
    first = "".join(sorted({re.escape(w[0]) for w in words if w}))
    return f"(?:(?=[{first}])(?:{literal_alternation(words)}))"


_LOW_STRONG = ("大道", "大街", "胡同", "路", "街", "巷", "道", "弄", "村", "社区", "里", "组", "屯", "段")
_LOW_WEAK = (
    "小区", "花园", "公寓", "大厦", "广场", "家园", "新村", "苑", "园", "城", "中心", "庄", "坊", "湾",
    "华庭", "庭", "府", "公馆", "名邸", "佳园", "雅苑", "一区", "二区", "三区", "四区", "五区", "六区",
)  # fmt: skip
_LOW = _LOW_STRONG + _LOW_WEAK
_ESTATE_SUFFIX = (
    "大厦", "广场", "中心", "花园", "小区", "公寓", "家园", "大楼", "园区", "园", "城", "苑", "院",
    "府", "邸", "新村", "华庭", "公馆", "山庄", "湾",
)  # fmt: skip
_DIST_SUFFIX = ("新区", "自治县", "自治旗", "区", "县", "市", "旗")
#: District names that contain a level character themselves.
_DIST_SPECIAL = (
    "市中区", "市南区", "市北区", "城区", "郊区", "矿区", "县城", "新市区", "市辖区", "东城区", "西城区",
)  # fmt: skip
#: Development zones and parks, which stand where a district does (合肥高新技术产业开发区).
_ZONES = (
    "高新技术产业开发区", "经济技术开发区", "经济开发区", "高新区", "开发区", "工业园区", "产业园区",
    "工业园", "保税区", "综合保税区", "保税港区", "出口加工区", "新区", "科技园", "软件园",
    "实验区", "试验区", "自由贸易试验区", "自由贸易区", "自贸区", "示范区", "合作区", "新片区",
)  # fmt: skip
#: The most characters of a zone's own name (东湖新技术 of 武汉东湖新技术开发区, 前海深港现代服务业 of
#: 深圳前海深港现代服务业合作区). Grown back from a house number, such a name must follow a division, a
#: zone or a district (上海自由贸易试验区|临港新片区); after a context word it stands where a district may.
_ZONE_NAME_MAX = 10
_TOWN_SUFFIX = ("街道", "镇", "乡")
#: A town's own name: place-name characters, and 村, 路 or 市 after the first (丁村镇, 王村镇: towns
#: named after a village; 湖南路街道: a street office named after its road; 柳市镇, 新市镇); not a
#: 村镇银行 (a rural bank: 长兴联合村镇银行), whose 镇 the grammars skip.
_TOWN_NAME = f"[{_P}][{_P}村路市]{{0,4}}"
_TOWN_NAME_REV = f"[{_P}村路市]{{0,4}}[{_P}]"  # (reversed)
_CITY_SUFFIX = ("自治州", "地区", "市", "盟")
_STRONG_CHARS = frozenset("路街巷道弄村里组屯胡段")
_GAZ = PROVINCES + CITIES
_GAZ_FWD = _guarded(_GAZ)  # a gazetteer name, as a group
_GAZ_REV = _guarded(_rev(w) for w in _GAZ)  # ... reversed

# --- the reversed grammar, matched on text[::-1] from just before a house number ------------
# District levels may not start where a gazetteer name matches: "北京市" is a city, not a
# county-level "市" named "北京", which matters when junk precedes it.
_BACK_RE = re.compile(
    f"(?P<low>(?:(?:{_rev_alt(_LOW)})[{_PN}]{{1,6}}){{0,3}})"
    f"(?P<town>(?:{_rev_alt(_TOWN_SUFFIX)})(?<!行银镇){_TOWN_NAME_REV})?"
    f"(?P<dist>(?:(?:{_rev_alt(_ZONES)})(?:家国)?"
    f"(?:[{_P}]{{1,{_ZONE_NAME_MAX}}}(?={_GAZ_REV}|{_rev_alt(_ZONES)}|{_rev_alt(_DIST_SUFFIX)}))?"
    # right after a city: any name, before the districts with a level character in their name (城区
    # would otherwise take 城区 of 绍兴市越城区 and lose 越 and the city)
    f"|(?:{_rev_alt(_DIST_SUFFIX)})[{CJK}]{{1,4}}?(?={_GAZ_REV})"
    f"|{_rev_alt(_DIST_SPECIAL)}"
    f"|(?!{_GAZ_REV})(?:{_rev_alt(_DIST_SUFFIX)})[{_P}]{{1,4}}){{0,2}})"
    f"(?P<gaz>{_GAZ_REV}{{0,2}})"
    f"(?P<city>(?:{_rev_alt(_CITY_SUFFIX)})[{_P}]{{2,4}})?"
)

# --- the forward grammar, after a context word or a gazetteer city --------------------------
_HOUSE = (
    r"(?:[甲乙丙丁]?[0-9]{1,6}(?:[-－—][0-9]{1,5})?(?:号楼|号院|号|弄|栋|幢|座|单元)"
    r"|[0-9]{1,4}[-－—][0-9]{1,3}[-－—][0-9]{2,5}(?![0-9A-Za-z]))"  # 25-6-3101: building-unit-room
)
_ESTATE = r"[A-Za-z" + _PB + r"]{1,8}?(?:" + "|".join(_ESTATE_SUFFIX) + r")"
_ESTATE_NUMBERS = (
    r"(?:[A-Za-z]?[0-9]{1,4}(?:[-－—][0-9]{1,4}){1,2}(?![0-9A-Za-z])"  # 19-1-2405, B2-1802 (tower B)
    r"|[0-9]{1,4}(?:号楼|栋|幢|座)(?:[0-9]{1,2}单元)?(?:[0-9]{1,2}层)?(?:[0-9]{2,5}室?)?"
    r"|[0-9]{1,3}[Ff](?![0-9A-Za-z]))"  # a floor written 45F
)
_UNIT = (
    r"(?:[-－—]?[" + _PB + r"]{0,10}?"
    r"(?:[0-9]{1,5}|[A-Za-z]|[一二三四五六七八九十]{1,3})"
    r"(?:号楼|号院|号|栋|幢|座|单元|层|楼|室|户|房|门|弄|期|区|排))*"
    r"(?:(?:(?<=单元)|(?<=[栋幢座楼]))[-－—]?[0-9]{2,5}(?![0-9A-Za-z]))?"
    # a named estate or building, with its building, unit and room numbers where they follow
    # ("...佳园19-1-2405", "...华府雅苑8-3-3108": the numbers decide where the name ends, so the
    # name with numbers is tried first) or none ("...90号东部软件园")
    r"(?:(?<=[号室层楼院])(?:" + _ESTATE + _ESTATE_NUMBERS + "|" + _ESTATE + "))?"
)
#: A building known by its name alone, then its tower and room, where no road and number come first
#: (…朝阳区望京SOHO T3 A座1502室, …国贸三期B座2501, …科技园南区R2-B栋502): a room of three to five
#: digits ends it.
_BUILDING_ROOM = r"[" + _PB + r"0-9 \-－]{2,16}?[A-Za-z]?[0-9]{0,2}[座栋幢][0-9]{3,5}室?(?![0-9A-Za-z])"
_FWD_BODY = (
    f"(?P<gaz>(?P<gz>{_GAZ_FWD}{{1,2}})?)"
    f"(?P<city>[{_P}]{{2,4}}(?:{literal_alternation(_CITY_SUFFIX)}))?"
    # (a district is never a residential compound or a community: 滨湖小区, 翠湖社区 and 书香五区 are
    # the low part, which a district read before it would leave empty; 二七区 is a district; nor is
    # the 柳市 of the town 柳市镇, or the 红旗 of 红旗村, 红旗路: not a banner)
    f"(?P<dist>(?:(?:(?:国家)?(?:{literal_alternation(_ZONES)})|[{_P}]{{1,{_ZONE_NAME_MAX}}}(?:{literal_alternation(_ZONES)})|{literal_alternation(_DIST_SPECIAL)}|(?<=[省市州盟区])[{CJK}]{{1,4}}?(?:{literal_alternation(_DIST_SUFFIX)})"
    f"|[{_P}]{{1,4}}(?:{literal_alternation(_DIST_SUFFIX)})"
    # a district named like a city, read as the gazetteer's short name (北京市朝阳|区, 湖南省长沙|县):
    # only right after a gazetteer name (not 所在地|区)
    f"|(?(gz)(?<=[{_P}])(?:{literal_alternation(_DIST_SUFFIX)})|(?!)))"
    f"(?<!小区)(?<!社区)(?<![^一二三四五六七八九十][一二三四五六七八九十]区)(?!(?<=市)[镇乡])(?!(?<=旗)[村路街镇乡])){{0,2}})"
    f"(?P<town>{_TOWN_NAME}(?:{literal_alternation(_TOWN_SUFFIX)})(?!银行))?"
    f"(?P<low>(?:[{_PN}]{{1,6}}(?:{literal_alternation(_LOW)})){{0,3}})"
    f"(?P<house>{_HOUSE}{_UNIT}|(?P<building>{_BUILDING_ROOM}))?"
)
_FWD_RE = re.compile(_FWD_BODY)
#: After a context word: separators ("地址：", "住址为"), then the forward grammar. The grammar
#: always matches (every part is optional), so the separators never give back a character.
_CONTEXT_FWD_RE = re.compile(r"(?:[：:\s]|为|是|在|于){0,3}" + _FWD_BODY)

# (reversed: the digits, then the 甲/乙/丙/丁 that may number a second house at the same number: 甲15号)
_HOUSE_DIGITS_BACK_RE = re.compile(r"[0-9]{1,5}(?:[-－—][0-9]{1,6})?(?![0-9A-Za-z.])[甲乙丙丁]?")
_UNIT_RE = re.compile(r"(?:楼|院)?" + _UNIT)

ADDRESS_CONTEXT: tuple[str, ...] = (
    "地址", "住址", "家住", "居住于", "居住在", "现住", "住在", "现居", "户籍地", "住所地", "住所",
    "所在地", "寄至", "寄往", "寄到", "送至", "送到", "迁至", "搬到", "位于", "走访", "address",
    "Address", "ADDRESS",
)  # fmt: skip
#: Context words also used of any place ("位于纽约市", "走访了哪个城市"): after them an address
#: needs a house number or a Chinese division with a district.
_WEAK_ADDRESS_CONTEXT = frozenset(("位于", "走访"))
_DIVISION_WORDS = ("省", "市", "自治区", "特别行政区", "自治州", "地区", "盟")
#: A division anchor: the suffix of a gazetteer division with a district after it.
_DIVISION_AHEAD = f"(?=[{CJK}]{{1,8}}?(?:区|县|市|旗))"  # a district must follow
_DIVISION_ANCHOR_RE = re.compile(f"(?:{literal_alternation(_DIVISION_WORDS)}){_DIVISION_AHEAD}")

# The three kinds of anchors are found in ONE scan of the text, an alternation in which every
# branch starts with a literal character, so ``re`` scans for their first characters at C speed
# (a branch that starts with a group, e.g. a trie of words, loses that: 3-10x slower on Chinese
# text). Per kind, each branch matches exactly what that kind's own scan would:
#
# * a house-number suffix (号, 弄, 栋, 幢, 座, 单元) right after a digit;
# * a context word, longest first (as the trie of literal_alternation would match it);
# * a division suffix with a district ahead (no two of these words start at the same place).
#
# No branch's match contains the first character of another kind's branch, so one scan finds
# every anchor that the three separate scans would, except one: a context word ending in 地
# (住所地, 户籍地, 所在地) hides a division anchor 地区 starting at its last character; detect()
# checks that case explicitly.
#
# Context words that start with a character frequent in bank text (户 of 客户, the ``a`` of
# English) are found from a rarer character inside them, the rest checked behind it: the match
# is then the word's tail (its end, all that detect() uses, is the same). No other word contains
# these tails or the characters before them, so no match is gained or lost.
_CONTEXT_TAILS = {"籍地": ("户籍地",), "ddress": ("address", "Address"), "DDRESS": ("ADDRESS",)}
_AT_HOUSE, _AT_CONTEXT, _AT_DIVISION = 0, 1, 2
_ANCHOR_KIND: dict[str, int] = {
    **{c: _AT_HOUSE for c in "号弄栋幢座"},
    "单元": _AT_HOUSE,
    **dict.fromkeys(ADDRESS_CONTEXT, _AT_CONTEXT),
    **dict.fromkeys(_CONTEXT_TAILS, _AT_CONTEXT),
    **dict.fromkeys(_DIVISION_WORDS, _AT_DIVISION),
}
_TAILED = {w for words in _CONTEXT_TAILS.values() for w in words}
# One scan for the three kinds of anchor; it finds exactly what each kind's own scan finds
# (tests/privacy/test_address_speed.py keeps those scans as the reference).
_ANCHOR_RE = re.compile(
    "|".join(
        [f"{c}(?<=[0-9]{c})" for c in "号弄栋幢座"]
        + ["单(?<=[0-9]单)元"]
        + [re.escape(w) for w in sorted(ADDRESS_CONTEXT, key=len, reverse=True) if w not in _TAILED]
        + [f"{re.escape(t)}(?<={'|'.join(map(re.escape, ws))})" for t, ws in _CONTEXT_TAILS.items()]
        + [re.escape(w) + _DIVISION_AHEAD for w in _DIVISION_WORDS]
    )
)
_GAZ_BACK_RE = re.compile(f"{_GAZ_REV}{{1,2}}")
_GAZETTEER_RE = re.compile(literal_alternation(_GAZ))
_GAZ_START_RE = re.compile(_GAZ_FWD)
_GAZ_FIRST = frozenset(w[0] for w in _GAZ)
_WINDOW = 48


@DETECTORS.register("address")
class AddressDetector:
    """地址: Chinese postal addresses (division gazetteer + road/number/unit grammar), and addresses in
    Latin letters after an English label."""

    name = "address"
    version = "1.0"
    types = (PiiType.ADDRESS,)

    def detect(self, text: str) -> list[Span]:
        text = fold_fullwidth(text)  # same offsets
        found: list[tuple[int, int, float]] = []
        house_end = division_end = 0  # the end of the last address of each kind
        forward: dict[int, re.Match[str]] = {}  # forward matches by the end of their gazetteer part
        for m in _ANCHOR_RE.finditer(text):
            word = m.group()
            kind = _ANCHOR_KIND[word]
            if kind == _AT_HOUSE:
                house_end = _from_house_number(text, m.start(), m.end(), house_end, found)
            elif kind == _AT_CONTEXT:
                if word in _LATIN_LABEL_TAILS:
                    _latin_address(text, m.start(), m.end(), found)
                _from_context(text, word, m.end(), forward, found)  # (word may be a tail)
                if word[-1] == "地":  # 住所地区...: the division anchor this match hides
                    d = _DIVISION_ANCHOR_RE.match(text, m.end() - 1)
                    if d is not None:
                        division_end = _from_division(text, d.end(), division_end, forward, found)
            else:
                division_end = _from_division(text, m.end(), division_end, forward, found)
        return _merge(found, self.name)


# 0. an address in Latin letters after an English label -------------------------------------
#: The labels (English ones by the tails the anchor scan finds them by, see _CONTEXT_TAILS) after which
#: an address may be written in Latin letters.
_LATIN_LABEL_TAILS = frozenset(("ddress", "DDRESS", "地址", "住址"))
#: After "Address:" or "地址：" (a label with its colon, maybe the Chinese label after the English one:
#: "Beneficiary Address 收款人地址: ", a wire instruction, a bilingual form): a line in Latin letters, up
#: to the end of the line, a field separator (two spaces, ;, |), an ideograph or the next field's
#: label; it must hold a number (a house, a room) and a word. Not after Email, IP, MAC, Web or 邮箱,
#: whose address is no place.
_LATIN_ADDRESS_RE = re.compile(
    r"[ \t]*(?:[\u4e00-\u9fff]{1,6}[ \t]*)?[:：][ \t]*"
    r"(?P<body>[A-Za-z0-9#][^\n;；|\u4e00-\u9fff]{0,160}?)"
    r"(?=\s{2,}|[\n;；|\u4e00-\u9fff]|\Z|[,.]?\s*(?:Tel|TEL|Phone|PHONE|Mobile|MOBILE|E-?mail|EMAIL|Fax"
    r"|FAX|Account|ACCOUNT|A/C|Beneficiary|BENEFICIARY|Bank|BANK|SWIFT|Post(?:al)? ?[Cc]ode|Zip|ZIP|ID"
    r"|Contact)\b)"
)
_NOT_A_PLACE_BEFORE = (
    "Email ", "E-mail ", "EMAIL ", "email ", "IP ", "ip ", "MAC ", "Web ", "web ", "IP", "邮箱", "邮件",
    "网页",
)  # fmt: skip
_HAS_WORD_RE = re.compile(r"[A-Za-z]{3}")


def _latin_address(text: str, label_start: int, label_end: int, found: list[tuple[int, int, float]]) -> None:
    """An address in Latin letters after "Address"/"ADDRESS" (the anchor is the label's tail, after
    its A) or "地址"/"住址"."""
    if text.endswith(_NOT_A_PLACE_BEFORE, 0, label_start - (text[label_start] in "dD")):
        return
    m = _LATIN_ADDRESS_RE.match(text, label_end)
    if m is None:
        return
    body = m.group("body").rstrip(" ,.")
    if not any(c.isdigit() for c in body) or _HAS_WORD_RE.search(body) is None:
        return
    found.append((m.start("body"), m.start("body") + len(body), 0.8))


# 1. house numbers ---------------------------------------------------------------------------
def _from_house_number(
    text: str, s: int, suffix_end: int, last_end: int, found: list[tuple[int, int, float]]
) -> int:
    """The address grown from the house-number suffix at ``s`` (the digits before it, then the
    reversed grammar); returns the new end of the last house-number address."""
    if s < last_end:
        return last_end
    # One reversed copy of the text before the suffix serves both backward matches: the digits,
    # then the grammar before them (pos/endpos bound each as the slices text[..:s], text[lo:a]
    # would: neither pattern has a lookbehind, and a lookahead at endpos sees the end).
    rev = text[max(last_end, s - 13 - _WINDOW) : s][::-1]
    digits = _HOUSE_DIGITS_BACK_RE.match(rev, 0, 13)
    if digits is None:
        return last_end
    d = digits.end()
    a = s - d
    back = _BACK_RE.match(rev, d, d + a - max(last_end, a - _WINDOW))
    if back is None or back.end() == d:
        return last_end
    start = s - back.end()
    low, dist, gaz = back.group("low", "dist", "gaz")
    # A gazetteer name read by the grammar lies in the span; search only when none was.
    if gaz or _GAZETTEER_RE.search(text, start, a) is not None:
        score = 0.92
    elif low and dist:  # (a low part with a strong character is a low part)
        score = 0.85
    elif low and not _STRONG_CHARS.isdisjoint(low):
        score = 0.75
    else:
        return last_end
    end = _UNIT_RE.match(text, suffix_end).end()
    found.append((start, end, score))
    return end


# 2. context words ---------------------------------------------------------------------------
def _from_context(
    text: str,
    word: str,
    word_end: int,
    forward: dict[int, re.Match[str]],
    found: list[tuple[int, int, float]],
) -> None:
    f = _CONTEXT_FWD_RE.match(text, word_end)
    if f is None:
        return
    forward[f.end("gaz")] = f
    p = f.start("gaz")  # after the separators
    end = f.end()
    if end == p:
        return
    gazetteer, city, dist, house = f.group("gaz", "city", "dist", "house")
    if not (gazetteer or city or dist or (house and f.group("low"))):
        return
    if word in _WEAK_ADDRESS_CONTEXT and not (house or ((gazetteer or city) and dist)):
        return
    found.append((p, end, 0.9 if gazetteer else 0.8))


# 3. a gazetteer division followed by district + road ----------------------------------------
def _from_division(
    text: str,
    e: int,
    last_end: int,
    forward: dict[int, re.Match[str]],
    found: list[tuple[int, int, float]],
) -> int:
    """The address around the division anchor ending at ``e``; returns the new end of the last
    division address."""
    if e <= last_end:
        return last_end
    back = _GAZ_BACK_RE.match(text[max(last_end, e - 16) : e][::-1])
    if back is None:
        return last_end
    # "地址：天津市和平区...": the context word's forward match read 天津市 as its gazetteer part,
    # then the rest from e. Every part after the gazetteer part is optional, so that rest was
    # matched exactly as a forward match at e matches it when its own gazetteer part is empty,
    # i.e. when no gazetteer name starts at e. Only the parts after the gazetteer are read below.
    f = forward.get(e)
    if f is None or (text[e : e + 1] in _GAZ_FIRST and _GAZ_START_RE.match(text, e) is not None):
        f = _FWD_RE.match(text, e)
        if f is None:
            return last_end
        forward[f.end("gaz")] = f
    low, dist, house = f.group("low", "dist", "house")
    if not (dist and ((low and (house or not _STRONG_CHARS.isdisjoint(low))) or f.group("building"))):
        return last_end
    end = f.end()
    found.append((e - back.end(), end, 0.85))
    return end


def _merge(found: list[tuple[int, int, float]], detector: str) -> list[Span]:
    """Union overlapping matches of the different anchors into one span each (the highest score)."""
    spans: list[Span] = []
    if not found:
        return spans
    found.sort()
    start, end, score = -1, -1, 0.0
    for s, e, sc in found:
        if e <= s:
            continue
        if s < end:
            if e > end:
                end = e
            if sc > score:
                score = sc
            continue
        if end >= 0:
            spans.append(Span(start, end, PiiType.ADDRESS, score, detector))
        start, end, score = s, e, sc
    if end >= 0:
        spans.append(Span(start, end, PiiType.ADDRESS, score, detector))
    return spans
