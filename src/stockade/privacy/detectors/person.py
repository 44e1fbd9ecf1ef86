"""Personal names (姓名), found from context and checked against a real dictionary.

A Chinese name is a surname (one of ~500 single or ~60 compound surnames, resources/) plus a
given name of one or two ideographs. A bare surname character is far too common ("高新区",
"王府井", "方案"), so candidates come only from where the context says so:

1. after a context word (0.85): ``客户张伟``, ``姓名：李娜``, ``联系人：欧阳娜娜``, ``借款人为王芳``,
   ``我叫尉迟磊``, any role ending in 人 (``复核人：马欣怡``), a job title (``支行行长王强``); names
   listed after it (``借款人张三、李四和王五``) count too;
2. before a title (0.85, or 0.7 for a bare surname): ``张伟先生``, ``李经理``, ``欧阳女士``, ``董总``;
3. after a verb or relation in running text (0.75): ``多次致电其亲属卢建华``, ``请问是商哲吗``;
4. standing alone (0.75 / 0.65): two to four ideographs led by a surname, with no ideograph
   before them and a non-ideograph or a word that usually follows a name after them:
   ``（卢玉兰）``, ``备注：潘丽华还款``, ``至 付子豪 账号``;
5. names shortened in the source (``卢某某``, ``黄某``), minority names (``买买提·艾力``, ``扎西多吉``),
   romanised names after labels (``Beneficiary Name 收款人: LUO XIAOMING``) and the pinyin of a
   Chinese name found in the same text (``Luo Xiaoming``).

Every Chinese candidate then passes :mod:`~stockade.privacy.detectors.lexicon` (jieba's dictionary
and segmenter): its edges must be word boundaries (``必要时|发送`` is no name 时发), and it may not be
an ordinary word (``黄瓜``, ``母亲``) or contain one; candidates from 3 and 4 (no role or title) must
also be made of given-name characters and may not be dictionary words at all.

A title right after a bare surname (``王先生``, ``李经理``): the surname alone is the personal
part, so the span is just ``王`` and a ``replace`` operator leaves ``[姓名]先生``.

A given name takes a second ideograph unless that one usually starts the next word (的, 在, 已,
办, 申, 先生...). A stop-list of ordinary words that start with a surname character ("余额",
"项目", "高新区") and the gazetteer's place names veto candidates; a two-character word does not
veto a delimited three-character name ending in a common given-name character ("韩国强").
"""

from __future__ import annotations

import bisect
import functools
import importlib.util
import itertools
import json
import re
import unicodedata
from collections.abc import Callable
from pathlib import Path

from stockade.privacy.detectors import lexicon
from stockade.privacy.detectors._base import (
    CJK,
    DETECTORS,
    is_cjk,
    literal_alternation,
    load_words,
)
from stockade.privacy.detectors.address import CITIES, PROVINCES
from stockade.privacy.spans import PiiType, Span

SURNAMES: frozenset[str] = frozenset(load_words("surnames.txt"))
COMPOUND_SURNAMES: frozenset[str] = frozenset(load_words("compound_surnames.txt"))
_COMPOUND_HEADS = frozenset(s[0] for s in COMPOUND_SURNAMES)
_STOPWORDS: frozenset[str] = frozenset(w for w in load_words("person_stopwords.txt") if w[0] != "=")
_STOPWORDS |= frozenset(PROVINCES + CITIES)  # 江苏, 安徽, 宁波...: places, not names
_STOP2 = frozenset(w for w in _STOPWORDS if len(w) == 2)
_STOP3 = frozenset(w for w in _STOPWORDS if len(w) == 3)
GIVEN_NAME_CHARS: frozenset[str] = frozenset("".join(load_words("given_name_chars.txt")))
#: Words that veto only a candidate of exactly that text ("周一" but not "周一诺").
_STOP_EXACT = frozenset(w[1:] for w in load_words("person_stopwords.txt") if w[0] == "=")

#: Words after which a name follows: roles in banking documents, form labels.
PREFIX_CONTEXT: tuple[str, ...] = (
    "姓名", "名字", "客户", "联系人", "紧急联系人", "申请人", "借款人", "共同借款人", "主借款人",
    "贷款人", "持卡人", "收款人", "付款人", "汇款人", "户名", "账户名", "开户名", "账户名称",
    "本人", "患者", "担保人", "保证人", "经办人", "法定代表人", "法人代表", "法人", "开户人",
    "委托人", "受托人", "受益人", "被保险人", "投保人", "配偶", "客户经理", "理财经理", "签字人",
    "签收人", "收件人", "寄件人", "户主", "债务人", "债权人", "代理人", "监护人", "柜员", "业务员",
    "推荐人", "介绍人", "被执行人", "当事人", "购房人", "承租人", "出租人", "员工", "职工",
    "联络人", "负责人", "办理人", "领取人", "存款人", "取款人", "抵押人", "出质人", "继承人",
    "被告", "原告", "证人", "姓名为", "名叫", "叫做", "同事", "股东", "我是", "我叫", "本人是", "爱人",
    "丈夫", "妻子", "老公", "老婆", "儿子", "女儿", "父亲", "母亲", "哥哥", "姐姐", "弟弟", "妹妹",
    "签字", "签名", "签章", "对方户名", "收款户名", "付款户名", "报告人", "评估人", "复核人", "处理人",
    "投诉人", "审核人", "审批人", "调查人", "记录人", "填表人", "经手人", "中文名", "中文姓名", "发件人",
    # form labels without 人 (经办：张建国, 收款方：孙小红), call-centre roles, a letter's salutation
    "经办", "审批", "审核", "复核", "收款方", "付款方", "汇款方", "催收员", "坐席", "客服", "尊敬的",
    # a bank's job titles before a name (支行行长王强, 信贷员张伟)
    "行长", "副行长", "经理", "总经理", "副经理", "主任", "科长", "处长", "董事长", "总裁", "总监",
    "部长", "主管", "专员", "信贷员", "风控员", "审计员", "出纳",
)  # fmt: skip

#: Titles after a name (``张伟先生``) or a bare surname (``王经理``).
TITLES: tuple[str, ...] = (
    "先生", "女士", "小姐", "经理", "总经理", "副经理", "主任", "行长", "副行长", "老师", "律师",
    "医生", "同志", "总监", "教授", "阿姨", "师傅", "大爷", "大妈", "科长", "处长", "局长",
    "董事长", "总裁", "会计", "专员", "主管", "博士", "警官", "书记", "院长", "部长", "顾问", "总",
)  # fmt: skip
_TITLE_SET = frozenset(TITLES)

# Characters that start the next word rather than end a given name. A first given-name
# character must not be one of _G1_STOP; the second one must not be one of _G2_STOP.
_G1_STOP = frozenset(
    "的了在是和与及等或也都就还又把被从到向对将为以其该此各每您你我他她们这那并但而已未不没无"
    "有给让叫称说请需因所着过会要能办理时日年万亿共计起止至后前号卡户账电手身证住址签确持开存"
    "取转汇贷借逾欠提交先女经名现性出通反表咨投购使于今昨近本同银行支分总部门处科局司院所姐"
)  # not 小 (张小明), 可 (王可欣), 元, 之, 致, 生, 士: common in given names; titles are checked apart
# 月 and 生 end many given names (杨娟月, 吴国生); "张三生日" is cut by the lexicon check instead.
# 贵 and 家 end given names too (党贵胜, 霍子贵, 肖露家); "张三家里" is cut by the lexicon check.
_G2_STOP = (_G1_STOP - frozenset("贵")) | frozenset("男岁号日年联系地址姓籍族职吗呢吧啊呀嘛")

# Characters that are surnames but, right before another surname, are usually a preposition
# (向王经理, 于张先生处); words ending in a surname (感谢张先生) are in the stop-list.
_FUNCTION_SURNAMES = frozenset("向于和同从将与跟对由给被让叫请致找问")

#: Words that often follow a name; with a non-ideograph before it, a surname-led run of two to
#: four ideographs ending at one of these (or at a non-ideograph) is a name: "（卢玉兰）",
#: "备注：潘丽华还款", "至 付子豪 账号".
NAME_FOLLOWERS: tuple[str, ...] = (
    "还款", "账号", "账户", "卡号", "称", "说", "表示", "反映", "来电", "致电", "名下", "本人", "先生",
    "女士", "小姐", "身份证", "手机", "电话", "签字", "持", "的", "于", "已", "在", "要求", "申请",
    "承诺", "确认", "同意", "声明", "提供", "提交", "签署", "办理", "购买", "开立", "是", "为", "与",
    "和", "及", "因", "向", "通过", "作为", "系", "现", "等", "将", "今年", "今天", "昨天", "先", "未", "吗",
)  # fmt: skip
_SURNAME_HEADS = "".join(sorted((SURNAMES - _FUNCTION_SURNAMES) | {c[0] for c in COMPOUND_SURNAMES}))
_STANDALONE_RE = re.compile(
    f"[{_SURNAME_HEADS}](?<![{CJK}].)[{CJK}]{{1,3}}?(?=(?:{literal_alternation(NAME_FOLLOWERS)})|[^{CJK}]|\\Z)"
)
_FOLLOWER_RE = re.compile(literal_alternation(NAME_FOLLOWERS + TITLES))
#: At the very start of a text nothing sets a name apart on its left: the word after it must be one
#: only a person does (张伟来电反映, 王建国称), not punctuation or a word any subject takes (李华是,
#: 鲍勃：, a character of a story in general text).
_START_FOLLOWERS: tuple[str, ...] = (
    "还款", "账号", "账户", "卡号", "称", "说", "表示", "反映", "来电", "致电", "名下", "本人", "身份证",
    "手机", "电话", "签字", "要求", "申请", "承诺", "确认", "同意", "声明", "提供", "提交", "签署", "办理",
    "购买", "开立",
)  # fmt: skip
_START_FOLLOWER_RE = re.compile(literal_alternation(_START_FOLLOWERS))
# A context word, separators, then (looked ahead, not consumed) a surname character: the scan
# returns only places where a name may start, so Python code runs at few positions.
# Context words ending in 人 (申请人, 借款人, 持卡人, 联系人: dozens of roles) are found by their 人,
# a single-character literal that ``re`` scans for quickly; the rest by one trie alternation.
_ALL_HEADS = "".join(sorted(SURNAMES | {c[0] for c in COMPOUND_SURNAMES}))
_NAME_SEP = '(?:[：:\\s（("“「『|｜]|是|为|叫){0,3}'
_PREFIX_RE = re.compile(
    f"(?:{literal_alternation(w for w in PREFIX_CONTEXT if w[-1] != '人' and w[0] != '人')})"
    f"{_NAME_SEP}(?=[{_ALL_HEADS}])"
)
_REN_RE = re.compile(f"人{_NAME_SEP}(?=[{_ALL_HEADS}])")
#: 人 + a surname character that is an ordinary word, not a role followed by a name (个人文件), unless
#: the 人 ends a role (借款人文薇, 持卡人车琼雅).
_REN_WORDS = frozenset(("人文", "人车", "人权"))
_REN_ROLES = tuple(w for w in PREFIX_CONTEXT if w[-1] == "人")
_TITLE_RE = re.compile(literal_alternation(TITLES))
_LIST_SEP = "、,，和与及跟/"
_CJK_RE = re.compile(f"[{CJK}]")

_EN_LABELS = (
    "Name", "NAME", "name", "Customer", "customer", "Contact", "contact", "Borrower", "borrower",
    "Applicant", "applicant", "Client", "client", "Cardholder", "cardholder", "holder", "Holder",
    "Dear", "Regards", "regards", "Sincerely", "Guarantor", "guarantor", "Payee", "payee", "Payer",
    "payer", "manager", "Manager", "Signed", "signed", "by", "Hi", "Hello",
)  # fmt: skip
# One scan: a trie of literal trigger words (so ``re`` only tries at their first letters), then a
# capitalised name (looked ahead, so "Dear Mr. Wang" still finds "Mr"). After an honorific one
# word is enough ("Mr. Wang"); after a label, two.
_EN_HONORIFICS = ("Mrs", "Mr", "Ms", "Miss", "Dr", "Mx", "MRS", "MR", "MS")
#: Labels of bilingual forms and wire instructions after which a romanised name follows
#: (``Beneficiary Name 收款人: LUO XIAOMING``, ``Remitter: Zhang Wei``, ``户名：WANG Fang``).
_EN_FORM_LABELS = (
    "Beneficiary", "BENEFICIARY", "beneficiary", "Remitter", "REMITTER", "remitter", "Ordering Customer",
    "ORDERING CUSTOMER", "Account Name", "ACCOUNT NAME", "Account Holder", "Holder Name", "Applicant",
    "APPLICANT", "Payee", "PAYEE", "Payer", "PAYER", "Sender", "Receiver", "Attn", "ATTN", "Attention",
    "Contact Person", "Full Name", "FULL NAME", "English Name", "Name in Pinyin", "收款人", "付款人",
    "汇款人", "申请人", "户名", "账户名", "英文名", "拼音", "姓名", "联系人", "受益人", "持卡人",
)  # fmt: skip
_EN_RE = re.compile(
    # (no lookbehind in front: it would turn off the regex engine's fast scan for the first letter;
    # a trigger glued to a preceding letter, "Dolby", is skipped in Python)
    f"(?P<trigger>{literal_alternation(_EN_HONORIFICS + _EN_LABELS + _EN_FORM_LABELS)})"
    # up to two more label words in between ("Beneficiary Name 收款人:"), then the name, looked
    # ahead (not consumed) so that the next label is still found
    r"(?=(?:[ \t]*(?:Name|NAME|name|Customer|[\u4e00-\u9fff]{2,4}))?(?:[ \t]*\([^)\n]{0,12}\))?"
    r"(?:\.?\s+|[ \t]*[:：,]?[ \t]*)"
    r"(?P<name>(?:[A-Z][a-z]+|[A-Z]{2,})(?:[ -](?:[A-Z][a-z]+|[A-Z]{2,})){0,2}))"
)
# Capitalised words that are not names, after a label ("Dear Customer", "Name Change").
_EN_NOT_NAMES = frozenset(
    (
        "Customer", "Customers", "Sir", "Madam", "Client", "Team", "Bank", "Manager", "Service",
        "Support", "Card", "Account", "Loan", "Name", "Change", "Please", "Thank", "Thanks", "The",
        "This", "Your", "Our", "All", "Valued", "Branch", "Department", "Office",
    )
)  # fmt: skip


def _surname_len(text: str, p: int) -> int:
    """Length of the surname starting at ``p`` (2 for compound, 1, or 0 for none)."""
    first = text[p : p + 1]
    if first in _COMPOUND_HEADS and text[p : p + 2] in COMPOUND_SURNAMES:  # one look-up for most places
        return 2
    return 1 if first in SURNAMES else 0


def _vetoed(text: str, start: int, end: int) -> bool:
    """Whether the candidate ``text[start:end]`` is (or starts with) an ordinary word. A word of
    two characters does not veto a delimited three-character name ending in a given-name
    character ("韩国强，", "刘海燕持...")."""
    if text[start:end] in _STOP_EXACT or text[start : start + 3] in _STOP3:
        return True
    if text[start : start + 2] in _STOP2:
        return not (end - start == 3 and text[start + 2] in GIVEN_NAME_CHARS and _delimited(text, end))
    return False


def _delimited(text: str, end: int) -> bool:
    """Whether a name may end at ``end``: the text ends, or a non-ideograph, a title or a word
    that usually follows a name comes next."""
    return end >= len(text) or not is_cjk(text[end]) or _FOLLOWER_RE.match(text, end) is not None


def _title_at(text: str, p: int) -> bool:
    return text[p : p + 2] in _TITLE_SET or text[p : p + 3] in _TITLE_SET


def name_at(text: str, p: int) -> tuple[int, bool] | None:
    """The end of a Chinese name that starts at ``p`` and whether it is a bare surname
    (followed by a title), or None: :func:`_name_at_python`, in C where the optional extension is
    built (tests hold the two to each other)."""
    checker = _native_checker if _native_checker is not False else _checker()
    if checker is not None:
        return checker.name_at(text, p)
    return _name_at_python(text, p)


def _name_at_python(text: str, p: int) -> tuple[int, bool] | None:
    """:func:`name_at` in Python."""
    sl = _surname_len(text, p)
    if not sl:
        return None
    g = p + sl
    if _title_at(text, g):
        return (g, True) if not _vetoed(text, p, g) else None
    n = len(text)
    if g >= n or not is_cjk(text[g]) or text[g] in _G1_STOP:
        # A compound surname alone (欧阳) is not enough; a single one certainly not.
        return None
    g2 = g + 1
    if g2 < n and is_cjk(text[g2]) and text[g2] not in _G2_STOP and not _title_at(text, g2):
        g2 += 1
    if _vetoed(text, p, g2):
        return None
    # "客户于财务报表中", "客户向银行": a preposition here, not the surname 于 or 向; but a given name of
    # two given-name characters that is no word of the dictionary follows the surname (申请人于慧炜补充说明).
    if (
        text[p] in _FUNCTION_SURNAMES
        and sl == 1
        and (not _delimited(text, g2) or text[g2 - 1] not in GIVEN_NAME_CHARS)
        and not _given_name_after_preposition(text, g, g2)
    ):
        return None
    return g2, False


def _given_name_after_preposition(text: str, g: int, g2: int) -> bool:
    """Whether ``text[g:g2]``, after a surname that is also a preposition, is a given name: two
    given-name characters that are no word (于|财务, 向|客户, 于|上周 are words; 于|慧炜 is not)."""
    return (
        g2 - g == 2
        and text[g] in GIVEN_NAME_CHARS
        and text[g + 1] in GIVEN_NAME_CHARS
        and lexicon.word(text[g:g2]) is None
    )


@DETECTORS.register("person")
class PersonDetector:
    """姓名: Chinese names next to context words or titles, English names after Mr./Name:."""

    name = "person"
    version = "1.0"
    types = (PiiType.PERSON,)

    def detect(self, text: str) -> list[Span]:
        found: dict[int, tuple[int, float]] = {}
        #: Starts found only without a trigger word, and how: they pass the stricter lexicon check.
        strict: dict[int, int] = {}
        #: Starts found before a title: where the name starts is a guess, checked by the lexicon.
        titled: set[int] = set()
        #: Dot-joined minority names (start, end): no surname + given-name check applies to them.
        minority: set[tuple[int, int]] = set()
        if _CJK_RE.search(text) is not None:
            # The scans and what is done at each of their matches, in C where the optional extension is
            # built (NameChecker.collect_context and collect_loose: the same, tests hold them to it)
            checker = _native_checker if _native_checker is not False else _checker()
            if checker is not None:
                checker.collect_context(text, found, titled)
            else:
                self._after_context(text, found)
                self._before_titles(text, found, titled)
            self._minority(text, found, minority)
            self._mou(text, found)
            if checker is not None:
                checker.collect_loose(text, found, strict)
            else:
                self._after_weak_context(text, found, strict)
                self._standalone(text, found, strict)
        # Every English name has two Latin letters in a row: a text without them skips the scan.
        latin = _LATIN_RE.search(text) is not None
        for m in _EN_RE.finditer(text) if latin else ():
            t = m.start()
            if t and text[t - 1].isascii() and text[t - 1].isalpha():
                continue
            name = m.group("name")
            words = name.split()
            if words[0].title() in _EN_NOT_NAMES or (
                len(words) < 2 and m.group("trigger") not in _EN_HONORIFICS and "-" not in name
            ):
                continue
            if name.isupper() and len(words) < 2:
                continue  # "Name: ACCOUNT" and other shouted single words
            _add(found, m.start("name"), m.end("name"), 0.8)
        # Names found twice (context word and title) may overlap: keep the first, longest one.
        out = self._resolve(text, found, strict, titled, minority)
        if out and latin:
            out = _with_romanised_echoes(text, out, self.name)
        return out

    def _resolve(
        self,
        text: str,
        found: dict[int, tuple[int, float]],
        strict: dict[int, int],
        titled: set[int],
        minority: set[tuple[int, int]],
    ) -> list[Span]:
        # In C where the optional extension is built (NameChecker.resolve: the same spans, tests hold
        # it to the loop below), with the check in C: that costs less than the memory of past checks
        # would (a slice, a key, a look-up)
        checker = _native_checker if _native_checker is not False else _checker()
        if checker is not None:
            return checker.resolve(text, found, strict, titled, minority, Span, PiiType.PERSON, self.name)
        return self._resolve_python(text, found, strict, titled, minority, _lexicon_check)

    def _resolve_python(
        self,
        text: str,
        found: dict[int, tuple[int, float]],
        strict: dict[int, int],
        titled: set[int],
        minority: set[tuple[int, int]],
        check: Callable[[str, int, int, int, bool], int | None],
    ) -> list[Span]:
        out: list[Span] = []
        last_end = -1
        for start, (end, score) in sorted(found.items()):
            if start < last_end:
                continue
            if "\u4e00" <= text[start] <= "\u9fff" and (not minority or (start, end) not in minority):
                checked = check(text, start, end, strict.get(start, AFTER_CONTEXT), start in titled)
                if checked is None:
                    continue
                end = checked
            out.append(Span(start, end, PiiType.PERSON, score, self.name))
            last_end = end
        return out

    def _mou(self, text: str, found: dict[int, tuple[int, float]]) -> None:
        """Names already shortened in the source (卢某某, 黄某): the surname still identifies."""
        if "某" in text:
            for m in _MOU_RE.finditer(text):
                _add(found, m.start(), m.end(), 0.85)

    def _minority(
        self, text: str, found: dict[int, tuple[int, float]], minority: set[tuple[int, int]]
    ) -> None:
        """Uyghur and Kazakh names joined with a middle dot (买买提·艾力), Tibetan and Mongolian
        names (扎西多吉, 次仁卓玛, 索朗, 巴特尔) from their common name elements."""
        if "·" in text or "•" in text or "・" in text:
            for m in _DOT_NAME_RE.finditer(text):
                part = _MINORITY_PART_RE.search(m.group())
                if part is None:
                    continue
                name = m.group()
                dot = min(i for i in (name.find("·"), name.find("•"), name.find("・")) if i >= 0)
                start = m.start() + _minority_start(text, m.start(), dot, part.start())
                end = m.start() + _minority_last_part_end(text, m.start(), name)
                _add(found, start, end, 0.85)
                # Its first character is often a surname too (米热古丽, 艾合买提): the surname and
                # given-name check of Chinese names would cut it or drop it.
                minority.add((start, end))
        for m in _TIBETAN_RE.finditer(text):
            s, e = m.start(), m.end()
            if _place_from(text, s, e):
                continue
            # One element alone (索朗) must stand apart; two (扎西多吉) are a name anywhere.
            if (
                m.group("second") is None
                and e - s < 3
                and s
                and is_cjk(text[s - 1])
                and not _delimited(text, e)
                and not _context_before(text, s)
            ):
                continue
            _add(found, s, e, 0.8)

    def _after_weak_context(
        self, text: str, found: dict[int, tuple[int, float]], strict: dict[int, int]
    ) -> None:
        """Names in running text after a verb or a relation (多次致电其亲属卢建华, 短信提醒秦某某):
        the same grammar as after a role, and the strict lexicon check."""
        for m in _WEAK_RE.finditer(text):
            p = m.end()
            if p in found:
                continue
            hit = name_at(text, p)
            if hit is None or hit[1]:
                continue
            _add(found, p, hit[0], 0.75)
            # one character (给, 向, 请) goes before any noun: 给牛群喂草
            strict[p] = AFTER_VERB if p - m.start() > 1 else LOOSE

    def _after_context(self, text: str, found: dict[int, tuple[int, float]]) -> None:
        """Names right after a context word (客户, 姓名：) or a role ending in 人."""
        for m in _PREFIX_RE.finditer(text):
            self._names_from(text, m.end(), found)
        if "人" in text:
            for m in _REN_RE.finditer(text):
                p = m.end()
                if (
                    p == m.start() + 1
                    and text[m.start() : p + 1] in _REN_WORDS
                    and not text.endswith(_REN_ROLES, 0, p)
                ):
                    continue
                self._names_from(text, p, found)

    def _names_from(self, text: str, p: int, found: dict[int, tuple[int, float]]) -> None:
        """Names starting at ``p`` right after a context word, then any listed after them."""
        for _ in range(6):  # 借款人张三、李四和王五
            hit = name_at(text, p)
            if hit is None:
                break
            end, bare = hit
            _add(found, p, end, 0.7 if bare else 0.85)
            if end >= len(text) or text[end] not in _LIST_SEP or bare:
                break
            p = end + 1

    def _standalone(self, text: str, found: dict[int, tuple[int, float]], strict: dict[int, int]) -> None:
        """Surname-led runs of two to four ideographs set apart by punctuation or followers."""
        for m in _STANDALONE_RE.finditer(text):
            p = m.start()
            if p in found:
                continue
            end = m.end()
            sl = _surname_len(text, p)
            given = end - p - sl
            # (independent tests: the stop-list, slices and look-ups, last)
            if not sl or not 1 <= given <= 2 or not _G1_STOP.isdisjoint(text[p + sl : end]):
                continue
            if _vetoed(text, p, end) or (p == 0 and _START_FOLLOWER_RE.match(text, end) is None):
                continue
            _add(found, p, end, 0.75 if given == 2 else 0.65)
            strict[p] = LOOSE

    def _before_titles(self, text: str, found: dict[int, tuple[int, float]], titled: set[int]) -> None:
        """Names (or bare surnames) right before a title: 张伟先生, 王经理."""
        for m in _TITLE_RE.finditer(text):
            hit = _name_before(text, m.start())
            if hit is not None:
                start, score = hit
                if start not in found:
                    titled.add(start)
                _add(found, start, m.start(), score)


#: Characters that, right after a Tibetan or Mongolian name element, make it a place (乌兰|县, 查干|湖).
_PLACE_AFTER_ELEMENT = frozenset("市县旗盟州区湖路街镇乡村")


def _place_from(text: str, s: int, e: int) -> bool:
    """Whether the name elements ``text[s:e]`` begin a place name: a longer dictionary word tagged as
    a place (呼和|浩特, 乌兰|察布: Inner Mongolian cities, common in bank addresses and company names)
    or a place suffix right after them (查干|湖, 乌兰|县)."""
    if e < len(text) and text[e] in _PLACE_AFTER_ELEMENT:
        return True
    return any(lexicon.is_place(text[s:k]) for k in range(e + 1, min(len(text), s + 6) + 1))


#: Single characters that start what follows a dot-joined name (…吐尔逊|对处理, …买买提|替我) and
#: that no part of one is transliterated with.
_AFTER_MINORITY_NAME = frozenset("对到替另给让把被从跟向在未吗陪按")


def _minority_start(text: str, run_start: int, dot: int, part: int) -> int:
    """Where a dot-joined name starts in the run of ideographs before its first dot (offsets in the
    run; ``part``: the first minority element in the match): right after a context word in the run
    (联系人|米热古丽, 其配偶|艾合买提); else the whole run when it is short enough to be the first
    part alone (米热古丽); else at its first minority element (客户买买提), or the last four
    characters before the dot."""
    for q in range(dot - 2, 0, -1):
        if _context_before(text, run_start + q):
            return q
    if dot <= 4:
        return 0
    return part if part < dot else dot - 4


def _minority_last_part_end(text: str, run_start: int, name: str) -> int:
    """Where the last part of a dot-joined ``name`` (found at ``run_start``) ends: a follower
    (…艾力来电) or a word of two characters or more (…托合提|负责记账, …阿迪力|收入来源) after its
    first two characters ends it, else the run of ideographs does."""
    last = max(name.rfind("·"), name.rfind("•"), name.rfind("・")) + 1
    # (on the text, not the match: the word may run past the five characters the match takes)
    for i in range(last + 2, len(name)):
        if name[i] in _AFTER_MINORITY_NAME or _FOLLOWER_RE.match(text, run_start + i) is not None:
            return i
    if len(name) - last > 2:
        end = run_start + len(name)
        cuts = lexicon.boundary_list(text, run_start + last, min(len(text), end + 3))
        for a, z in itertools.pairwise(cuts):
            if a >= end:
                break
            if a - run_start >= last + 2 and z - a >= 2:
                return a - run_start
    return len(name)


def _add(found: dict[int, tuple[int, float]], start: int, end: int, score: float) -> None:
    old = found.get(start)
    if old is None or (end, score) > old:
        found[start] = (end, score)


def _name_before(text: str, t: int) -> tuple[int, float] | None:
    """The name (start, score) that ends right before a title at ``t``, or None."""
    options: list[tuple[int, float]] = []  # (start, score), longest first
    for length in (4, 3, 2, 1):
        s = t - length
        if s < 0:
            continue
        sl = _surname_len(text, s)
        # The tests are independent, so the cheapest come first: the length, then the given name's
        # characters with C-level calls (all CJK: min and max in the block), the stop-list (slices
        # and look-ups) last. (sl == 2 at length 4 leaves a given name of 2: no test of its own.)
        if not sl or not 0 <= length - sl <= 2:
            continue
        given = text[s + sl : t]
        if given and (min(given) < "\u4e00" or max(given) > "\u9fff" or not _G1_STOP.isdisjoint(given)):
            continue
        if _vetoed(text, s, t):
            continue
        options.append((s, 0.7 if not given else 0.85))
    if not options:
        return None
    for start, score in options:
        # Do not start inside a word ("感谢张先生": 谢 is a surname, 感谢 a word) or on a
        # preposition that precedes another surname ("向王经理").
        if start > 0 and text[start - 1 : start + 1] in _STOP2:
            continue
        if text[start] in _FUNCTION_SURNAMES and start + 1 < t and _surname_len(text, start + 1):
            continue
        return start, score
    return None


# --- names in running text, minority names ---------------------------------------------------

#: Verbs and relations after which a name often follows in running text (no role word).
WEAK_CONTEXT: tuple[str, ...] = (
    "致电", "来电", "去电", "提醒", "告知", "通知", "联系", "询问", "拨打", "亲属", "家属", "朋友", "同学",
    "邻居", "其子", "其女", "其妻", "其夫", "其母", "其父", "催收", "约见", "拜访", "转告", "陪同", "协助",
    "会见", "面谈", "交给", "转给", "付给", "汇给", "借给", "还给", "转账给", "汇款给", "致", "经", "由",
    "嘱咐", "安抚", "答复", "回复", "核实", "确认", "代表", "代", "帮", "给", "找", "问", "见", "让",
    "是", "请问是", "找了", "表哥", "表姐", "表弟", "表妹", "堂哥", "堂姐", "堂弟", "堂妹", "舅舅", "姑姑",
    "叔叔", "阿姨", "上午", "下午", "今日", "今天", "昨日", "昨天", "请", "上次是", "同事", "陪同",
    "走访时", "回访时", "据", "附件为", "向", "与", "替", "显示", "备注：", "备注:", "和", "及",
)  # fmt: skip
_WEAK_RE = re.compile(f"(?:{literal_alternation(WEAK_CONTEXT)})(?=[{_ALL_HEADS}])")
# 某某 after any surname (于某某, 向某某: here a surname, not a preposition); a single 某 after a
# surname that is not also a preposition.
_MOU_RE = re.compile(
    f"[{_ALL_HEADS}明](?:某某|(?<![{CJK}][{''.join(sorted(_FUNCTION_SURNAMES))}])某)"
    "(?![日月年天些种个项家地处时位类件次样人物])"
)
#: Elements of Uyghur and Kazakh names as written in Chinese; one of them marks a dot-joined name
#: as a personal name rather than a foreign public figure (马丁·路德·金).
_MINORITY_PARTS: tuple[str, ...] = (
    "买买提", "麦麦提", "艾买提", "阿不都", "阿卜杜", "阿布都", "吐尔逊", "吐尔洪", "艾力", "艾合", "热合曼",
    "努尔", "古丽", "阿依", "帕提", "迪丽", "热依", "玉素甫", "阿里木", "依明", "伊明", "吾斯曼", "卡德尔",
    "米吉提", "肉孜", "托合提", "库尔班", "沙吾提", "塔依尔", "木合塔尔", "阿迪力", "艾尼", "巴合提",
    "吐逊", "阿力木", "司马义", "依力", "伊力", "亚森", "艾山", "阿布", "阿曼", "海拉提", "哈力克",
    "努尔兰", "叶尔兰", "加娜尔", "阿娜尔", "再努尔", "祖丽", "米娜", "热娜", "排尔", "艾尔肯", "阿合",
    # other spellings in use of the elements above (买买提/买合木提, 玉素甫/玉苏甫, 吐尔逊/吐尔孙)
    "买合木提", "买合买提", "玉苏甫", "吐尔孙",
)  # fmt: skip
_MINORITY_PART_RE = re.compile(literal_alternation(_MINORITY_PARTS))
# (the first character apart, here and in the Latin patterns below: a pattern that starts with a
# repeat loses ``re``'s fast scan for its first character, see _base.py)
_DOT_NAME_RE = re.compile(f"[{CJK}][{CJK}]{{1,6}}(?=[·•・])(?:[·•・][{CJK}]{{2,5}}){{1,2}}")
#: Common elements of Tibetan names (and a few Mongolian ones); a name is one to two of them.
_TIBETAN_PARTS: tuple[str, ...] = (
    "扎西", "次仁", "卓玛", "多吉", "格桑", "索朗", "拉姆", "央金", "达瓦", "尼玛", "平措", "旺堆", "顿珠",
    "边巴", "普布", "白玛", "德吉", "巴桑", "米玛", "曲珍", "旦增", "益西", "群培", "阿旺", "洛桑",
    "强巴", "贡嘎", "仁增", "次旦", "琼达", "桑珠", "拉巴", "晋美", "赤列", "索南", "丹增", "卓嘎", "央宗",
    "措姆", "格列", "德庆", "尼珍", "仓决", "巴特尔", "其其格", "额尔敦", "宝音", "那日苏", "斯琴",
    "敖登", "格日勒", "朝鲁", "孟和", "乌云", "图雅", "苏和", "布和", "达来", "阿拉坦", "巴雅尔",
    "其木格", "萨仁", "乌日娜", "娜仁", "图门", "特木尔", "阿拉腾", "呼和", "苏日娜", "满都拉", "巴图",
    "阿木尔", "其其格", "达瓦", "嘎玛", "尼玛", "拉巴", "琼吉", "卓玛", "才让", "更登", "完玛", "三郎",
    "贡布", "曲措", "多布杰", "旺姆", "拉措", "仁青", "洛布", "扎巴", "丹巴", "泽仁", "泽旺", "次珠", "德央",
    "拉宗", "群宗", "普琼", "贡觉", "达娃", "措吉", "卓央", "央珍", "白珍", "次央", "格央", "哈斯", "那顺",
    "乌力吉", "毕力格", "乌兰", "巴根", "额尔德尼", "吉日嘎拉", "孟根", "阿古拉", "宝力道", "特格喜",
    "朝克", "道尔吉", "额日和木", "巴音", "查干", "布仁", "白音", "恩和", "乌日图", "吉雅", "托娅",
    "塔娜", "其其格", "斯琴", "萨仁",
)  # fmt: skip
_TIB = literal_alternation(_TIBETAN_PARTS)
_TIBETAN_RE = re.compile(f"(?:{_TIB})(?P<second>{_TIB})?")


_ALL_CONTEXT = frozenset(WEAK_CONTEXT + PREFIX_CONTEXT + ("人", "叫", "为", "是"))
_CONTEXT_LENGTHS = sorted({len(w) for w in _ALL_CONTEXT}, reverse=True)


def _context_before(text: str, p: int) -> bool:
    """Whether a context word (a role, a relation, a verb that takes a person) ends at ``p``."""
    return any(text[max(0, p - k) : p] in _ALL_CONTEXT for k in _CONTEXT_LENGTHS)


def _name_like(given: str) -> bool:
    """Whether every character is common in given names (the curated list, or often in the
    dictionary's three-character names)."""
    return all(c in GIVEN_NAME_CHARS or lexicon.given_name_count(c) >= 20 for c in given)


_CHECKED: dict[tuple[str, int, int, int, bool], int | None] = {}


def _lexicon_check(text: str, start: int, end: int, strict: int, titled: bool = False) -> int | None:
    """:func:`_check_name` memoised on the candidate and the few characters around it (the
    segmenter looks no further), since the same names recur across the records of a dataset."""
    lo = max(0, start - 5)
    key = (text[lo : end + 5], start - lo, end - lo, strict, titled)
    hit = _CHECKED.get(key, -1)
    if hit != -1:
        return None if hit is None else hit + lo
    if len(_CHECKED) > 200_000:
        _CHECKED.clear()
    result = _check_name(text, start, end, strict, titled)
    _CHECKED[key] = None if result is None else result - lo
    return result


_native_checker: object = False  # not built yet; then the C checker, or None (not available)


def _check_name(text: str, start: int, end: int, strict: int, titled: bool) -> int | None:
    """:func:`_check_name_python`, in C where the optional extension is built (``_segment.c``:
    the same rules line for line; tests hold the two to each other)."""
    checker = _native_checker if _native_checker is not False else _checker()
    if checker is not None:
        return checker.check_name(text, start, end, strict, titled)
    return _check_name_python(text, start, end, strict, titled)


def _checker() -> object | None:
    global _native_checker
    _native_checker = _build_native_checker()
    return _native_checker


def _build_native_checker() -> object | None:
    segmenter = lexicon.native_segmenter_in_use()
    if segmenter is None:
        return None
    from stockade.privacy.detectors._segment import NameChecker

    checker = NameChecker(
        segmenter,
        lexicon.word,  # for strings beyond U+FFFF, which the C dictionary cannot hold (jieba has none)
        lexicon.given_name_counts(),
        SURNAMES,
        COMPOUND_SURNAMES,
        GIVEN_NAME_CHARS,
    )
    checker.configure_candidates(
        titles=_TITLE_SET,
        followers=frozenset(NAME_FOLLOWERS + TITLES),  # what _FOLLOWER_RE matches
        stop_exact=_STOP_EXACT,
        stop2=_STOP2,
        stop3=_STOP3,
        g1_stop=_G1_STOP,
        g2_stop=_G2_STOP,
        function_surnames=_FUNCTION_SURNAMES,
    )
    checker.configure_scans(
        prefix_words=frozenset(w for w in PREFIX_CONTEXT if w[-1] != "人" and w[0] != "人"),  # (_PREFIX_RE's)
        weak_words=frozenset(WEAK_CONTEXT),
        title_words=_TITLE_SET,
        name_followers=frozenset(NAME_FOLLOWERS),  # (the lookahead of _STANDALONE_RE)
        start_followers=frozenset(_START_FOLLOWERS),
        ren_words=_REN_WORDS,
        ren_roles=frozenset(_REN_ROLES),
        all_heads=_ALL_HEADS,
        surname_heads=_SURNAME_HEADS,
        list_sep=_LIST_SEP,
    )
    return checker


#: A word of the surname and the next character read by jieba less often than this may start a
#: name (江华|振, 安雯|朗); 黄瓜 (201), 牛肉 (1,183), 林中 (587) may not.
_RARE_GLUED_SURNAME = 100
#: Place names inside a given name read at least this often veto a name with no trigger word
#: (苏丹: 941, 孟买: 147); rarer ones are common given names (洋洋: 54, 正东: 42, 东兴: 20).
_FREQUENT_PLACE = 100
#: A two-character word tagged ``nr`` read less often than this may be a name after a verb or a
#: relation (荣立: 95, 徐福: 97, 孙坚: 60; not 胡佳: 256).
_RARE_NAME_WORD = 100


#: How a name candidate was found, for :func:`_check_name` (``strict``): after a context word or a
#: title; after a verb or relation of two or more characters in running text (多次致电其亲属, 请问是,
#: 走访时); after a one-character one (给, 向, 请) or standing alone between punctuation. True and
#: False stand for the second and the first.
AFTER_CONTEXT, AFTER_VERB, LOOSE = 0, 1, 2


def _word_may_name(info: tuple[int, str] | None, length: int, sl: int, strict: int) -> bool:
    """Whether a dictionary word may be a name found with no trigger word: one jieba lists
    (:func:`_listed_name`), or, after a verb or relation, a two-character word tagged ``nr`` and
    read rarely (请问是荣立吗, 今日上午孙坚到柜台), which after a one-character verb or standing
    alone it may not be (他给牛群喂草, ，牛群在草原上). Rare words with other tags are ordinary
    words as often as names (显示暴增, 华融资产), and stay out."""
    if _listed_name(info, length, sl):
        return True
    return (
        strict == AFTER_VERB
        and length == 2
        and info is not None
        and info[1] == "nr"
        and info[0] < _RARE_NAME_WORD
    )


def _listed_name(info: tuple[int, str] | None, length: int, sl: int) -> bool:
    """Whether a dictionary entry is a full name jieba lists (李秀英, 王建国): tagged ``nr``, three
    characters, rare (common words tagged ``nr``, such as 暴风雨 or 胡萝卜, are frequent); with a
    compound surname (``sl`` 2) at any frequency (司马卫: 21, 欧阳祥: 256)."""
    return info is not None and info[1] == "nr" and (sl == 2 or (info[0] < 20 and length == 3))


def _check_name_python(text: str, start: int, end: int, strict: int, titled: bool) -> int | None:
    """The end of the name ``text[start:end]`` after checking it against the dictionary, or None
    when it is an ordinary word.

    Any candidate: its end may not fall inside a word (``时|发送``: shortened, or dropped), and it
    may not be, or contain, a frequent ordinary word. Before a title (``titled``) the start is a
    guess and may not fall inside a word (``提|高医生``, ``西班|牙语老师``). ``strict`` (found with
    no trigger word): the surname must be a word of its own (not ``牛肉|末``) unless jieba reads it
    with the next character as a rare word (``江华|振``), the candidate may not be a dictionary word
    (jieba tags many common nouns ``nr``: 暴风雨, 连衣裙) unless it is a name the dictionary lists
    (王建国), nor contain a frequent place name (``南|苏丹``), nor follow a digit (``7500万人``,
    ``2支笔``) or belong to a name joined with ``·`` that is not a minority name (``唐纳德·特朗普``:
    a foreign public figure); its given name must be made of given-name characters (two characters:
    of the curated list), except that a surname and one such character end the name before a word
    boundary (严若|替我). ``strict`` says how the candidate was found (:data:`AFTER_CONTEXT`...)."""
    sl = _surname_len(text, start)
    if not sl:
        return end  # minority names and names already shortened (卢某某) are not re-checked
    n = len(text)
    bare = end - start == sl
    if not bare and text[start + sl] == "某":
        return end
    before = text[start - 1] if start else ""  # (`"" in s` holds for every s: hence `before and`)
    if strict and (before.isdigit() or (before and before in "·•・") or (end < n and text[end] in "·•・")):
        return None
    if bare and not titled:
        return end
    if strict and text[start + sl] not in GIVEN_NAME_CHARS:
        return None  # cheap first: however the end moves, the first given character stays
    # sorted boundaries of the window: membership tests on a dozen ints, and the cuts inside the
    # candidate are a slice (no set, no sort)
    b = lexicon.boundary_list(text, max(0, start - 4), min(n, end + 4))
    word = lexicon.word_table().get  # one look-up of the table for the few words below
    if (strict or titled) and start not in b:
        return None
    if bare:
        # A bare surname before a title (王经理): jieba may read 王先生 as one name, but a word made
        # of surname + title character that is no name (汇总) is an ordinary word.
        if end in b:
            return end
        nxt = b[bisect.bisect_right(b, start)]  # the window's end is in b, so there is one
        info = word(text[start:nxt])
        return end if info is None or info[1] == "nr" else None
    if strict and start + sl not in b:
        # jieba reads the surname with the next character as one word: a name only when that word
        # is rare and ends inside the candidate (江华|振, 安雯|朗, 凌云|平: the given name goes on;
        # 公|孙悦|毅: a compound surname's second character), or when the candidate itself is a name
        # in the dictionary (李秀英, 王建国); not 牛肉|末.
        i = bisect.bisect_left(b, start + sl)  # b[i - 1] < start + sl < b[i]; start is in b
        nxt = b[i]
        if nxt < end:
            glued = word(text[b[i - 1] : nxt])
            if glued is not None and glued[0] >= _RARE_GLUED_SURNAME:
                return None
        elif nxt > end or not _word_may_name(word(text[start:end]), end - start, sl, strict):
            return None
    # The end inside a word: shortened to the word boundary before it, unless a word that follows
    # names comes next and the given name is made of given-name characters (娄宏成|本人, which jieba
    # reads 成本; 郝铭勇|于, read 勇于).
    if end not in b and not (_delimited(text, end) and GIVEN_NAME_CHARS.issuperset(text[start + sl : end])):
        while end not in b:
            end -= 1
            if end - start <= sl:
                return None
    candidate = text[start:end]
    info = word(candidate)
    if info is not None:
        freq, pos = info
        if strict and not _word_may_name(info, len(candidate), sl, strict):
            return None
        if not strict and pos != "nr" and freq >= 300:
            return None
    # A name the dictionary lists is not taken apart: its given name may be a place too (王|建国)
    edges = (
        ()
        if _listed_name(info, len(candidate), sl)
        else [start + sl, *b[bisect.bisect_right(b, start + sl) : bisect.bisect_left(b, end)], end]
    )
    for a, z in itertools.pairwise(edges):
        piece = text[a:z]
        if len(piece) < 2:
            continue
        info = word(piece)
        if info is None or info[1] == "nr":
            continue
        if strict and info[1] == "ns" and info[0] >= _FREQUENT_PLACE:
            return None  # a place name (南|苏丹); rare ones are given names too (周|正东, 骆|东宁)
        if (strict or titled) and info[0] >= 100 and not GIVEN_NAME_CHARS.issuperset(piece):
            return None  # an ordinary word (时|发送|律师函: not a name before 律师)
        if info[0] >= (20 if strict else 1000) and not _name_like(piece):
            return None
    given = text[start + sl : end]
    name_like = GIVEN_NAME_CHARS.issuperset(given) and given != "小"  # 王小: a nickname prefix
    if strict and not name_like:
        # A surname, one given-name character, then a one-character word that is no name (诸葛倩|帮我
        # 还的, 严若|替我办的): the name ends after the given-name character. (After the second character
        # of a transliterated foreign name comes one tagged as part of a name or place: 艾奇|沃斯, 梅纳|沙.)
        cut = start + sl + 1
        # (end is a boundary here: an end kept inside a word has given-name characters only)
        if end - start == sl + 2 and cut in b and given[0] != "小":
            info = word(text[start:cut])
            after = word(text[cut:end])
            if (info is None or info[1] == "nr") and after is not None and after[1] not in ("nr", "ns"):
                return cut
        return None
    return end


# --- romanised forms of names found in the same text ------------------------------------------

_LATIN_RE = re.compile("[A-Za-z][A-Za-z]")  # two letters; not [A-Za-z]{2} (no fast scan)


@functools.cache
def _syllables(ch: str) -> tuple[str, ...]:
    """Every reading of ``ch`` in pinyin without tones (surnames often have a rarer one: 单 shan),
    as ``pypinyin.pinyin(ch, style=Style.NORMAL, heteronym=True)[0]`` gives them (a test compares
    every ideograph)."""
    raw = _pinyin_table().get(ord(ch))
    if raw is None:
        return (ch,)
    return tuple(dict.fromkeys(_toneless(reading) for reading in raw.split(",")))


# The tone marks of pinyin (grave, acute, macron, caron) as combining characters; ü keeps its
# diaeresis and is then written v, as pypinyin's NORMAL style does.
_TONE_MARKS = dict.fromkeys(map(ord, "\u0300\u0301\u0304\u030c"))


def _toneless(reading: str) -> str:
    return unicodedata.normalize("NFC", unicodedata.normalize("NFD", reading).translate(_TONE_MARKS)).replace(
        "ü", "v"
    )


@functools.cache
def _pinyin_table() -> dict[int, str]:
    """pypinyin's table of single characters (code point -> readings with tones), read from its data
    file. Importing pypinyin itself would also load its 2.5 MB phrase table (half a second per
    process), which single characters never need."""
    spec = importlib.util.find_spec("pypinyin")  # finds the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("pypinyin is not installed (a dependency of stockade): reinstall stockade")
    path = Path(next(iter(spec.submodule_search_locations)), "pinyin_dict.json")
    return {int(code): readings for code, readings in json.loads(path.read_text("utf-8")).items()}


@functools.cache
def _surname_readings(surname: str) -> frozenset[str]:
    return frozenset(_romanised_keys(surname, "")) if surname else frozenset()


@functools.cache
def _ascii_surname_readings(surname: str) -> tuple[bytes, ...]:
    """The readings of a surname that a Latin word can spell (ASCII), as bytes."""
    return tuple(r.encode("ascii") for r in _surname_readings(surname) if r.isascii())


@functools.cache
def _readings(ch: str) -> tuple[str, ...]:
    """The syllables a spelling of ``ch`` may use: every reading, ü as v, u or yu (吕: Lü, Lv, Lu,
    Lyu); ``ch`` itself when it has none."""
    out: list[str] = []
    for r in _syllables(ch):
        if "ü" in r or "v" in r:
            out.extend(r.replace("ü", "v").replace("v", u) for u in ("v", "u", "yu"))
        elif r:
            out.append(r)
    return tuple(out) or (ch,)


@functools.cache
def _ascii_readings(ch: str) -> tuple[bytes, ...]:
    """The syllables of :func:`_readings` that a Latin word can spell (ASCII), as bytes."""
    return tuple(r.encode("ascii") for r in _readings(ch) if r.isascii())


def _romanised_keys(surname: str, given: str) -> frozenset[str]:
    """The pinyin of a name as lower-case words, in the usual orders and spellings: ``luo xiaoming``,
    ``luo xiao ming`` (also ``Luo Xiao-ming``), ``xiaoming luo``, ``xiao ming luo``; every reading
    of each character (surnames often have a rarer one: 单 shan), ü as v, u or yu."""

    surnames = ["".join(parts) for parts in itertools.product(*(_readings(c) for c in surname))]
    if not given:
        return frozenset(surnames)
    givens = list(itertools.product(*(_readings(c) for c in given)))
    if len(surnames) * len(givens) > 64:
        return frozenset()
    keys: set[str] = set()
    for sur in surnames:
        for parts in givens:
            for giv in {"".join(parts), " ".join(parts)}:
                keys.add(f"{sur} {giv}")
                keys.add(f"{giv} {sur}")
    return frozenset(keys)


#: The parts of a name's spellings (:func:`_romanised_keys`): the surname's spellings, the readings
#: of each given-name character, the given name's spellings in one word, and the first words.
_Spelling = tuple[frozenset[str], tuple[frozenset[str], ...], frozenset[str], frozenset[str]]


@functools.lru_cache(maxsize=65536)
def _spelling(surname: str, given: str) -> _Spelling | None:
    """The parts of the spellings of :func:`_romanised_keys` (a window of words spells the name when
    :func:`_spells` says so), without building every spelling; None where it has none (more than
    64 combinations of readings)."""
    surnames = _surname_readings(surname)
    per_char = tuple(frozenset(_readings(c)) for c in given)
    combinations = 1
    for c in surname + given:
        combinations *= len(_readings(c))
    if combinations > 64:
        return None
    joined = frozenset(map("".join, itertools.product(*(_readings(c) for c in given))))
    return surnames, per_char, joined, surnames | joined | per_char[0]


def _spells(window: list[str], spelling: _Spelling) -> bool:
    """Whether the lower-case words ``window`` are a spelling of :func:`_romanised_keys` (surname and
    given name in one word or a word per character, in either order)."""
    surnames, per_char, joined, _ = spelling
    if len(window) == 2:
        first, second = window
        return (first in surnames and second in joined) or (first in joined and second in surnames)
    if len(window) != 1 + len(per_char):
        return False
    if window[0] in surnames and all(map(frozenset.__contains__, per_char, window[1:])):
        return True
    return window[-1] in surnames and all(map(frozenset.__contains__, per_char, window))


#: A run of two or more Latin words joined by spaces, commas or hyphens: where a romanised name can
#: be (every spelling has two words at least, so single words, e.g. the parts of an e-mail address,
#: are passed over inside ``re``). The look-behind after the first letter (which keeps the fast
#: scan) stops a try in the middle of a word, so a word is tried once: linear, however long.
_LATIN_PHRASE_RE = re.compile(r"[A-Za-z](?<![A-Za-z].)[A-Za-z]*(?:[ ,\-]+[A-Za-z]+)+")
_LATIN_WORD_RE = re.compile(r"[A-Za-z][A-Za-z]*")  # [A-Za-z]+, with the fast scan
_CJK_RUN_RE = re.compile(f"[{CJK}]+")


def _any_in(parts: tuple[bytes, ...], text: bytes) -> bool:
    return any(map(text.__contains__, parts))  # no generator frame: C calls only


def _with_romanised_echoes(text: str, spans: list[Span], detector: str) -> list[Span]:
    """``spans`` plus the romanised forms of the Chinese names among them found elsewhere in the
    text (the same record often gives ``罗晓明`` and ``LUO XIAOMING``). Windows of two to four
    consecutive Latin words are looked up in the set of spellings; no regex is built per text."""
    # Every spelling has the pinyin of the surname as a word of its own, and a word that starts with
    # a syllable of the given name's first character. First a cheap necessary condition: both occur
    # in the text (substrings of its ASCII characters in lower case: one C-level pass). The other
    # characters are dropped, not replaced: a shorter string to search (on Chinese text a quarter),
    # and a run of letters stays whole, so no reading that occurs is missed (one that straddles a
    # dropped ideograph only lets a name through to the exact word tests below). Only for the
    # names that pass it are the Latin words of the text collected (once), and a name whose
    # surname's reading is not among them is skipped before the spellings of its given name are
    # built.
    ascii_lower = text.encode("ascii", "ignore").lower()
    names = []
    for span in spans:
        sl = _surname_len(text, span.start)
        given = text[span.start + sl : span.end]
        if sl and given and _CJK_RUN_RE.fullmatch(given) is not None and "某" not in given:
            surname = text[span.start : span.start + sl]
            if _any_in(_ascii_surname_readings(surname), ascii_lower) and _any_in(
                _ascii_readings(given[0]), ascii_lower
            ):
                names.append((surname, given))
    if not names:
        return spans
    words_in_text = set(map(str.lower, _LATIN_WORD_RE.findall(text)))  # one pass, no Python loop
    spellings: list[_Spelling] = []
    firsts: set[str] = set()  # a window can match only from one of these words
    longest = 0
    for surname, given in names:
        if words_in_text.isdisjoint(_surname_readings(surname)):
            continue
        spelling = _spelling(surname, given)
        # A window matches only from the first word of a spelling, and every word of a run is a
        # word of the text: a name none of whose spellings starts with a word of the text has
        # nothing to find (and leaving it out shortens no window that could match).
        if spelling is None or words_in_text.isdisjoint(spelling[3]):
            continue
        spellings.append(spelling)
        firsts |= spelling[3]
        longest = max(longest, 1 + len(given))
    if not spellings:
        return spans
    extra = []
    for latin in _LATIN_PHRASE_RE.finditer(text):
        run = latin.group()
        # The run's words in lower case: a run is letters and separators [ ,-] only, so three C
        # calls split it as _LATIN_WORD_RE would (no match objects; their places are read only
        # for a window that matches).
        lowered = run.lower().replace(",", " ").replace("-", " ").split()
        if firsts.isdisjoint(lowered):
            continue  # no spelling starts in this run (most English prose): no window to look up
        words: list[re.Match[str]] = []
        run_start = latin.start()
        i = 0
        while i < len(lowered):
            if lowered[i] not in firsts:
                i += 1
                continue
            for j in range(min(len(lowered), i + longest), i + 1, -1):
                window = lowered[i:j]
                if any(_spells(window, spelling) for spelling in spellings):
                    words = words or list(_LATIN_WORD_RE.finditer(run))
                    extra.append(
                        Span(
                            run_start + words[i].start(),
                            run_start + words[j - 1].end(),
                            PiiType.PERSON,
                            0.8,
                            detector,
                        )
                    )
                    i = j - 1
                    break
            i += 1
    if not extra:
        return spans
    merged = sorted([*spans, *extra])
    out: list[Span] = []
    for span in merged:
        if out and span.start < out[-1].end:
            continue
        out.append(span)
    return out
