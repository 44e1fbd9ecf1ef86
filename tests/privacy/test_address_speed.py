"""The address detector's speed-ups must not change a single span (issue 13, item 6).

``AddressDetector.detect`` finds its anchors in one scan, reads gazetteer names behind a class
guard, reuses a context word's forward match for the division anchor inside it, and matches both
backward patterns on one reversed copy. ``_reference_detect`` below is the detector as it was
before those changes: three separate scans, plain gazetteer alternations, every match computed
on its own slices. Both must give the same spans (offsets, scores) on any text.
"""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from stockade.privacy.detectors import address
from stockade.privacy.detectors._base import fold_fullwidth, has_digit, literal_alternation
from stockade.privacy.spans import PiiType, Span

#: Each kind of anchor's own scan, as the detector ran them before its one combined scan, which must
#: find exactly what they find.
HOUSE_SUFFIX_RE = re.compile("[号弄栋幢座单](?:(?<=[0-9][号弄栋幢座])|(?<=[0-9]单)元)")
CONTEXT_RE = re.compile(literal_alternation(address.ADDRESS_CONTEXT))

# The grammar with the gazetteer alternations unguarded, as the detector first wrote them.
_PLAIN_GAZ = f"(?:{literal_alternation(address._GAZ)})"
_PLAIN_GAZ_REV = f"(?:{address._rev_alt(address._GAZ)})"
_REF_BACK_RE = re.compile(address._BACK_RE.pattern.replace(address._GAZ_REV, _PLAIN_GAZ_REV))
_REF_FWD_RE = re.compile(address._FWD_RE.pattern.replace(address._GAZ_FWD, _PLAIN_GAZ))
_REF_GAZ_BACK_RE = re.compile(f"{_PLAIN_GAZ_REV}{{1,2}}")
_REF_CONTEXT_SEP_RE = re.compile(r"(?:[：:\s]|为|是|在|于){0,3}")


def _reference_detect(text: str) -> list[Span]:
    text = fold_fullwidth(text)
    found: list[tuple[int, int, float]] = []
    if has_digit(text):  # 1. house numbers
        last_end = 0
        for m in HOUSE_SUFFIX_RE.finditer(text):
            s = m.start()
            if s < last_end:
                continue
            digits = address._HOUSE_DIGITS_BACK_RE.match(text[max(last_end, s - 13) : s][::-1])
            if digits is None:
                continue
            a = s - digits.end()
            back = _REF_BACK_RE.match(text[max(last_end, a - address._WINDOW) : a][::-1])
            if back is None or back.end() == 0:
                continue
            low = back.group("low")
            start = a - back.end()
            strong = any(c in address._STRONG_CHARS for c in low)
            if address._GAZETTEER_RE.search(text, start, a) is not None:
                score = 0.92
            elif back.group("dist") and (strong or low):
                score = 0.85
            elif strong:
                score = 0.75
            else:
                continue
            end = address._UNIT_RE.match(text, m.end()).end()
            found.append((start, end, score))
            last_end = end
    for m in CONTEXT_RE.finditer(text):  # 2. context words
        if m.group() in ("address", "Address", "ADDRESS", "地址", "住址"):  # (what follows in Latin letters)
            address._latin_address(text, m.start(), m.end(), found)
        p = _REF_CONTEXT_SEP_RE.match(text, m.end()).end()
        f = _REF_FWD_RE.match(text, p)
        if f is None or f.end() == p:
            continue
        gazetteer = bool(f.group("gaz"))
        if not (gazetteer or f.group("city") or f.group("dist") or (f.group("house") and f.group("low"))):
            continue
        if m.group() in address._WEAK_ADDRESS_CONTEXT and not (
            f.group("house") or ((gazetteer or f.group("city")) and f.group("dist"))
        ):
            continue
        found.append((p, f.end(), 0.9 if gazetteer else 0.8))
    last_end = 0
    for m in address._DIVISION_ANCHOR_RE.finditer(text):  # 3. divisions
        e = m.end()
        if e <= last_end:
            continue
        gaz_back = _REF_GAZ_BACK_RE.match(text[max(last_end, e - 16) : e][::-1])
        if gaz_back is None:
            continue
        f = _REF_FWD_RE.match(text, e)
        if f is None or not f.group("dist"):
            continue
        low = f.group("low") or ""
        if not (
            any(c in address._STRONG_CHARS for c in low) or (low and f.group("house")) or f.group("building")
        ):
            continue
        found.append((e - gaz_back.end(), f.end(), 0.85))
        last_end = f.end()
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
            spans.append(Span(int(cur[0]), int(cur[1]), PiiType.ADDRESS, cur[2], "address"))
        cur = [start, end, score]
    if cur is not None:
        spans.append(Span(int(cur[0]), int(cur[1]), PiiType.ADDRESS, cur[2], "address"))
    return spans


def test_the_reference_grammar_differs_only_by_the_guards() -> None:
    # The replacements above must have hit: otherwise the reference would test nothing new.
    assert _REF_BACK_RE.pattern != address._BACK_RE.pattern
    assert _REF_FWD_RE.pattern != address._FWD_RE.pattern
    assert address._GAZ_REV not in _REF_BACK_RE.pattern
    assert address._GAZ_FWD not in _REF_FWD_RE.pattern


_DETECTOR = address.AddressDetector()

_CASES = (
    "地址：天津市和平区五一路239号国贸大厦24层，联系电话176-8934",
    "户籍地址：福建省福州市仓山区长安街492号金色家园7号楼6单元2108。",
    "家住北京市朝阳区",
    "现居上海市浦东新区世纪大道100号",
    "上海市浦东新区世纪大道",
    "广东省深圳市南山区科技园路1号",
    "广东省深圳市",
    "北京市朝阳区北京路5号",  # a gazetteer name right after the context's gazetteer part
    "地址：朝阳市朝阳区朝阳路8号",  # a city name that is also a district name
    "住所地区：江苏省南京市鼓楼区中山路1号",  # 住所地 hides the division anchor 地区
    "户籍地区县乡镇",
    "所在地区北京市海淀区",
    "位于纽约市",
    "走访了哪个城市",
    "位于杭州市西湖区文三路90号东部软件园",
    "寄至：四川省成都市高新区天府大道北段1700号环球中心E1区1栋1单元1201室",
    "王庄村5组",
    "阳光花园8栋3单元1201室",
    "5号文件",
    "3月15号",
    "朝阳区建国路88号SOHO现代城3栋1201室",
    "合肥高新技术产业开发区望江西路800号",
    "地址：address 新疆维吾尔自治区乌鲁木齐市天山区解放南路1号",
    "Address: 内蒙古自治区呼和浩特市新城区",
    "香港特别行政区中西区皇后大道中99号",
    "延边朝鲜族自治州延吉市河南街道光明街1号",
    "12345678号 123-456号 1-2-3号 8号楼 9单元 3座",
    "路1号路2号路3号路4号路5号",
    "北京市北京市北京市朝阳区朝阳路1号",
    "地址：地址：地址：",
    "住址为北京市西城区金融大街25号",
    "ＸＸ省ＹＹ市ＺＺ区１２３号",
    "现住一百二十三号",
    "",
)


def test_known_cases_match_the_reference() -> None:
    for text in _CASES:
        assert _DETECTOR.detect(text) == _reference_detect(text), text


# Pieces of addresses and of the text around them, joined at random: the detectors' anchors next
# to each other, inside each other's matches, at the text's edges.
_PIECES = (
    *address.ADDRESS_CONTEXT, "：", "为", " ", "，", "。", "\n", "的", "在", "户", "a", "ddress", ": ",
    "北京市", "北京", "上海市", "天津", "广东省", "深圳市", "朝阳", "朝阳市", "南京", "江苏省",
    "新疆维吾尔自治区", "延边朝鲜族自治州", "香港特别行政区", "内蒙古", "地区", "自治区", "盟", "省", "市",
    "朝阳区", "浦东新区", "市中区", "高新区", "经济技术开发区", "城区", "县", "区", "旗",
    "建国路", "中山路", "长安街", "世纪大道", "胡同", "王庄村", "社区", "街道", "镇", "乡", "组",
    "阳光花园", "小区", "大厦", "苑", "中心", "园区",
    "1", "5", "88", "123", "2108", "12-3", "25-6-3101", "一", "三", "一百二十",
    "号", "号楼", "号院", "弄", "栋", "幢", "座", "单元", "层", "室", "楼", "院", "B", "x", "-", ".",
    "客户", "张先生", "文件", "月",
)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), min_size=1, max_size=14).map("".join))
def test_random_address_text_matches_the_reference(text: str) -> None:
    assert _DETECTOR.detect(text) == _reference_detect(text)


def test_realistic_corpus_matches_the_reference() -> None:
    from stockade.privacy.corpus.realistic import generate_realistic

    for record in generate_realistic(300, seed=23):
        assert _DETECTOR.detect(record.text) == _reference_detect(record.text), record.text


def test_one_scan_finds_each_kinds_anchors() -> None:
    """The single anchor scan finds exactly the anchors of the three scans of each kind (by end
    and kind: for a few context words it matches only the word's tail)."""
    texts = [
        *_CASES, "住所地区北京市", "户籍地区县", "家住址", "地区市省盟", "1号2单元3弄4栋5幢6座",
        "客户户籍地户籍地址", "籍地", "ddress Address: ADDRESS: aDDRESS addresses", "户 籍地",
    ]  # fmt: skip
    for text in texts:
        one = [(m.end(), address._ANCHOR_KIND[m.group()]) for m in address._ANCHOR_RE.finditer(text)]
        house = [m.end() for m in HOUSE_SUFFIX_RE.finditer(text)]
        context = [m.span() for m in CONTEXT_RE.finditer(text)]
        division = [m.span() for m in address._DIVISION_ANCHOR_RE.finditer(text)]
        # the division anchors a context word ending in 地 hides (detect() checks them itself)
        hidden = [
            span
            for span in division
            if any(c[0] <= span[0] < c[1] and text[c[1] - 1] == "地" for c in context)
        ]
        expected = (
            [(e, address._AT_HOUSE) for e in house]
            + [(e, address._AT_CONTEXT) for _, e in context]
            + [(e, address._AT_DIVISION) for s, e in division if (s, e) not in hidden]
        )
        assert sorted(one) == sorted(expected), text


_DIVISION_TEXTS = (
    *_CASES,
    "地址：广东省深圳市朝阳区建国路1号",  # 朝阳 starts right where the context's gazetteer part ends
    "地址：广东省深圳市朝阳市朝阳区建国路1号",
    "住址为吉林省长春市朝阳区人民大街1号院",
    "现居辽宁省朝阳市双塔区",
    "寄到新疆维吾尔自治区阿克苏地区阿克苏市解放路2号",
)


def test_reused_forward_matches_give_what_fresh_ones_give() -> None:
    """A division anchor that reuses a context word's forward match finds what a forward match
    of its own finds (compared before the spans are merged, where a difference could hide)."""
    for text in _DIVISION_TEXTS:
        text = fold_fullwidth(text)
        forward: dict[int, re.Match[str]] = {}
        for m in CONTEXT_RE.finditer(text):
            address._from_context(text, m.group(), m.end(), forward, [])
        for m in address._DIVISION_ANCHOR_RE.finditer(text):
            reused: list[tuple[int, int, float]] = []
            fresh: list[tuple[int, int, float]] = []
            address._from_division(text, m.end(), 0, forward, reused)
            address._from_division(text, m.end(), 0, {}, fresh)
            assert reused == fresh, (text, m.end())


def test_every_division_anchor_reaches_the_division_step(monkeypatch) -> None:
    """Including a 地区 inside a context word (住所地区): the one scan does not return it."""
    seen: list[int] = []
    real = address._from_division

    def spy(text: str, e: int, *rest):  # type: ignore[no-untyped-def]
        seen.append(e)
        return real(text, e, *rest)

    monkeypatch.setattr(address, "_from_division", spy)
    for text in ("住所地区北京市海淀区", "户籍地区县城", "所在地区，市区", *_CASES):
        seen.clear()
        _DETECTOR.detect(text)
        folded = fold_fullwidth(text)
        assert seen == [m.end() for m in address._DIVISION_ANCHOR_RE.finditer(folded)], text
