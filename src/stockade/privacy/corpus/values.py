"""Generators of planted values (personal data with valid checksums) and of decoys (look-alikes that
fail every validator). Each PII generator returns ``(prefix, value, suffix)``: only ``value`` is the
gold span; the prefix/suffix are decorations a detector may include or not (``+86 ``, ``(``, ``转801``).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import random
import string

from stockade.privacy.corpus import checks, lexicon

Planted = tuple[str, str, str]


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(string.digits) for _ in range(n))


def _birth_date(rng: random.Random, start: int = 1945, end: int = 2006) -> dt.date:
    first = dt.date(start, 1, 1).toordinal()
    last = dt.date(end, 12, 31).toordinal()
    return dt.date.fromordinal(rng.randint(first, last))


def _group4(digits: str, sep: str = " ") -> str:
    return sep.join(digits[i : i + 4] for i in range(0, len(digits), 4))


# --- people ---------------------------------------------------------------------------------


class Person:
    """A generated person: surname, given name, gender, and their pinyin."""

    def __init__(self, rng: random.Random, compound: float = 0.12) -> None:
        while True:
            pool = lexicon.COMPOUND_SURNAMES if rng.random() < compound else lexicon.SURNAMES
            self.surname, self.surname_py = rng.choice(pool)
            self.female = rng.random() < 0.5
            given = lexicon.GIVEN_FEMALE if self.female else lexicon.GIVEN_MALE
            self.given, self.given_py = rng.choice(given)
            if self.name not in lexicon.AMBIGUOUS_NAMES:
                break

    @property
    def name(self) -> str:
        return self.surname + self.given

    @property
    def honorific(self) -> str:
        return "女士" if self.female else "先生"

    @property
    def pinyin(self) -> str:
        return f"{self.surname_py} {self.given_py}"

    @property
    def title_en(self) -> str:
        return "Ms." if self.female else "Mr."


# --- structured personal data ------------------------------------------------------------------


def id_card18(rng: random.Random) -> str:
    while True:
        body = rng.choice(lexicon.REGION_CODES) + _birth_date(rng).strftime("%Y%m%d") + _digits(rng, 3)
        value = body + checks.id_check_char(body)
        # An ID that also passes Luhn would be ambiguous with an 18-digit card: keep the corpus clean.
        if not checks.luhn_valid(value):
            break
    if value.endswith("X") and rng.random() < 0.15:
        value = value[:-1] + "x"  # people type the check character in lower case too
    return value


def id_card15(rng: random.Random) -> str:
    born = _birth_date(rng, 1930, 1984)
    return rng.choice(lexicon.REGION_CODES) + born.strftime("%y%m%d") + _digits(rng, 3)


def id_card(rng: random.Random) -> Planted:
    return "", id_card15(rng) if rng.random() < 0.1 else id_card18(rng), ""


def mobile_number(rng: random.Random) -> str:
    return rng.choice(lexicon.MOBILE_PREFIXES) + _digits(rng, 8)


def mobile(rng: random.Random) -> Planted:
    number = mobile_number(rng)
    style = rng.random()
    if style < 0.55:
        core = number
    elif style < 0.75:
        core = f"{number[:3]} {number[3:7]} {number[7:]}"
    else:
        core = f"{number[:3]}-{number[3:7]}-{number[7:]}"
    prefix = rng.choice(["", "", "", "", "+86 ", "+86", "+86-", "0086 ", "0086-", "(+86)"])
    return prefix, core, ""


def landline(rng: random.Random) -> Planted:
    if rng.random() < 0.5:
        area, local = rng.choice(lexicon.AREA_CODES_3), rng.choice("2345678") + _digits(rng, 7)
    else:
        area = rng.choice(lexicon.AREA_CODES_4)
        local = rng.choice("2345678") + _digits(rng, rng.choice((6, 7)))
    spaced = f"{local[:4]} {local[4:]}" if len(local) == 8 and rng.random() < 0.3 else local
    style = rng.random()
    prefix = ""
    if style < 0.5:
        core = f"{area}-{spaced}"
    elif style < 0.7:
        prefix, core = rng.choice(["(", "（"]), f"{area}{rng.choice([')', '）'])}{spaced}"
    elif style < 0.85:
        core = f"{area} {spaced}"
    else:
        core = area + local
    suffix = rng.choice(
        ["", "", "", "", f"转{_digits(rng, 3)}", f"-{_digits(rng, 4)}", f" ext. {_digits(rng, 3)}"]
    )
    return prefix, core, suffix


def bank_card_number(rng: random.Random) -> str:
    while True:
        prefix, lengths = rng.choice(lexicon.CARD_BINS)
        body = prefix + _digits(rng, rng.choice(lengths) - len(prefix) - 1)
        number = body + checks.luhn_check_digit(body)
        if not checks.id18_valid(number):  # never ambiguous with a resident ID
            return number


def bank_card(rng: random.Random) -> Planted:
    number = bank_card_number(rng)
    style = rng.random()
    if style < 0.6:
        return "", number, ""
    if style < 0.92:
        return "", _group4(number), ""
    return "", _group4(number, "-"), ""


def uscc(rng: random.Random) -> Planted:
    alphabet = checks.USCC_ALPHABET
    while True:
        authority, category = rng.choice(["91", "91", "91", "91", "92", "93", "12", "52", "Y1"])
        region = rng.choice(lexicon.REGION_CODES)
        org_body = "".join(
            rng.choice(string.digits if rng.random() < 0.8 else alphabet[10:]) for _ in range(8)
        )
        first17 = authority + category + region + org_body + checks.org_code_check(org_body)
        value = first17 + checks.uscc_check_char(first17)
        if not (value.isdigit() and (checks.id18_valid(value) or checks.luhn_valid(value))):
            return "", value, ""


def passport(rng: random.Random) -> Planted:
    return "", "E" + _digits(rng, 8), ""


def hk_macao_permit(rng: random.Random) -> Planted:
    """往来港澳通行证 (C + 8 digits)."""
    return "", "C" + _digits(rng, 8), ""


def home_return_permit(rng: random.Random) -> Planted:
    """港澳居民来往内地通行证 / 回乡证 (H for Hong Kong, M for Macao; 8 or 10 digits)."""
    return "", rng.choice("HM") + _digits(rng, rng.choice((8, 10))), ""


def email(rng: random.Random, person: Person | None = None) -> Planted:
    person = person or Person(rng)
    sur, giv = person.surname_py.lower(), person.given_py.lower()
    local = rng.choice(
        [
            f"{sur}{giv}",
            f"{sur}.{giv}",
            f"{giv}_{sur}",
            f"{sur}{giv}{rng.randint(1, 99)}",
            f"{sur[0]}{giv}{rng.randint(1960, 2005)}",
            _digits(rng, rng.randint(6, 10)).lstrip("0") or "10001",
            f"{giv}.{sur}-work",
        ]
    )
    return "", f"{local}@{rng.choice(lexicon.EMAIL_DOMAINS)}", ""


def ipv4(rng: random.Random) -> Planted:
    first = rng.choice(
        [
            10,
            36,
            58,
            61,
            101,
            106,
            112,
            114,
            116,
            117,
            119,
            120,
            121,
            123,
            172,
            180,
            183,
            192,
            202,
            210,
            218,
            222,
        ]
    )
    if first == 192:
        rest = [168, rng.randint(0, 255), rng.randint(1, 254)]
    elif first == 172:
        rest = [rng.randint(16, 31), rng.randint(0, 255), rng.randint(1, 254)]
    else:
        rest = [rng.randint(0, 255), rng.randint(0, 255), rng.randint(1, 254)]
    return "", ".".join(str(x) for x in [first, *rest]), ""


def ipv6(rng: random.Random) -> Planted:
    prefix = rng.choice([(0x2001, 0x0DB8), (0x240E, None), (0x2409, 0x8A00), (0x2408, None), (0xFE80, 0)])
    groups = [prefix[0], prefix[1] if prefix[1] is not None else rng.randint(0, 0xFFFF)]
    groups += [rng.choice([0, rng.randint(0, 0xFFFF)]) for _ in range(6)]
    if rng.random() < 0.6:  # a run of zeros to compress
        start = rng.randint(2, 5)
        for i in range(start, min(8, start + rng.randint(2, 3))):
            groups[i] = 0
    groups[7] = groups[7] or rng.randint(1, 0xFFFF)
    address = ipaddress.IPv6Address(int("".join(f"{g:04x}" for g in groups), 16))
    style = rng.random()
    if style < 0.7:
        text = address.compressed
    elif style < 0.85:
        text = address.exploded
    else:
        text = address.compressed.upper()
    return "", text, ""


def license_plate(rng: random.Random) -> Planted:
    province = rng.choice(checks.PLATE_PROVINCES)
    city = rng.choice(checks.PLATE_LETTERS[:12])
    style = rng.random()
    if style < 0.5:  # ordinary: 5 characters, at most 2 letters
        tail = list(_digits(rng, 5))
        for i in rng.sample(range(5), rng.choice((0, 0, 1, 2))):
            tail[i] = rng.choice(checks.PLATE_LETTERS)
        rest = "".join(tail)
    elif style < 0.85:  # small new-energy: D/F + letter-or-digit + 4 digits
        rest = rng.choice("DF") + rng.choice(checks.PLATE_LETTERS + string.digits) + _digits(rng, 4)
    else:  # large new-energy: 5 digits + D/F
        rest = _digits(rng, 5) + rng.choice("DF")
    sep = rng.choice(["", "", "", "·", " "])
    return "", f"{province}{city}{sep}{rest}", ""


def address(rng: random.Random) -> Planted:
    style = rng.random()
    if style < 0.12:
        province, city, county, town = rng.choice(lexicon.RURAL)
        village = f"{rng.choice(lexicon.VILLAGES)}{rng.randint(1, 12)}组{rng.randint(1, 60)}号"
        return "", f"{province}{city}{county}{town}{village}", ""
    if style < 0.5:
        city = rng.choice(list(lexicon.MUNICIPALITIES))
        district = rng.choice(lexicon.MUNICIPALITIES[city])
        head = f"{city}{district}" if rng.random() < 0.85 else district
    else:
        province = rng.choice(list(lexicon.PROVINCES))
        city = rng.choice(list(lexicon.PROVINCES[province]))
        district = rng.choice(lexicon.PROVINCES[province][city])
        head = rng.choice([f"{province}{city}{district}", f"{city}{district}", f"{province}{city}{district}"])
    road = f"{rng.choice(lexicon.ROADS)}{rng.randint(1, 999)}号"
    floor, room = rng.randint(1, 32), rng.randint(1, 12)
    unit = rng.choice(
        [
            "",
            f"{rng.randint(1, 20)}栋{floor}{room:02d}室",
            f"{rng.choice('ABCD')}座{floor}{room:02d}室",
            f"{rng.choice(lexicon.ESTATES)}{rng.randint(1, 30)}号楼{rng.randint(1, 6)}单元{floor}{room:02d}",
            f"{rng.choice(lexicon.ESTATES)}{rng.randint(1, 30)}幢{floor}{room:02d}室",
            f"{rng.choice(lexicon.TOWERS)}{floor}层",
        ]
    )
    return "", head + road + unit, ""


# --- decoys -----------------------------------------------------------------------------------


def _fail_luhn(number: str) -> str:
    """Only one last digit passes Luhn, so changing it once always fails."""
    if checks.luhn_valid(number):
        number = number[:-1] + str((int(number[-1]) + 1) % 10)
    return number


def order_no(rng: random.Random) -> str:
    """16-digit order / serial number that fails Luhn."""
    style = rng.random()
    if style < 0.5:
        day = dt.date.fromordinal(dt.date(2023, 1, 1).toordinal() + rng.randint(0, 700))
        number = day.strftime("%Y%m%d") + _digits(rng, 8)
    elif style < 0.75:
        number = rng.choice(["6222", "6217", "6228", "4367"]) + _digits(rng, 12)  # card-like, bad Luhn
    else:
        number = rng.choice("123456789") + _digits(rng, 15)
    return _fail_luhn(number)


def bad_id(rng: random.Random) -> str:
    """18 digits shaped like a resident ID (region, birth date) with a wrong check digit."""
    while True:
        body = rng.choice(lexicon.REGION_CODES) + _birth_date(rng).strftime("%Y%m%d") + _digits(rng, 3)
        right = checks.id_check_char(body)
        wrong = rng.choice([c for c in "0123456789" if c != right])
        value = body + wrong
        if not checks.luhn_valid(value):
            return value


def amount(rng: random.Random) -> str:
    style = rng.randrange(7)
    if style == 0:
        return f"¥{rng.randint(1000, 9_999_999):,}.{rng.randint(0, 99):02d}"
    if style == 1:
        return f"{rng.choice([50, 200, 500, 1200, 3000, 5000, 8000])}万元"
    if style == 2:
        return f"{rng.randint(10_000, 99_999_999)}元"
    if style == 3:
        return f"{rng.randint(100, 999_999):,}.{rng.randint(0, 99):02d}元"
    if style == 4:
        return f"RMB {rng.randint(1000, 9_999_999):,}.00"
    if style == 5:
        return f"{rng.randint(1, 30)}.{rng.randint(1, 9)}亿元"
    return f"人民币{rng.choice(['伍拾万元整', '壹佰贰拾万元整', '叁万伍仟元整'])}"


def date(rng: random.Random) -> str:
    day = dt.date.fromordinal(dt.date(2019, 1, 1).toordinal() + rng.randint(0, 2500))
    return rng.choice(
        [
            day.strftime("%Y-%m-%d"),
            day.strftime("%Y%m%d"),
            f"{day.year}年{day.month}月{day.day}日",
            day.strftime("%Y/%m/%d"),
            day.strftime("%Y.%m.%d"),
        ]
    )


def time_of_day(rng: random.Random) -> str:
    h, m, s = rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59)
    return rng.choice([f"{h:02d}:{m:02d}", f"{h:02d}:{m:02d}:{s:02d}", f"{h}时{m}分"])


def rate(rng: random.Random) -> str:
    return rng.choice(
        [f"{rng.uniform(1.5, 8):.2f}%", f"{rng.uniform(1.5, 8):.1f}%", f"{rng.randint(1, 30)}‰"]
    )


def stock(rng: random.Random) -> str:
    code = rng.choice(lexicon.STOCKS)
    if rng.random() < 0.4:
        return code + (".SH" if code.startswith("6") else ".SZ")
    return code


def branch(rng: random.Random) -> str:
    return str(rng.randint(1001, 99999))


def bank_no(rng: random.Random) -> str:
    """12-digit 联行号 (CNAPS bank code)."""
    return rng.choice(["102", "103", "104", "105", "301", "308"]) + _digits(rng, 9)


def version(rng: random.Random) -> str:
    v = f"{rng.randint(1, 12)}.{rng.randint(0, 20)}.{rng.randint(0, 30)}"
    return rng.choice([v, "v" + v, "V" + v])


def contract(rng: random.Random) -> str:
    return (
        rng.choice(["HT", "DK", "JK", "TS", "GD"])
        + str(rng.randint(2019, 2025))
        + _digits(rng, rng.randint(6, 9))
    )


def hotline(rng: random.Random) -> str:
    return rng.choice(lexicon.HOTLINES)


def postcode(rng: random.Random) -> str:
    return rng.choice(["100020", "200120", "518057", "310012", "610041", "430072", "210008"])


def card_tail(rng: random.Random) -> str:
    return _digits(rng, 4)


DECOYS = {
    "order_no": order_no,
    "bad_id": bad_id,
    "amount": amount,
    "date": date,
    "time": time_of_day,
    "rate": rate,
    "stock_code": stock,
    "branch_no": branch,
    "bank_no": bank_no,
    "version": version,
    "contract_no": contract,
    "hotline": hotline,
    "postcode": postcode,
    "card_tail": card_tail,
}
