"""Postal addresses (地址) from a small gazetteer and the grammar of Chinese addresses.

A Chinese address runs from large to small::

    [province] [city] [district/county] [town/街道] [road/村/小区 ...] [number 号] [栋 单元 层 室]
    北京市      朝阳区                    建国路         88号  SOHO现代城 3栋 1201室

Three kinds of anchors start a match, all found by fast regex scans:

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
    digit_window,
    fold_fullwidth,
    has_digit,
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


_LOW_STRONG = ("大道", "大街", "胡同", "路", "街", "巷", "道", "弄", "村", "社区", "里", "组", "屯", "段")
_LOW_WEAK = (
    "小区", "花园", "公寓", "大厦", "广场", "家园", "新村", "苑", "园", "城", "中心", "庄", "坊", "湾",
    "华庭", "庭", "府", "公馆", "名邸", "佳园", "雅苑", "一区", "二区", "三区", "四区", "五区", "六区",
)  # fmt: skip
_LOW = _LOW_STRONG + _LOW_WEAK
_ESTATE_SUFFIX = (
    "大厦", "广场", "中心", "花园", "小区", "公寓", "家园", "大楼", "园区", "园", "城", "苑", "院",
)  # fmt: skip
_DIST_SUFFIX = ("新区", "自治县", "自治旗", "区", "县", "市", "旗")
#: District names that contain a level character themselves.
_DIST_SPECIAL = (
    "市中区", "市南区", "市北区", "城区", "郊区", "矿区", "县城", "新市区", "市辖区", "东城区", "西城区",
)  # fmt: skip
#: Development zones and parks, which stand where a district does (合肥高新技术产业开发区).
_ZONES = (
    "高新技术产业开发区", "经济技术开发区", "经济开发区", "高新区", "开发区", "工业园区", "产业园区",
    "工业园", "保税区", "综合保税区", "出口加工区", "新区", "科技园", "软件园",
)  # fmt: skip
_TOWN_SUFFIX = ("街道", "镇", "乡")
_CITY_SUFFIX = ("自治州", "地区", "市", "盟")
_STRONG_CHARS = frozenset("路街巷道弄村里组屯胡段")
_GAZ = PROVINCES + CITIES

# --- the reversed grammar, matched on text[::-1] from just before a house number ------------
# District levels may not start where a gazetteer name matches: "北京市" is a city, not a
# county-level "市" named "北京", which matters when junk precedes it.
_BACK_RE = re.compile(
    f"(?P<low>(?:(?:{_rev_alt(_LOW)})[{_PN}]{{1,6}}){{0,3}})"
    f"(?P<town>(?:{_rev_alt(_TOWN_SUFFIX)})[{_P}]{{1,5}})?"
    f"(?P<dist>(?:(?:{_rev_alt(_ZONES)})(?:家国)?(?:[{_P}]{{1,4}}(?={_rev_alt(_GAZ)}))?"
    f"|{_rev_alt(_DIST_SPECIAL)}"
    f"|(?:{_rev_alt(_DIST_SUFFIX)})[{CJK}]{{1,4}}?(?={_rev_alt(_GAZ)})"  # right after a city: any name
    f"|(?!{_rev_alt(_GAZ)})(?:{_rev_alt(_DIST_SUFFIX)})[{_P}]{{1,4}}){{0,2}})"
    f"(?P<gaz>(?:{_rev_alt(_GAZ)}){{0,2}})"
    f"(?P<city>(?:{_rev_alt(_CITY_SUFFIX)})[{_P}]{{2,4}})?"
)

# --- the forward grammar, after a context word or a gazetteer city --------------------------
_HOUSE = (
    r"(?:[0-9]{1,6}(?:[-－—][0-9]{1,5})?(?:号楼|号院|号|弄|栋|幢|座|单元)"
    r"|[0-9]{1,4}[-－—][0-9]{1,3}[-－—][0-9]{2,5}(?![0-9A-Za-z]))"  # 25-6-3101: building-unit-room
)
_UNIT = (
    r"(?:[-－—]?[" + _PB + r"]{0,10}?"
    r"(?:[0-9]{1,5}|[A-Za-z]|[一二三四五六七八九十]{1,3})"
    r"(?:号楼|号院|号|栋|幢|座|单元|层|楼|室|户|房|门|弄|期|区|排))*"
    r"(?:(?:(?<=单元)|(?<=[栋幢座楼]))[-－—]?[0-9]{2,5}(?![0-9A-Za-z]))?"
    # a named estate or building with no unit number after it: "...90号东部软件园"
    r"(?:(?<=[号室层楼院])[A-Za-z" + _PB + r"]{1,8}?(?:" + "|".join(_ESTATE_SUFFIX) + r")"
    r"(?:[0-9]{1,4}(?:[-－—][0-9]{1,4}){1,2}(?![0-9A-Za-z])"  # ...佳园19-1-2405
    r"|[0-9]{1,4}(?:号楼|栋|幢|座)(?:[0-9]{1,2}单元)?(?:[0-9]{1,2}层)?(?:[0-9]{2,5}室?)?)?)?"
)
_FWD_BODY = (
    f"(?P<gaz>(?:{literal_alternation(_GAZ)}){{0,2}})"
    f"(?P<city>[{_P}]{{2,4}}(?:{literal_alternation(_CITY_SUFFIX)}))?"
    f"(?P<dist>(?:(?:国家)?(?:{literal_alternation(_ZONES)})|{literal_alternation(_DIST_SPECIAL)}|(?<=[省市州盟区])[{CJK}]{{1,4}}?(?:{literal_alternation(_DIST_SUFFIX)})"
    f"|[{_P}]{{1,4}}(?:{literal_alternation(_DIST_SUFFIX)})){{0,2}})"
    f"(?P<town>[{_P}]{{1,5}}(?:{literal_alternation(_TOWN_SUFFIX)}))?"
    f"(?P<low>(?:[{_PN}]{{1,6}}(?:{literal_alternation(_LOW)})){{0,3}})"
    f"(?P<house>{_HOUSE}{_UNIT})?"
)
_FWD_RE = re.compile(_FWD_BODY)

# A house number: digits (``88``, ``3-1``) followed by one of these; found from the suffix, which
# is rarer than digits, and checked backwards.
_HOUSE_SUFFIX_RE = re.compile("[号弄栋幢座单](?:(?<=[0-9][号弄栋幢座])|(?<=[0-9]单)元)")
_HOUSE_DIGITS_BACK_RE = re.compile(r"[0-9]{1,5}(?:[-－—][0-9]{1,6})?(?![0-9A-Za-z.])")
_UNIT_RE = re.compile(r"(?:楼|院)?" + _UNIT)

ADDRESS_CONTEXT: tuple[str, ...] = (
    "地址", "住址", "家住", "居住于", "居住在", "现住", "住在", "现居", "户籍地", "住所地", "住所",
    "所在地", "寄至", "寄往", "寄到", "送至", "送到", "迁至", "搬到", "位于", "走访", "address",
    "Address", "ADDRESS",
)  # fmt: skip
#: Context words also used of any place ("位于纽约市", "走访了哪个城市"): after them an address
#: needs a house number or a Chinese division with a district.
_WEAK_ADDRESS_CONTEXT = frozenset(("位于", "走访"))
_CONTEXT_RE = re.compile(literal_alternation(ADDRESS_CONTEXT))
_CONTEXT_SEP_RE = re.compile(r"(?:[：:\s]|为|是|在|于){0,3}")
_DIVISION_ANCHOR_RE = re.compile(
    f"(?:{literal_alternation(('省', '市', '自治区', '特别行政区', '自治州', '地区', '盟'))})"
    f"(?=[{CJK}]{{1,8}}?(?:区|县|市|旗))"  # a district must follow
)
_GAZ_BACK_RE = re.compile(f"(?:{_rev_alt(_GAZ)}){{1,2}}")
_GAZETTEER_RE = re.compile(literal_alternation(_GAZ))
_WINDOW = 48


@DETECTORS.register("address")
class AddressDetector:
    """地址: Chinese postal addresses (division gazetteer + road/number/unit grammar)."""

    name = "address"
    version = "1.0"
    types = (PiiType.ADDRESS,)

    def detect(self, text: str) -> list[Span]:
        text = fold_fullwidth(text)  # same offsets
        found: list[tuple[int, int, float]] = []
        if has_digit(text):
            self._from_house_numbers(text, found)
        self._from_context(text, found)
        self._from_divisions(text, found)
        return _merge(found, self.name)

    # 1. house numbers -----------------------------------------------------------------------
    def _from_house_numbers(self, text: str, found: list[tuple[int, int, float]]) -> None:
        last_end = 0
        # A suffix follows a digit (号, or 单元: two characters), so only the digits' part of the
        # text is scanned; nothing that lies after it can match.
        lo, hi = digit_window(text)
        for m in _HOUSE_SUFFIX_RE.finditer(text, lo, hi + 2):
            s = m.start()
            if s < last_end:
                continue
            digits = _HOUSE_DIGITS_BACK_RE.match(text[max(last_end, s - 13) : s][::-1])
            if digits is None:
                continue
            a = s - digits.end()
            lo = max(last_end, a - _WINDOW)
            back = _BACK_RE.match(text[lo:a][::-1])
            if back is None or back.end() == 0:
                continue
            low = back.group("low")
            start = a - back.end()
            gazetteer = _GAZETTEER_RE.search(text, start, a) is not None
            strong = any(c in _STRONG_CHARS for c in low)
            if gazetteer:
                score = 0.92
            elif back.group("dist") and (strong or low):
                score = 0.85
            elif strong:
                score = 0.75
            else:
                continue
            end = _UNIT_RE.match(text, m.end()).end()
            found.append((start, end, score))
            last_end = end

    # 2. context words -----------------------------------------------------------------------
    def _from_context(self, text: str, found: list[tuple[int, int, float]]) -> None:
        for m in _CONTEXT_RE.finditer(text):
            p = _CONTEXT_SEP_RE.match(text, m.end()).end()
            f = _FWD_RE.match(text, p)
            if f is None or f.end() == p:
                continue
            gazetteer = bool(f.group("gaz"))
            if not (gazetteer or f.group("city") or f.group("dist") or (f.group("house") and f.group("low"))):
                continue
            if m.group() in _WEAK_ADDRESS_CONTEXT and not (
                f.group("house") or ((gazetteer or f.group("city")) and f.group("dist"))
            ):
                continue
            found.append((p, f.end(), 0.9 if gazetteer else 0.8))

    # 3. a gazetteer division followed by district + road --------------------------------------
    def _from_divisions(self, text: str, found: list[tuple[int, int, float]]) -> None:
        last_end = 0
        for m in _DIVISION_ANCHOR_RE.finditer(text):
            e = m.end()
            if e <= last_end:
                continue
            back = _GAZ_BACK_RE.match(text[max(last_end, e - 16) : e][::-1])
            if back is None:
                continue
            f = _FWD_RE.match(text, e)
            if f is None or not f.group("dist"):
                continue
            low = f.group("low") or ""
            if not (any(c in _STRONG_CHARS for c in low) or (low and f.group("house"))):
                continue
            found.append((e - back.end(), f.end(), 0.85))
            last_end = f.end()


def _merge(found: list[tuple[int, int, float]], detector: str) -> list[Span]:
    """Union overlapping matches of the different anchors into one span each."""
    spans: list[Span] = []
    cur: list[float] | None = None
    for start, end, score in sorted(found):
        if end <= start:
            continue
        if cur is not None and start < cur[1]:
            cur[1] = max(cur[1], end)
            cur[2] = max(cur[2], score)
            continue
        if cur is not None:
            spans.append(Span(int(cur[0]), int(cur[1]), PiiType.ADDRESS, cur[2], detector))
        cur = [start, end, score]
    if cur is not None:
        spans.append(Span(int(cur[0]), int(cur[1]), PiiType.ADDRESS, cur[2], detector))
    return spans
