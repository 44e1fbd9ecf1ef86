"""PII detectors: structured identifiers (checksums, formats, CJK adjacency, decoys) and detect_all.

Check digits are computed here by helpers written independently of
``stockade.privacy.detectors.checksums`` (and checked against published examples), so a bug in the
detectors' validators cannot make its own tests pass.
"""

from __future__ import annotations

import datetime as dt
import itertools
import pickle

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from stockade.core.errors import ConfigError
from stockade.privacy.detectors import (
    DEFAULT_DETECTOR_NAMES,
    DETECTORS,
    default_detectors,
    detect_all,
    get_detector,
    resolve_overlaps,
)
from stockade.privacy.spans import PiiType, Span
from tests.privacy.test_address_speed import HOUSE_SUFFIX_RE

# --- independent check-digit helpers ------------------------------------------------------------


def id_check(first17: str) -> str:
    """GB 11643-1999: weights 2^(17-i) mod 11, check = (12 - sum mod 11) mod 11, 10 -> X."""
    total = sum(int(d) * pow(2, 17 - i, 11) for i, d in enumerate(first17))
    value = (12 - total % 11) % 11
    return "X" if value == 10 else str(value)


def with_id_check(first17: str) -> str:
    return first17 + id_check(first17)


def luhn_complete(prefix: str) -> str:
    """Append the Luhn check digit: double every second digit from the right of the full number."""
    digits = [int(c) for c in prefix + "0"]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return prefix + str((10 - total % 10) % 10)


def luhn_valid(number: str) -> bool:
    return luhn_complete(number[:-1]) == number


USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def uscc_complete(first17: str) -> str:
    """GB 32100-2015: weights 3^i mod 31, check = 31 - (sum mod 31), 31 -> 0."""
    total = sum(USCC_CHARS.index(c) * pow(3, i, 31) for i, c in enumerate(first17))
    return first17 + USCC_CHARS[(31 - total % 31) % 31]


def test_helpers_agree_with_published_examples() -> None:
    assert with_id_check("11010519491231002") == "11010519491231002X"  # GB 11643 example
    assert with_id_check("44052418800101001") == "440524188001010014"  # GB 11643 example
    assert luhn_complete("411111111111111") == "4111111111111111"  # the well-known test card
    assert luhn_complete("7992739871") == "79927398713"  # Luhn's textbook example
    assert uscc_complete("91350100M000100Y4") == "91350100M000100Y43"  # widely published sample


ID_A = with_id_check("11010519900307123")  # 北京朝阳, 1990-03-07
ID_X = "11010519491231002X"
ID_B = with_id_check("44030620011128456")  # 深圳, 2001-11-28
CARD_UP19 = luhn_complete("622202123456789012")  # 19-digit UnionPay
CARD_UP16 = luhn_complete("622848001234567")
CARD_VISA = "4111111111111111"
USCC_A = "91350100M000100Y43"
USCC_B = uscc_complete("91110108MA01ABCD2")


def wrong_last(number: str, alphabet: str = "0123456789") -> str:
    """The same number with a different (hence wrong) last character."""
    last = number[-1]
    return number[:-1] + next(c for c in alphabet if c != last)


def found(name: str, text: str) -> list[str]:
    return [text[s.start : s.end] for s in get_detector(name).detect(text)]


def found_all(text: str) -> list[tuple[str, str]]:
    return [(text[s.start : s.end], s.type.value) for s in detect_all(text)]


# --- registry and protocol ----------------------------------------------------------------------


def test_registry_names_every_detector_and_every_type_is_covered() -> None:
    assert set(DEFAULT_DETECTOR_NAMES) <= set(DETECTORS.names())
    covered = set()
    for detector in default_detectors():
        assert detector.name in DETECTORS
        assert detector.version
        assert detector.types and all(isinstance(t, PiiType) for t in detector.types)
        covered |= set(detector.types)
    assert covered == set(PiiType)


def test_unknown_detector_is_a_config_error_with_a_hint() -> None:
    with pytest.raises(ConfigError, match="did you mean 'mobile'"):
        get_detector("mobil")


def test_spans_carry_type_score_and_detector_name() -> None:
    text = f"身份证{ID_A}，手机13812345678"
    spans = detect_all(text)
    assert [(s.type, s.detector) for s in spans] == [(PiiType.ID_CARD, "id_card"), (PiiType.MOBILE, "mobile")]
    assert all(0 < s.score <= 1 for s in spans)
    assert spans[0].score >= 0.95


# --- 居民身份证 ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"身份证{ID_A}号", [ID_A]),  # CJK on both sides
        ("身份证110105199003071234号", []),  # the brief's example: its check digit is wrong
        (f"证件号码：{ID_X}。", [ID_X]),  # X check character
        (f"证件号码：{ID_X.lower()}。", [ID_X.lower()]),  # x accepted
        (f"ID: {ID_B}", [ID_B]),
        (f"{ID_A[:6]} {ID_A[6:14]} {ID_A[14:]}", [f"{ID_A[:6]} {ID_A[6:14]} {ID_A[14:]}"]),  # 6-8-4
        (f"{ID_A[:6]}-{ID_A[6:14]}-{ID_A[14:]}", [f"{ID_A[:6]}-{ID_A[6:14]}-{ID_A[14:]}"]),
        (f"{ID_A[:6]} {ID_A[6:14]}-{ID_A[14:]}", []),  # mixed separators
        ("老身份证110105900307123，已换领", ["110105900307123"]),  # 15-digit legacy
        (f"身份证{wrong_last(ID_A)}号", []),  # wrong check digit
        (f"{with_id_check('11010519900230123')}", []),  # 1990-02-30 does not exist
        (f"{with_id_check('11010518991231123')}", []),  # born 1899: before 1900
        (f"{with_id_check('11010520991231123')}", []),  # born in the future
        (f"{with_id_check('99010519900307123')}", []),  # 99 is no province
        (f"{with_id_check('91010519900307123')}", []),  # nor is 91
        (f"1{ID_A}", []),  # part of a longer digit run
        (f"{ID_A}7", []),
        (f"A{ID_A}", []),  # glued to a letter: some other code
        ("110105901307123", []),  # legacy form, month 13
    ],
)
def test_id_card(text: str, expected: list[str]) -> None:
    assert found("id_card", text) == expected


def test_id_card_legacy_scores_below_checksummed() -> None:
    legacy = get_detector("id_card").detect("110105900307123")[0]
    modern = get_detector("id_card").detect(ID_A)[0]
    assert legacy.score < modern.score == 1.0


def test_id_card_region_codes_of_hk_macao_taiwan() -> None:
    for region in ("810000", "820000", "830000", "710000", "650102"):
        number = with_id_check(region + "19850615001")
        assert found("id_card", f"号码{number}") == [number]


# --- 手机号 -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("手机13812345678联系", ["13812345678"]),
        ("电话：19912345678。", ["19912345678"]),
        ("手机 138 1234 5678 ", ["138 1234 5678"]),  # 3-4-4 with spaces
        ("手机138-1234-5678", ["138-1234-5678"]),
        ("+86 138-1234-5678", ["+86 138-1234-5678"]),
        ("+8613812345678", ["+8613812345678"]),
        ("0086-13812345678", ["0086-13812345678"]),
        ("8613812345678", ["8613812345678"]),
        ("（+86）13812345678", ["（+86）13812345678"]),
        ("12812345678", []),  # 12X is not a mobile prefix
        ("1381234567", []),  # 10 digits
        ("138123456789", []),  # 12 digits
        ("138 1234-5678", []),  # mixed separators
        ("1381 234 5678", []),  # wrong grouping
        ("订单20241381234567800", []),  # inside a longer number
        ("ID13812345678", []),  # glued to letters
        ("支行号 102100099996", []),  # 12-digit bank code
        ("9913812345678", []),  # a country code that is not +86: part of another number
    ],
)
def test_mobile(text: str, expected: list[str]) -> None:
    assert found("mobile", text) == expected


# --- 固定电话 -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("电话010-12345678转123，", ["010-12345678转123"]),
        ("电话010-62345678", ["010-62345678"]),
        ("(010)62345678", ["(010)62345678"]),
        ("（021）68888888", ["（021）68888888"]),
        ("0755 8600 1234", ["0755 8600 1234"]),
        ("0755-86001234-8021", ["0755-86001234-8021"]),  # extension after a hyphen
        ("0571-8888888ext.12", ["0571-8888888ext.12"]),
        ("座机02168888888", ["02168888888"]),  # contiguous
        ("+86 10 62345678", ["+86 10 62345678"]),
        ("热线400-820-8820", []),  # service numbers are not personal
        ("800-810-8888", []),
        ("95588", []),
        ("01012345678", []),  # contiguous with a subscriber number starting with 1: not a phone
        ("010-0234567", []),  # subscriber numbers never start with 0
        ("日期2024-03-15", []),
        ("股票代码000001.SZ", []),
        ("邮编100020", []),
    ],
)
def test_landline(text: str, expected: list[str]) -> None:
    assert found("landline", text) == expected


# --- 银行卡号 -----------------------------------------------------------------------------------


def grouped(number: str, sep: str = " ") -> str:
    return sep.join(number[i : i + 4] for i in range(0, len(number), 4))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"卡号{CARD_UP19}已冻结", [CARD_UP19]),  # CJK on both sides
        (f"卡号 {grouped(CARD_UP19)} 已冻结", [grouped(CARD_UP19)]),  # 4-4-4-4-3
        (f"卡号{grouped(CARD_UP16, '-')}。", [grouped(CARD_UP16, "-")]),
        (f"Visa {CARD_VISA}", [CARD_VISA]),
        (f"{grouped(CARD_VISA)}", [grouped(CARD_VISA)]),
        (f"卡号{wrong_last(CARD_UP19)}已冻结", []),  # fails Luhn
        (f"订单号{wrong_last(luhn_complete('202403151234567'))}", []),  # 16-digit order number
        (f"{luhn_complete('12345678901234')}5", []),  # 16 digits but starts with 1
        (f"{luhn_complete('7' * 15)}", []),  # issuer prefix 7: no card
        (f"{grouped(CARD_UP16)[:-5]}-{CARD_UP16[-4:]}", []),  # mixed separators
        (f"9{CARD_UP19}", []),  # 20 digits
        (f"A{CARD_VISA}", []),
        ("尾号8848的卡", []),
    ],
)
def test_bank_card(text: str, expected: list[str]) -> None:
    assert found("bank_card", text) == expected


def test_unionpay_scores_above_other_issuers() -> None:
    unionpay = get_detector("bank_card").detect(CARD_UP19)[0]
    visa = get_detector("bank_card").detect(CARD_VISA)[0]
    assert unionpay.score > visa.score >= 0.85


def test_id_shaped_18_digit_numbers_are_not_cards() -> None:
    # An 18-digit number with a valid region and birth date that passes Luhn but fails the ID
    # check: a mistyped ID number, not a card, unless called a card or UnionPay.
    for seq in range(100, 1000):
        body = f"34010219850615{seq:03d}"
        candidates = [body + d for d in "0123456789" if luhn_valid(body + d) and id_check(body) != d]
        if candidates:
            break
    number = candidates[0]
    assert found("bank_card", f"证件{number}") == []
    assert found("bank_card", f"卡号{number}") == [number]
    assert found("id_card", f"证件{number}") == []


# --- 统一社会信用代码 ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"统一社会信用代码：{USCC_A}。", [USCC_A]),
        (f"信用代码{USCC_B}的企业", [USCC_B]),
        (f"{USCC_B}", [USCC_B]),
        (f"信用代码{uscc_complete('52100000500018751')}", [uscc_complete("52100000500018751")]),
        (f"信用代码{wrong_last(USCC_A, USCC_CHARS)}", []),  # wrong check character
        # lower-case check characters are typed too (the privacy issue's list of missed forms)
        (f"{uscc_complete('91350100M000100Y4').lower()}", [uscc_complete("91350100M000100Y4").lower()]),
        ("91350100M0001O0Y43", []),  # O is not in the alphabet
        (f"{uscc_complete('99350100M000100Y4')}", []),  # 9 + 9: no such organisation kind
        (f"{uscc_complete('91990100M000100Y4')}", []),  # 99: no such region
        (f"X{USCC_A}", []),
    ],
)
def test_uscc(text: str, expected: list[str]) -> None:
    assert found("uscc", text) == expected


def test_all_digit_uscc_shaped_like_an_id_needs_context() -> None:
    # 18 digits, ID-shaped (region 113101, date 19900307) but with a wrong ID check digit, that
    # pass the USCC check (kind 11, region 3101..): a mistyped ID unless called a credit code.
    for seq in range(1000):
        code = uscc_complete(f"11310119900307{seq:03d}")
        if code.isdigit() and code[-1] != id_check(code[:17]):
            break
    assert found("uscc", f"证件{code}") == []
    assert found("uscc", f"统一社会信用代码{code}") == [code]


# --- 护照, 港澳通行证 ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("护照号E12345678，", ["E12345678"]),
        ("持护照G87654321出境", ["G87654321"]),
        ("护照EA1234567", ["EA1234567"]),
        ("Passport No. E12345678", ["E12345678"]),
        ("E12345678", ["E12345678"]),  # Chinese e-passport format, no context: lower score
        ("护照号码：P1234567", ["P1234567"]),  # other kinds only with context
        ("P1234567", []),
        ("编号E1234567", []),  # 7 digits
        ("E123456789", []),  # 9 digits without context
        ("EI1234567", []),  # I is never used
        ("型号XE12345678", []),
    ],
)
def test_passport(text: str, expected: list[str]) -> None:
    assert found("passport", text) == expected


def test_passport_context_raises_score() -> None:
    plain = get_detector("passport").detect("E12345678")[0]
    context = get_detector("passport").detect("护照E12345678")[0]
    assert context.score > plain.score


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("往来港澳通行证C12345678，", ["C12345678"]),
        ("通行证CA1234567", ["CA1234567"]),
        ("回乡证H12345678", ["H12345678"]),
        ("回乡证号M1234567801", ["M1234567801"]),  # older 10-digit form
        ("港澳居民来往内地通行证H0123456789", ["H0123456789"]),
        ("C1234567", []),  # 7 digits
        ("H123456789", []),  # 9 digits
        ("CO1234567", []),  # O is never used
        ("ABC12345678", []),
    ],
)
def test_hk_macao_permit(text: str, expected: list[str]) -> None:
    assert found("hk_macao_permit", text) == expected


# --- e-mail, IP ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("邮箱zhang.san@icbc.com.cn联系", ["zhang.san@icbc.com.cn"]),
        ("email: Li_Na+bank@example.org.", ["Li_Na+bank@example.org"]),
        ("<a.b-c@sub.mail.qq.com>", ["a.b-c@sub.mail.qq.com"]),
        ("发送至 .x@163.com", ["x@163.com"]),
        ("user@localhost", []),  # no dotted domain
        ("@163.com", []),
        ("a@b.c", []),  # one-letter TLD
        ("价格@5元", []),
    ],
)
def test_email(text: str, expected: list[str]) -> None:
    assert found("email", text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("登录IP 192.168.1.1，", ["192.168.1.1"]),
        ("来自10.0.0.254的请求", ["10.0.0.254"]),
        ("127.0.0.1", ["127.0.0.1"]),
        ("8.8.8.8。", ["8.8.8.8"]),
        ("版本1.2.3", []),
        ("版本 2.1.0.3", []),  # four parts, but called a version
        ("v1.2.3.4", []),
        ("1.2.3.4.5", []),
        ("256.1.1.1", []),
        ("1.1.1.256", []),
        ("利率3.45%", []),
        ("¥1,234,567.89", []),
    ],
)
def test_ipv4(text: str, expected: list[str]) -> None:
    assert found("ipv4", text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("地址2001:0db8:85a3:0000:0000:8a2e:0370:7334。", ["2001:0db8:85a3:0000:0000:8a2e:0370:7334"]),
        ("IPv6地址fe80::1ff:fe23:4567:890a，", ["fe80::1ff:fe23:4567:890a"]),
        ("源地址2001:db8::1.", ["2001:db8::1"]),
        ("映射::ffff:192.168.1.1登录", ["::ffff:192.168.1.1"]),
        ("addr:fe80::1", ["fe80::1"]),
        ("时间14:30:00", []),
        ("MAC 00:1A:2B:3C:4D:5E", []),
        ("比分3:2", []),
        ("12:34:56:78", []),
        ("1:2:3:4:5:6:7:8", ["1:2:3:4:5:6:7:8"]),  # six colons or more, no "::"
        ("09:15:00 来电，10:20:30 回拨，IP 1:2:3:4:5:6:7:8", ["1:2:3:4:5:6:7:8"]),
        ("09:15:00 来电，10:20:30 回拨", []),  # five colons, no "::": nothing to try
    ],
)
def test_ipv6(text: str, expected: list[str]) -> None:
    assert found("ipv6", text) == expected


# --- 车牌号 -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("车牌京A12345，", ["京A12345"]),
        ("粤B·D12345", ["粤B·D12345"]),  # small new-energy, separator
        ("沪AF12345", ["沪AF12345"]),
        ("苏E12345D", ["苏E12345D"]),  # large new-energy
        ("浙A 8K2M6", ["浙A 8K2M6"]),  # two letters in the serial
        ("川A1234学", ["川A1234学"]),
        ("京A1234", []),  # too short
        ("京I12345", []),  # I is never used
        ("新ABCD12", []),  # too many letters
        ("京A123456", []),  # too long
        ("京a12345", ["京a12345"]),  # typed in lower case (the privacy issue lists it as missed)
    ],
)
def test_license_plate(text: str, expected: list[str]) -> None:
    assert found("license_plate", text) == expected


# --- decoys: all detectors together -------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        f"订单号{wrong_last(luhn_complete('622848123456789'))}",  # 16-digit, fails Luhn
        f"号码{wrong_last(ID_A)}",  # 18 digits, wrong ID check digit
        "金额¥1,234,567.89元",
        "授信额度5000万元",
        "转账12345678元",
        "日期2024-03-15",
        "日期20240315",
        "2024年3月15日",
        "2024/03/15 14:30:59",
        "利率3.45%，年化4.2%",
        "股票代码600519，000001.SZ，股票代码600036",
        "网点号 1023，支行号 102100099996",
        "交易时间14:30",
        "软件版本 v2.3.1，build 10.0.19045",
        "流水号20240315143059123456789",  # long digit string failing every validator
        "合同编号HT-2024-000123",
        "邮编100020，传真号码未提供",
        "客服热线95588，400-820-8820",
        "第3号文件，3月15号生效",
    ],
)
def test_decoys_are_left_intact(text: str) -> None:
    assert detect_all(text) == []


# --- detect_all and overlap resolution ----------------------------------------------------------


def _span(start: int, end: int, score: float, type_: PiiType = PiiType.MOBILE, name: str = "x") -> Span:
    return Span(start, end, type_, score, name)


def test_resolve_overlaps_prefers_score_then_length() -> None:
    a = _span(0, 10, 0.9)
    b = _span(5, 20, 0.95)  # overlaps a, higher score
    c = _span(20, 30, 0.5)  # touches b only at its end: no overlap
    d = _span(25, 40, 0.5)  # overlaps c, same score, longer
    e = _span(50, 52, 0.1)
    assert resolve_overlaps([a, b, c, d, e]) == [b, d, e]


def test_resolve_overlaps_is_order_independent_and_sorted() -> None:
    spans = [_span(i, i + 3 + i % 4, 0.5 + (i % 5) / 10) for i in range(0, 60, 2)]
    first = resolve_overlaps(spans)
    assert first == resolve_overlaps(list(reversed(spans)))
    assert [s.start for s in first] == sorted(s.start for s in first)
    assert all(a.end <= b.start for a, b in itertools.pairwise(first))


def test_detect_all_resolves_a_real_overlap() -> None:
    # A valid ID number that also passes Luhn (a UnionPay-looking "62" region is Gansu):
    # both detectors fire; the validated ID wins.
    for seq in range(1000):
        number = with_id_check(f"62010219850615{seq:03d}")
        if luhn_valid(number) and number[-1] != "X":
            break
    assert found("bank_card", f"卡号{number}") == []  # a valid ID is left to the ID detector
    assert found_all(f"证件{number}") == [(number, "id_card")]
    spans = [
        *get_detector("ipv6").detect("::ffff:192.168.1.1"),
        *get_detector("ipv4").detect("::ffff:192.168.1.1"),
    ]
    assert len(spans) == 2
    assert found_all("::ffff:192.168.1.1") == [("::ffff:192.168.1.1", "ipv6")]


def test_detect_all_on_a_mixed_record() -> None:
    text = (
        f"客户张伟，身份证{ID_A}，手机+86 138-1234-5678，卡号{grouped(CARD_UP19)}，"
        f"邮箱zhang.wei@icbc.com.cn，住址北京市朝阳区建国路88号SOHO现代城3栋1201室，"
        f"登录IP 10.2.3.4，车牌京A12345，于2024-03-15 14:30转账¥5,000.00元。"
    )
    assert found_all(text) == [
        ("张伟", "person"),
        (ID_A, "id_card"),
        ("+86 138-1234-5678", "mobile"),
        (grouped(CARD_UP19), "bank_card"),
        ("zhang.wei@icbc.com.cn", "email"),
        ("北京市朝阳区建国路88号SOHO现代城3栋1201室", "address"),
        ("10.2.3.4", "ipv4"),
        ("京A12345", "license_plate"),
    ]


def test_detect_all_with_chosen_detectors() -> None:
    text = f"手机13812345678，身份证{ID_A}"
    only_mobile = detect_all(text, [get_detector("mobile")])
    assert [(s.type, s.detector) for s in only_mobile] == [(PiiType.MOBILE, "mobile")]
    assert detect_all("", default_detectors()) == []


def test_full_width_forms_are_found_with_original_offsets() -> None:
    text = "手机１３８１２３４５６７８，邮箱ｚｈａｎｇ＠ｉｃｂｃ．ｃｏｍ．ｃｎ，ＩＰ：１０．０．０．１"
    assert found_all(text) == [
        ("１３８１２３４５６７８", "mobile"),
        ("ｚｈａｎｇ＠ｉｃｂｃ．ｃｏｍ．ｃｎ", "email"),
        ("１０．０．０．１", "ipv4"),
    ]
    full_width_id = ID_A.translate(str.maketrans("0123456789X", "０１２３４５６７８９Ｘ"))
    assert found("id_card", f"身份证{full_width_id}") == [full_width_id]


def test_ipv4_after_an_ip_label_glued_to_it() -> None:
    assert found("ipv4", "IP192.168.1.1") == ["192.168.1.1"]
    assert found("ipv4", "VIP192.168.1.1") == []


def test_detectors_are_picklable_for_worker_processes() -> None:
    restored = pickle.loads(pickle.dumps(default_detectors()))  # noqa: S301 - our own objects
    assert [d.name for d in restored] == list(DEFAULT_DETECTOR_NAMES)
    assert detect_all("手机13812345678", restored)[0].type is PiiType.MOBILE


# --- properties ---------------------------------------------------------------------------------

_DATES = st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date.today())
# Ideographs around a number, but not Chinese numerals: three or more of them in a row are spoken
# digits (一三八...) and, glued to a number, part of it by design.
_CJK_TEXT = st.text(
    alphabet=st.characters(min_codepoint=0x4E00, max_codepoint=0x4E80, exclude_characters="一七三两九二五"),
    max_size=6,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    region=st.sampled_from(["110105", "310115", "440306", "510104", "650102", "820000"]),
    born=_DATES,
    seq=st.integers(0, 999),
    before=_CJK_TEXT,
    after=_CJK_TEXT,
)
def test_every_valid_id_number_is_found_in_cjk_text(
    region: str, born: dt.date, seq: int, before: str, after: str
) -> None:
    number = with_id_check(f"{region}{born:%Y%m%d}{seq:03d}")
    text = before + number + after
    spans = get_detector("id_card").detect(text)
    assert [(s.start, s.end) for s in spans] == [(len(before), len(before) + 18)]
    assert get_detector("id_card").detect(before + wrong_last(number) + after) == []


@settings(max_examples=150, deadline=None)
@given(body=st.text(alphabet="0123456789", min_size=13, max_size=16), before=_CJK_TEXT)
def test_every_luhn_valid_unionpay_number_is_found(body: str, before: str) -> None:
    number = luhn_complete("62" + body)
    assume(not (len(number) == 18 and id_check(number[:17]) == number[17]))  # that is a 身份证
    assert found("bank_card", before + number + "。") == [number]
    assert found("bank_card", before + wrong_last(number) + "。") == []


_MIXED = list("0123456789 -.:@+()（）京A粤B客户张王先生地址路号市区X")


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet=st.sampled_from(_MIXED), max_size=80))
def test_detect_all_spans_are_in_bounds_sorted_and_disjoint(text: str) -> None:
    spans = detect_all(text)
    assert all(0 <= s.start < s.end <= len(text) for s in spans)
    assert all(a.end <= b.start for a, b in itertools.pairwise(spans))


# --- the shared digit window (a speed-up) must not change what the digit patterns find ------------

_WINDOW_PIECES = (
    "+86 138 1234 5678", "8613812345678", "（+86）138-1234-5678", "E12345678", "EA1234567", "C12345678",
    "H1234567890", "91350100M000100Y43", "11010519900101123X", "110105 19900101 1234", "6222021234567890123",
    "（0755）8765-4321转123", "+86(0)21-12345678", "010-12345678ext.12", "192.168.1.1", "v1.2.3.4", "12号",
    "3单元", "x", "-", " ", "A", "9", "0", "（", "。", "客户", "卡号", "\n", "ab",
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_WINDOW_PIECES), min_size=1, max_size=8).map("".join))
def test_digit_window_scans_find_what_full_scans_find(text: str) -> None:
    from stockade.privacy.detectors import _base, codes, network, numbers

    window = _base.digit_window(text)
    patterns = (
        numbers._ID_RE, numbers._CARD_RE, numbers._MOBILE_RE, numbers._LANDLINE_PLAIN_RE,
        numbers._LANDLINE_PAREN_RE, numbers._LANDLINE_INTL_RE, codes._USCC_RE, codes._PASSPORT_RE,
        codes._PERMIT_RE, network._IPV4_RE,
    )  # fmt: skip
    for pattern in patterns:
        full = [m.span() for m in pattern.finditer(text)]
        assert [m.span() for m in pattern.finditer(text, *window)] == full, pattern.pattern
    suffixes = [m.span() for m in HOUSE_SUFFIX_RE.finditer(text)]
    assert [m.span() for m in HOUSE_SUFFIX_RE.finditer(text, window[0], window[1] + 2)] == suffixes
