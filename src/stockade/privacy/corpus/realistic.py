"""A realistic labelled corpus of bank text with the hard surface forms of personal data, and its scorer.

Caveat: this generator is written from the list of forms in the issue (spoken and full-width numbers,
odd groupings, names without trigger words, minority and romanised names, village and development-zone
addresses, decoys), separately from the detectors and without reading their patterns, so that it
measures what they miss rather than what they were built for. It is still written by the same team
that writes the detectors, and synthetic text is never as varied as real text: a held-out corpus of
real-style text is scored separately, and a good score here is necessary, not sufficient.

Records (:class:`RealisticRecord`) are call-centre transcripts (坐席/客户 turns), complaint tickets, loan
and KYC notes, bilingual wire instructions (SWIFT-style fields), e-mails, IM chat logs, and clean
records with no personal data at all. Each carries ``gold`` spans ``(start, end, type, form)`` (type is
a :class:`~stockade.privacy.spans.PiiType` value, form one of :data:`FORMS`), ``decoys``
``(start, end, kind)`` that must not be detected, and ``values``: the canonical value planted for each
gold span (ASCII digits, upper-case check character) on which checksums can be verified.

Gold spans are what a desensitizer must remove: a ``+86``/``0086`` prefix, the opening parenthesis of
an area code and an extension (``转123``) are outside them; after an honorific (张先生) only the surname
is gold. Addresses run from the province or city to the last digit (and the 号/室/组/幢 after it); a wire
instruction's beneficiary abroad has one in Latin letters (``latin``: from the flat to the city).

    records = generate_realistic(1500, seed=7)
    report = score_realistic(records, detect_all, misses=5)
    report["categories"]["person_zh"]["recall"]
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from stockade.privacy.corpus import realistic_values as rv
from stockade.privacy.corpus.realistic_pools import COMPANY_KINDS, COMPANY_STEMS
from stockade.privacy.corpus.realistic_values import CHINESE_ADDRESS_FORMS, DECOY_KINDS, FORMS

__all__ = [
    "DECOY_KINDS",
    "FORMS",
    "RECORD_KINDS",
    "TARGETS",
    "Decoy",
    "Gold",
    "RealisticRecord",
    "category_of",
    "check_targets",
    "generate_realistic",
    "score_desensitized",
    "score_realistic",
]

STRUCTURED = frozenset(t for t in FORMS if t not in ("person", "address"))
TARGETS: dict[str, float] = {
    "structured": 0.995,
    "person_zh": 0.95,
    "person_romanised": 0.90,
    "address": 0.95,
    "decoys_kept": 0.98,
    "clean_unchanged": 0.99,
}
ADDRESS_COVER = 0.9  # share of an address's characters that detected address spans must cover


class Gold(NamedTuple):
    start: int
    end: int
    type: str
    form: str


class Decoy(NamedTuple):
    start: int
    end: int
    kind: str


@dataclass
class RealisticRecord:
    """One document; ``text[g.start:g.end]`` for ``g = gold[i]`` is gold value ``values[i]`` as written
    (``values[i]`` is its canonical form)."""

    kind: str
    text: str
    gold: list[Gold] = field(default_factory=list)
    decoys: list[Decoy] = field(default_factory=list)
    values: list[str] = field(default_factory=list)
    clean: bool = False

    def surface(self, item: Gold | Decoy) -> str:
        return self.text[item.start : item.end]


def category_of(pii_type: str, form: str) -> str:
    """structured | person_zh | person_romanised | address."""
    if pii_type == "person":
        return "person_romanised" if form.startswith("romanised") else "person_zh"
    return "address" if pii_type == "address" else "structured"


# ---------------------------------------------------------------- building a record


BARE_CONTEXTS: tuple[tuple[str, str], ...] = (
    ("经与", "电话核实，其本人确认借款用途为装修。"),
    ("已告知", "本人逾期后果。"),
    ("", "表示近期资金周转困难，承诺月底前还清。"),
    ("今日上午", "到柜台办理了挂失补卡。"),
    ("据", "反映，其名下账户近期有异常登录。"),
    ("我行已向", "发送还款提醒短信。"),
    ("", "称本人并未授权该笔交易。"),
    ("系统显示", "于上周三在自助设备上修改了密码。"),
    ("", "来电要求提前结清贷款。"),
    ("回访时", "对处理结果表示满意。"),
    ("催收员与", "约定下周一还款。"),
    ("", "未接听电话，已留言。"),
    ("请", "于三个工作日内补充收入证明。"),
    ("上述款项由", "代为偿还。"),
    ("多次致电其亲属", "，均未接通。"),
    ("短信提醒", "按时还款。"),
    ("已告知", "本人处理进度。"),
)
TRIGGERS: tuple[str, ...] = ("客户", "持卡人", "申请人", "借款人", "委托人", "代理人", "共同借款人", "联系人")


class _Builder:
    """Appends text, gold values and decoys, keeping offsets; remembers the Han names it planted."""

    def __init__(self, r: random.Random, kind: str) -> None:
        self.r = r
        self.kind = kind
        self.parts: list[str] = []
        self.pos = 0
        self.gold: list[Gold] = []
        self.decoys: list[Decoy] = []
        self.values: list[str] = []
        self.people: list[tuple[str, list[str]]] = []  # Han names with pinyin, for romanised echoes

    def t(self, text: str) -> _Builder:
        self.parts.append(text)
        self.pos += len(text)
        return self

    def v(self, surface: str, pii_type: str, form: str, canonical: str | None = None) -> _Builder:
        self.gold.append(Gold(self.pos, self.pos + len(surface), pii_type, form))
        self.values.append(surface if canonical is None else canonical)
        return self.t(surface)

    def d(self, surface: str, kind: str) -> _Builder:
        self.decoys.append(Decoy(self.pos, self.pos + len(surface), kind))
        return self.t(surface)

    def decoy(self, kind: str) -> _Builder:
        return self.d(rv.make_decoy(self.r, kind), kind)

    def word(self, before: str, word: str, after: str) -> _Builder:
        """Plain text with a common word containing a surname character, marked as a decoy."""
        return self.t(before).d(word, "word").t(after)

    # structured values -------------------------------------------------------------------
    def struct(self, pii_type: str, forms: Iterable[str] | None = None) -> _Builder:
        r = self.r
        form = r.choice(tuple(forms) if forms is not None else FORMS[pii_type])
        if pii_type == "id_card":
            surface, value = rv.make_id_card(r, form)
        elif pii_type == "mobile":
            surface, value = rv.make_mobile(r, form)
            if form == "plus86":
                self.t(r.choice(("+86 ", "+86", "0086 ", "0086-", "(+86)", "+86-")))
        elif pii_type == "bank_card":
            surface, value = rv.make_bank_card(r, form)
        elif pii_type == "landline":
            surface, value = rv.make_landline(r, form)
            if form == "paren":
                self.t("(" if ")" in surface else "（")
        elif pii_type == "uscc":
            surface, value = rv.make_uscc(r, form)
        elif pii_type == "license_plate":
            surface, value = rv.make_plate(r, form)
        elif pii_type == "ipv6":
            surface = value = rv.make_ipv6(r, form)
        else:
            surface = value = {
                "ipv4": rv.make_ipv4,
                "passport": rv.make_passport,
                "hk_macao_permit": rv.make_permit,
            }[pii_type](r)
        self.v(surface, pii_type, form, value)
        if form == "extension":
            self.t(f"{r.choice(('转', '转', '-', ' ext.'))}{r.randint(1, 8999)}")
        return self

    def email(self, pinyin: list[str] | None = None) -> _Builder:
        pinyin = pinyin or rv.chinese_name(self.r, 3)[1]
        return self.v(rv.make_email(self.r, pinyin), "email", "plain")

    # names -------------------------------------------------------------------------------
    def han(self, form: str) -> _Builder:
        """A Han name: trigger2/trigger3/bare2/bare3/list (2 or 3 chars) or compound (3-4 chars)."""
        r = self.r
        if form == "compound":
            name, pinyin = rv.chinese_name(r, r.choice((3, 3, 4)), compound=True)
        elif form.endswith("2"):
            name, pinyin = rv.chinese_name(r, 2)
        elif form.endswith("3"):
            name, pinyin = rv.chinese_name(r, 3)
        else:
            name, pinyin = rv.chinese_name(r, r.choice((2, 3, 3)))
        self.people.append((name, pinyin))
        return self.v(name, "person", form)

    def name(self, *, trigger: bool) -> _Builder:
        """Some person name in a context that has (``trigger``) or lacks a trigger word before it."""
        r = self.r
        roll = r.random()
        if roll < 0.12:
            return self.han("compound")
        if roll < 0.22:
            form = r.choice(("tibetan", "uyghur", "mongolian"))
            return self.v(rv.minority_name(r, form), "person", form)
        base = "trigger" if trigger else "bare"
        return self.han(base + r.choice("233"))

    def bare_sentence(self) -> _Builder:
        """A sentence of running text with a person name and no trigger word before it."""
        before, after = self.r.choice(BARE_CONTEXTS)
        return self.t(before).name(trigger=False).t(after)

    def trigger_name(self) -> _Builder:
        """A trigger word in running text (客户, 持卡人, 联系人...) and a name after it."""
        return self.t(self.r.choice(TRIGGERS)).name(trigger=True)

    def mou(self) -> _Builder:
        surname = self.r.choice(sorted(rv.SURNAMES))
        return self.v(surname + self.r.choice(("某", "某某", "某某")), "person", "mou")

    def honorific(self) -> _Builder:
        r = self.r
        pool = rv.COMPOUND_SURNAMES if r.random() < 0.1 else rv.SURNAMES
        self.v(r.choice(sorted(pool)), "person", "honorific")
        return self.t(r.choice(("先生", "女士", "先生", "女士", "经理", "总", "阿姨", "师傅", "老师")))

    def name_list(self, count: int | None = None) -> _Builder:
        count = count or self.r.choice((2, 2, 3))
        for i in range(count):
            if i:
                self.t("和" if i == count - 1 and self.r.random() < 0.4 else "、")
            self.han("list")
        return self

    def han_pinyin(self) -> list[str]:
        """Pinyin of a Han name already in the record (planting one first if there is none)."""
        if not self.people:
            raise ValueError("no Han name planted yet")
        return self.r.choice(self.people)[1]

    def romanised(self, form: str) -> _Builder:
        return self.v(rv.romanise(self.r, self.han_pinyin()), "person", form)

    # addresses ---------------------------------------------------------------------------
    def address(self, forms: Iterable[str] | None = None) -> _Builder:
        form = self.r.choice(tuple(forms) if forms is not None else CHINESE_ADDRESS_FORMS)
        return self.v(rv.make_address(self.r, form), "address", form)

    def company(self) -> str:
        city = self.r.choice(rv.CITIES)[1][:-1]
        return city + self.r.choice(COMPANY_STEMS) + self.r.choice(COMPANY_KINDS)

    def build(self, *, clean: bool = False) -> RealisticRecord:
        return RealisticRecord(self.kind, "".join(self.parts), self.gold, self.decoys, self.values, clean)


_SPOKEN_OK = ("plain", "spoken", "pause_grouped", "irregular", "g3_4_4", "groups4", "g6_8_4", "lower_x")
_WRITTEN = {
    "id_card": ("plain", "lower_x", "groups4", "g6_8_4", "fullwidth", "pause_grouped"),
    "mobile": ("plain", "plus86", "g3_4_4", "pause_grouped", "fullwidth", "irregular"),
    "bank_card": ("plain", "groups4", "irregular", "fullwidth"),
}


def _spoken_forms(pii_type: str) -> tuple[str, ...]:
    """Forms a caller reads out: spoken numerals weighted up, full-width left out."""
    forms = tuple(f for f in FORMS[pii_type] if f in _SPOKEN_OK)
    return (*forms, "spoken", "spoken")


def _shuffled(r: random.Random, steps: list[Callable[[], Any]], keep: int) -> list[Callable[[], Any]]:
    chosen = r.sample(steps, min(keep, len(steps)))
    return chosen


# ---------------------------------------------------------------- record kinds


def _call_transcript(b: _Builder) -> None:
    r = b.r
    b.t("【通话录音转写】").decoy("date").t(" ").decoy("time").t("\n坐席：您好，").decoy("org")
    b.t(r.choice(("信用卡中心，", "客服中心，")) + "工号").decoy("branch_no").t("，请问是")
    b.name(trigger=False).t(r.choice(("本人吗？\n客户：是的，我是。\n", "吗？\n客户：对，是我。\n")))

    def identity() -> None:
        b.t("坐席：为了核实身份，麻烦您报一下身份证号码。\n客户：")
        b.struct("id_card", _spoken_forms("id_card")).t(r.choice(("。\n", "，您核对一下。\n")))

    def phone() -> None:
        b.t("坐席：您预留的手机号是多少？\n客户：").struct("mobile", _spoken_forms("mobile"))
        b.t(r.choice(("。\n", "，这个号一直在用。\n")))

    def card() -> None:
        b.t("坐席：请问是尾号哪张卡？\n客户：卡号是").struct("bank_card", _spoken_forms("bank_card")).t(
            "。\n"
        )

    def home() -> None:
        b.t("坐席：账单寄送地址需要更新吗？\n客户：要的，现在住在")
        b.address(("spoken_number", "spoken_number", "compound_unit", "zone_block", "village_group"))
        b.t("。\n")

    def complaint() -> None:
        b.t("客户：你们的人").t(
            r.choice(("多次致电我亲属", "一直打电话给我表哥", "还找到我同事", "上门找了"))
        )
        b.name(trigger=False).t("，我真的很不").word("", "高兴", "。\n")

    def plan() -> None:
        b.t("坐席：理解您的心情，").honorific().t("。我们可以给您申请分期还款").word(
            "", "方案", "，本期最低还款"
        )
        b.decoy("amount").t("，还款日是").decoy("date").t("。\n")

    def relative() -> None:
        b.t("客户：上次是").name(trigger=False).t(r.choice(("帮我还的", "替我接的电话", "陪我去网点办的")))
        b.t("，手机").struct("mobile", _spoken_forms("mobile")).t("，你们别再打了。\n")

    def abroad() -> None:
        b.t("客户：我上个月在").decoy("place").t("出差，刷了").decoy("amount").t("，交易时间大概是")
        b.decoy("time").t("。\n")

    for step in _shuffled(
        r, [identity, phone, card, home, complaint, plan, relative, abroad], r.randint(4, 7)
    ):
        step()
    b.t("坐席：好的，如有疑问请致电").decoy("hotline").t("，感谢您的来电，再见。\n")


def _complaint_ticket(b: _Builder) -> None:
    r = b.r
    b.t("投诉工单\n工单编号：").decoy("txn_ref").t("\n受理时间：").decoy("date").t(" ").decoy("time")
    b.t("\n受理渠道：").decoy("hotline").t("\n客户姓名：").name(trigger=True)
    b.t("\n联系电话：").struct("mobile", _WRITTEN["mobile"])
    if r.random() < 0.5:
        b.t(" / ").struct("landline")
    b.t("\n证件号码：").struct("id_card", _WRITTEN["id_card"])
    if r.random() < 0.4:
        b.t("\n车牌号码：").struct("license_plate")
    if r.random() < 0.3:
        b.t("\n异常登录IP：").struct(r.choice(("ipv4", "ipv6", "ipv6")))
    b.t("\n投诉内容：客户称催收人员自").decoy("date").t("起")
    b.t(r.choice(("多次致电其亲属", "反复联系其同事", "多次拨打其父亲", "上门骚扰其邻居"))).name(
        trigger=False
    )
    b.t("，并短信提醒").mou().t("代为还款，对其生活造成严重影响。客户要求停止催收，")
    b.word("必要", "时发送", "律师函。")
    b.t("涉及欠款").decoy("amount").t("，卡号").struct("bank_card", _WRITTEN["bank_card"]).t("。")
    b.t("\n处理过程：").bare_sentence()
    if r.random() < 0.5:
        b.trigger_name().t(r.choice(("补充说明，", "来电称，"))).bare_sentence()
    b.t("客户情绪稳定。相关").word("", "文件", "已归档，")
    b.t(r.choice(("经办人", "处理人", "复核人"))).t("：").name(trigger=True)
    b.t("。回访电话").struct("landline").t("。\n")


def _loan_note(b: _Builder) -> None:
    r = b.r
    b.t(r.choice(("贷前调查笔记", "个人经营贷调查报告", "KYC尽职调查记录")) + "\n")
    b.t("借款人").name_list().t("（共同借款人），身份证号分别为").struct("id_card", _WRITTEN["id_card"])
    b.t("、").struct("id_card", _WRITTEN["id_card"]).t("。\n")
    steps = []

    def business() -> None:
        b.t("经营实体：" + b.company() + "，统一社会信用代码").struct("uscc").t("，经营地址")
        b.address(("dev_zone", "tower_floor", "building_room", "road_number")).t("。\n")

    def home() -> None:
        b.t("居住地址：").address().t("，自有住房，无抵押。\n")

    def contact() -> None:
        b.t("紧急联系人").mou().t("（").d(r.choice(("母亲", "父亲", "配偶", "姐姐")), "word")
        b.t("），联系电话").struct("mobile", _WRITTEN["mobile"]).t("。\n")

    def docs() -> None:
        b.t("客户持有因私护照，护照号码").struct("passport").t("；往来港澳通行证号码").struct(
            "hk_macao_permit"
        )
        b.t("，近一年有出境记录。\n")

    def car() -> None:
        b.t("名下车辆").struct("license_plate").t("，评估价值").decoy("amount").t("。\n")

    def guarantor() -> None:
        b.t("担保人").name(trigger=True).t("，手机").struct("mobile", _WRITTEN["mobile"]).t("，住")
        b.address().t("。\n")

    def bare() -> None:
        b.t("走访时").name(trigger=False).t(r.choice(("在店内", "不在家", "称经营正常")))
        b.t("，其配偶").name(trigger=False).t(r.choice(("负责记账", "在外务工", "另有工作")))
        b.t("。上游供应商为").decoy("org").t("的代发客户。\n")

    def terms() -> None:
        b.t("申请金额").decoy("amount").t("，年化利率").decoy("rate").t("，产品代码").decoy("product_code")
        b.t("，合同编号").decoy("bad_id").t("，还款").word("", "方案", "为等额本息。\n")

    def notes() -> None:
        b.t("备注：").bare_sentence().trigger_name()
        b.t(r.choice(("，经营情况正常。", "收入来源稳定。", "，征信无逾期记录。", "名下另有一套住房。"))).t(
            "\n"
        )

    steps = [business, home, contact, docs, car, guarantor, bare, terms, notes]
    for step in _shuffled(r, steps, r.randint(4, 7)):
        step()
    b.t(r.choice(("调查人：", "客户经理：", "审批人："))).name(trigger=True).t("  ").decoy("date").t("\n")


def _wire(b: _Builder) -> None:
    r = b.r
    b.t("跨境汇款申请 Outward Remittance Application\nReference 业务编号: ").decoy("txn_ref")
    b.t("\nRelated Ref 关联编号: ").decoy("order_no")
    b.t("\nValue Date 起息日: ").decoy("date").t("\nAmount 金额: ")
    b.d(
        f"{r.choice(('USD', 'EUR', 'HKD', 'GBP'))} {r.randint(500, 200_000):,}.{r.randint(0, 99):02d}",
        "amount",
    )
    b.t("\n50K Remitter 汇款人: ")
    b.han(r.choice(("trigger2", "trigger3", "trigger3")))
    if r.random() < 0.5:
        b.t(" / ").romanised("romanised_label")
    b.t("\nRemitter Account No. 汇款人账号: ").struct("bank_card", ("plain", "groups4", "irregular"))
    b.t("\nRemitter Address 地址: ").address(("road_number", "building_room", "compound_unit", "tower_floor"))
    b.t("\nID No. 证件号码: ")
    if r.random() < 0.5:
        b.struct("id_card", ("plain", "lower_x", "groups4", "g6_8_4"))
    else:
        b.struct("passport")
    b.t("\nTel 电话: ").struct("mobile", ("plus86", "plus86", "g3_4_4", "plain"))
    b.t("\n59 ").t(
        r.choice(("Beneficiary Name 收款人: ", "Beneficiary 收款人名称: ", "Name: ", "Payee 收款人: "))
    )
    beneficiary = rv.chinese_name(r, r.choice((2, 3, 3)))  # written in pinyin here, in Han below
    b.people.append(beneficiary)
    b.v(rv.romanise(r, beneficiary[1]), "person", "romanised_label")
    b.t("\nBeneficiary Account No. 收款账号: ").struct("bank_card", ("plain", "groups4"))
    if r.random() < 0.6:
        b.t("\nBeneficiary Address 收款人地址: ").address(("latin",))
    b.t("\nBeneficiary Bank 收款行: ").t(r.choice(("HSBC ", "Standard Chartered ", "Citibank ")))
    b.decoy("place").t("\nSWIFT BIC: ").decoy("swift")
    b.t("\nPurpose 汇款用途: ").t(
        r.choice(("留学学费 Tuition", "生活费 Living expenses", "货款 Trade payment"))
    )
    b.t("\n")
    b.t(r.choice(("Remitter: ", "Ordering Customer: ", "Applicant 申请人: "))).romanised("romanised_label").t(
        "\n"
    )
    if r.random() < 0.7:
        han, pinyin = beneficiary
        b.t("备注：收款人中文名").v(han, "person", "trigger" + ("3" if len(han) == 3 else "2"))
        b.t("，护照拼音").v(rv.romanise(r, pinyin), "person", "romanised_echo").t("，与留学材料一致。\n")
    b.t("经办网点：").decoy("org").t("，柜员号").decoy("branch_no").t("\n")


def _email(b: _Builder) -> None:
    r = b.r
    sender, pinyin = rv.chinese_name(r, r.choice((2, 3, 3)))
    b.people.append((sender, pinyin))
    b.t("发件人：").v(sender, "person", "trigger" + str(len(sender))).t(" <").email(pinyin).t(">\n")
    b.t("收件人：对公业务部\n日期：").decoy("date").t(" ").decoy("time")
    if r.random() < 0.4:
        b.t("\nX-Originating-IP: [").struct(r.choice(("ipv4", "ipv6"))).t("]")
    b.t("\n主题：关于" + b.company() + "开户资料补充\n\n")
    b.honorific().t("您好：\n")
    b.t("  附件为").name(trigger=False).t("的身份证复印件（").struct("id_card", _WRITTEN["id_card"]).t("）及")
    b.word("营业执照等", "文件", "，")
    b.t("统一社会信用代码").struct("uscc").t("，注册地址").address(
        ("dev_zone", "tower_floor", "building_room")
    )
    b.t("。\n  对公账户请开在").decoy("org").t("，授权经办人").name(trigger=True).t("，手机")
    b.struct("mobile", _WRITTEN["mobile"]).t("，办公电话").struct("landline").t("。\n")
    if r.random() < 0.5:
        b.t("  Name: ").romanised("romanised_label").t("  (for the English account form)\n")
    b.t("\n此致\n").v(sender, "person", "bare" + str(len(sender))).t("\n")
    if r.random() < 0.6:
        b.t("Best regards,\n").v(rv.romanise(r, pinyin), "person", "romanised_echo").t("\n")
    b.t("Tel: ").struct("landline").t("  Mobile: ").struct("mobile", ("plus86", "g3_4_4", "plain")).t("\n")


def _chat(b: _Builder) -> None:
    r = b.r
    stamp = f"{r.randint(2019, 2025)}-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}"
    clock = [r.randint(8, 20) * 3600 + r.randint(0, 3599)]

    def line(who: str) -> _Builder:
        clock[0] += r.randint(5, 300)
        seconds = clock[0] % 86400
        now = f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
        b.t("[").d(stamp, "date").t(" ").d(now, "time").t(f"] {who}：")
        return b

    line("客户").t("你好，我的卡").struct("bank_card", _WRITTEN["bank_card"]).t("被冻结了\n")
    line("在线客服").t("您好，请提供持卡人姓名和预留手机号\n")
    line("客户").name(trigger=False).t("，").struct("mobile", _WRITTEN["mobile"]).t("\n")
    steps = []

    def ip() -> None:
        line("客户").t("短信说登录IP是").struct(r.choice(("ipv4", "ipv6", "ipv6"))).t("，不是我本人操作\n")

    def shopping() -> None:
        line("客户").word("我在菜市场买", r.choice(("黄瓜", "米饭")), "都刷不了，")
        b.word("", "钱包", "里也没现金了\n")

    def app() -> None:
        line("在线客服").t("请将手机银行升级到").decoy("version").t("后重试，").word("交易", "金额", "")
        b.t("超过").decoy("amount").t("需要人脸识别\n")

    def mail() -> None:
        line("客户").t("流水发我邮箱吧 ").email().t("\n")

    def relative() -> None:
        line("客户").t("昨天").name(trigger=False).t(r.choice(("帮我转过一笔", "替我办的挂失", "说卡被吞了")))
        b.t("，要不要本人去网点？\n")
        line("在线客服").honorific().t("，需要您本人携带身份证到网点办理\n")

    def idcard() -> None:
        line("客户").t("身份证号").struct("id_card", _WRITTEN["id_card"]).t("\n")

    def car() -> None:
        line("客户").t("ETC绑定的车牌是").struct("license_plate").t("，扣款失败了\n")

    def other() -> None:
        line("客户").bare_sentence().t("\n")

    steps = [ip, shopping, app, mail, relative, idcard, car, other]
    for step in _shuffled(r, steps, r.randint(3, 6)):
        step()
    line("在线客服").t("已为您提交工单").decoy("txn_ref").t("，请留意短信通知\n")


def _clean(b: _Builder) -> None:
    r = b.r
    pieces: list[Callable[[], Any]] = [
        lambda: b.t("本行将于").decoy("date").t("起调整定期存款利率，三年期利率调整为").decoy("rate").t("。"),
        lambda: b.t("如有疑问，请拨打客服热线").decoy("hotline").t("或前往就近网点咨询。"),
        lambda: (
            b.t("理财产品").decoy("product_code").t("的起购").word("", "金额", "为").decoy("amount").t("。")
        ),
        lambda: b.t("手机银行").decoy("version").t("版本新增电子").word("", "钱包", "功能。"),
        lambda: b.decoy("org").t("提醒您：请勿向他人泄露短信验证码。"),
        lambda: b.t("交易流水号").decoy("txn_ref").t("，交易时间").decoy("time").t("，状态：成功。"),
        lambda: b.t("订单号").decoy("order_no").t("已退款，预计3个工作日到账。"),
        lambda: b.t("我行在").decoy("place").t("设有代表处，可办理跨境结算业务。"),
        lambda: b.t("请将签署完毕的").word("", "文件", "寄回分行营业部，合同编号").decoy("bad_id").t("。"),
        lambda: (
            b.t("本次活动的具体").word("", "方案", "以官方公告为准，").word("", "万元", "以上订单另有优惠。")
        ),
        lambda: (
            b.t("网点号")
            .decoy("branch_no")
            .t("暂停营业一天，")
            .word("给您带来不便，我们深感抱歉，祝您生活", "高兴", "。")
        ),
        lambda: b.t("大额转账").word("必要", "时发", "起人工复核，SWIFT代码").decoy("swift").t("。"),
    ]
    for piece in r.sample(pieces, r.randint(3, 6)):
        piece()
        b.t(r.choice(("", "\n")))


RECORD_KINDS: dict[str, tuple[Callable[[_Builder], None], float]] = {
    "call_transcript": (_call_transcript, 0.2),
    "complaint_ticket": (_complaint_ticket, 0.15),
    "loan_note": (_loan_note, 0.18),
    "wire": (_wire, 0.14),
    "email": (_email, 0.12),
    "chat": (_chat, 0.13),
    "clean": (_clean, 0.08),
}


def generate_realistic(n_records: int, seed: int) -> list[RealisticRecord]:
    """``n_records`` records, the same for the same ``seed``."""
    r = random.Random(seed)  # noqa: S311 - synthetic test data, not cryptography
    kinds = list(RECORD_KINDS)
    weights = [RECORD_KINDS[k][1] for k in kinds]
    records = []
    for _ in range(n_records):
        kind = r.choices(kinds, weights)[0]
        builder = _Builder(r, kind)
        RECORD_KINDS[kind][0](builder)
        records.append(builder.build(clean=kind == "clean"))
    return records


# ---------------------------------------------------------------- scoring


def _type_value(span_type: Any) -> str:
    return getattr(span_type, "value", span_type)


def _compatible(gold_type: str, span_type: str) -> bool:
    if gold_type in STRUCTURED:
        return span_type in STRUCTURED
    return span_type == gold_type


def _covered(gold: Gold, spans: list[tuple[int, int, str]]) -> float:
    """Share of ``gold``'s characters inside the union of compatible spans."""
    chars: set[int] = set()
    for start, end, span_type in spans:
        if _compatible(gold.type, span_type) and start < gold.end and gold.start < end:
            chars.update(range(max(start, gold.start), min(end, gold.end)))
    return len(chars) / (gold.end - gold.start)


def _rate(found: int, total: int) -> float | None:
    return round(found / total, 4) if total else None


def _context(text: str, start: int, end: int, width: int = 20) -> str:
    return (
        text[max(0, start - width) : start] + "【" + text[start:end] + "】" + text[end : end + width]
    ).replace("\n", "⏎")


def score_realistic(
    records: Iterable[RealisticRecord],
    detect: Callable[[str], Iterable[Any]],
    *,
    misses: int = 0,
) -> dict[str, Any]:
    """Recall per type, per ``type/form`` and per category, decoys kept, clean records unchanged.

    A gold value is caught when compatible detected spans (any structured type for a structured
    value; the same type for person and address) cover all its characters, or at least 90 % of them for an
    address (the union of spans counts). A decoy is lost when any span overlaps it. A clean record is
    unchanged when nothing at all is detected in it. ``misses``: up to that many missed values per form
    (with context and what was detected over them), lost decoys per kind and spurious spans
    (overlapping neither gold nor decoy) are listed under ``"examples"``.
    """
    counts: dict[str, dict[str, list[int]]] = {
        k: defaultdict(lambda: [0, 0]) for k in ("type", "form", "cat")
    }
    decoy_counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    clean = [0, 0]
    spurious = 0
    missed: dict[str, list[dict[str, Any]]] = defaultdict(list)
    lost: dict[str, list[str]] = defaultdict(list)
    spurious_examples: list[str] = []
    n_records = 0
    for record in records:
        n_records += 1
        text = record.text
        spans = [(s.start, s.end, _type_value(s.type)) for s in detect(text)]
        for gold in record.gold:
            need = ADDRESS_COVER if gold.type == "address" else 1.0
            hit = _covered(gold, spans) >= need - 1e-9
            form_key = f"{gold.type}/{gold.form}"
            for key, name in (
                ("type", gold.type),
                ("form", form_key),
                ("cat", category_of(gold.type, gold.form)),
            ):
                counts[key][name][0] += 1
                counts[key][name][1] += hit
            if not hit and len(missed[form_key]) < misses:
                missed[form_key].append(
                    {
                        "value": record.surface(gold),
                        "context": _context(text, gold.start, gold.end),
                        "detected": [
                            f"{t}:{text[s:e]}" for s, e, t in spans if s < gold.end and gold.start < e
                        ],
                    }
                )
        for decoy in record.decoys:
            kept = not any(s < decoy.end and decoy.start < e for s, e, _ in spans)
            decoy_counts[decoy.kind][0] += 1
            decoy_counts[decoy.kind][1] += kept
            if not kept and len(lost[decoy.kind]) < misses:
                hits = [f"{t}:{text[s:e]}" for s, e, t in spans if s < decoy.end and decoy.start < e]
                lost[decoy.kind].append(f"{_context(text, decoy.start, decoy.end)}  ← {', '.join(hits)}")
        if record.clean:
            clean[0] += 1
            clean[1] += not spans
        labelled = [(g.start, g.end) for g in record.gold] + [(d.start, d.end) for d in record.decoys]
        for s, e, t in spans:
            if not any(s < end and start < e for start, end in labelled):
                spurious += 1
                if len(spurious_examples) < misses * 4:
                    spurious_examples.append(f"{t}: {_context(text, s, e)}")

    def table(rows: dict[str, list[int]]) -> dict[str, dict[str, Any]]:
        return {k: {"gold": g, "found": f, "recall": _rate(f, g)} for k, (g, f) in sorted(rows.items())}

    decoys_total = sum(t for t, _ in decoy_counts.values())
    decoys_kept = sum(k for _, k in decoy_counts.values())
    result: dict[str, Any] = {
        "records": n_records,
        "categories": table(counts["cat"]),
        "types": table(counts["type"]),
        "forms": table(counts["form"]),
        "decoys": {
            "total": decoys_total,
            "kept": decoys_kept,
            "rate": _rate(decoys_kept, decoys_total),
            "kinds": {
                k: {"total": t, "kept": kept, "rate": _rate(kept, t)}
                for k, (t, kept) in sorted(decoy_counts.items())
            },
        },
        "clean": {"total": clean[0], "unchanged": clean[1], "rate": _rate(clean[1], clean[0])},
        "spurious_spans": spurious,
    }
    if misses:
        result["examples"] = {
            "missed": dict(missed),
            "decoys_lost": dict(lost),
            "spurious": spurious_examples,
        }
    return result


def check_targets(result: dict[str, Any]) -> list[tuple[str, float | None, float, bool]]:
    """``(name, value, target, passed)`` for each of :data:`TARGETS` (a missing value fails)."""
    values = {cat: row["recall"] for cat, row in result["categories"].items()}
    values["decoys_kept"] = result["decoys"]["rate"]
    values["clean_unchanged"] = result["clean"]["rate"]
    out = []
    for name, target in TARGETS.items():
        value = values.get(name)
        out.append((name, value, target, value is not None and value >= target))
    return out


def score_desensitized(
    records: Iterable[RealisticRecord], desensitize: Callable[[str], str], *, misses: int = 0
) -> dict[str, Any]:
    """After desensitization: gold values left verbatim (leaked) per category, decoys still verbatim.

    A gold value leaked if its string occurs in the output more often than in the input outside gold
    spans; a one-character value (a surname before 先生) is probed with the character after it.
    """
    leaked: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    decoys = [0, 0]
    examples: list[str] = []
    for record in records:
        text = record.text
        out = desensitize(text)
        masked = list(text)
        for gold in record.gold:
            masked[gold.start : gold.end] = "\0" * (gold.end - gold.start)
        outside = "".join(masked)
        for gold in record.gold:
            probe = text[gold.start : max(gold.end, gold.start + 2)]
            is_leak = out.count(probe) > outside.count(probe)
            row = leaked[category_of(gold.type, gold.form)]
            row[0] += 1
            row[1] += is_leak
            if is_leak and len(examples) < misses:
                examples.append(f"{gold.type}/{gold.form}: {probe}")
        for decoy in record.decoys:
            decoys[0] += 1
            decoys[1] += record.surface(decoy) in out
    result: dict[str, Any] = {
        "leaked": {
            cat: {"gold": total, "leaked": n, "rate": _rate(n, total)}
            for cat, (total, n) in sorted(leaked.items())
        },
        "decoys_verbatim": {"total": decoys[0], "kept": decoys[1], "rate": _rate(decoys[1], decoys[0])},
    }
    if misses:
        result["examples"] = examples
    return result
