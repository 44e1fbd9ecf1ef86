"""The surface forms the privacy issue found leaking, and the ordinary words it found rewritten.

Checksums come from the independent helpers of the corpus generator, not from the detectors.
"""

from __future__ import annotations

import json

import pytest

from stockade.privacy.corpus.checks import id_check_char as _id_check
from stockade.privacy.corpus.checks import luhn_check_digit
from stockade.privacy.detectors import detect_all, lexicon
from stockade.privacy.engine import PrivacyEngine
from stockade.privacy.lines import process_raw_line
from stockade.privacy.policy import PrivacyPolicy
from stockade.privacy.report import ScanReport
from tests.conftest import LLAMAFACTORY_DATA

ID = "11010519900101123" + _id_check("11010519900101123")
ID_X = next(
    f"11010519900101{n:03d}" + _id_check(f"11010519900101{n:03d}")
    for n in range(1000)
    if _id_check(f"11010519900101{n:03d}") == "X"
)
CARD = "622202123456789012" + luhn_check_digit("622202123456789012")  # 19 digits, UnionPay
SPOKEN = dict(zip("0123456789", "零幺二三四五六七八九", strict=True))
FULL = {str(d): chr(0xFF10 + d) for d in range(10)}


def found(text: str) -> list[tuple[str, str]]:
    return [(s.type.value, text[s.start : s.end]) for s in detect_all(text)]


def spoken(digits: str) -> str:
    return "".join(SPOKEN.get(c, "叉" if c == "X" else c) for c in digits)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # digits spoken or transcribed
        (f"客户：{spoken('13812345678')}。", ("mobile", spoken("13812345678"))),
        ("客户：一三八一二三四五六七八，对", ("mobile", "一三八一二三四五六七八")),
        (f"号码是{spoken(ID)}。", ("id_card", spoken(ID))),
        (f"号码是{spoken(ID_X)}。", ("id_card", spoken(ID_X))),
        # grouped by pauses or commas, irregular splits
        ("电话131，2345，2577谢谢", ("mobile", "131，2345，2577")),
        ("电话131, 2345, 2577谢谢", ("mobile", "131, 2345, 2577")),
        (f"卡号{CARD[:3]} {CARD[3:9]} {CARD[9:12]} {CARD[12:]}。", ("bank_card", None)),
        ("身份证" + " ".join(ID[i : i + 4] for i in range(0, 18, 4)) + "。", ("id_card", None)),
        ("身份证" + "，".join(spoken(ID[i : i + 4]) for i in range(0, 18, 4)) + "。", ("id_card", None)),
        # groups joined by dots, a group in parentheses, with the plus or parenthesis that opens it
        ("手机138.1234.5678。", ("mobile", "138.1234.5678")),
        (f"身份证号码为{ID[:6]}.{ID[6:14]}.{ID[14:]}。", ("id_card", f"{ID[:6]}.{ID[6:14]}.{ID[14:]}")),
        ("电话：+86 (138) 1234 5678。", ("mobile", "+86 (138) 1234 5678")),
        ("手机 (138)1234-5678，", ("mobile", "(138)1234-5678")),
        ("手机+86 138，1234，5678。", ("mobile", "+86 138，1234，5678")),
        # full-width digits separated by full-width spaces
        (
            "手机" + "\u3000".join("".join(FULL[c] for c in g) for g in ("138", "1234", "5678")) + "。",
            ("mobile", None),
        ),
        # lower case
        (f"证件{ID_X.lower()}。", ("id_card", ID_X.lower())),
        ("车牌津e12345停在", ("license_plate", "津e12345")),
    ],
)
def test_structured_surface_forms(text: str, expected: tuple[str, str | None]) -> None:
    kind, value = expected
    spans = found(text)
    assert len(spans) == 1, spans
    assert spans[0][0] == kind
    if value is not None:
        assert spans[0][1] == value
    else:
        assert (
            spans[0][1][0].isdigit() or spans[0][1][0] in SPOKEN.values() or spans[0][1][0] in FULL.values()
        )


@pytest.mark.parametrize(
    "text",
    [
        "金额13,812,345,678元已入账",  # thousands grouping: an amount
        "日期2023-12-01 13:45办理",
        "工单号 1101 0519 9001 0112 34 已关闭",  # an ID with a wrong check digit, grouped
        "第一、二、三条",
        "POS消费 订单6228443646881674 200万元",  # a whole order number, then an amount: not one card
        "订单6222083003877580 9.5亿元",
        # dots join groups of three or more digits only: no decimal part, and no IPv4 address is read
        # as a number (twelve digits), a version's numbers neither
        "金额12,345,678.901元，利率3.85%，金额¥4,482,852.88",
        "版本1.380.1234.5678",
        "第(3)项（2）条",
    ],
)
def test_grouped_decoys_are_kept(text: str) -> None:
    assert found(text) == []


def test_an_ipv4_address_is_no_grouped_number() -> None:
    assert found("登录IP：192.168.100.200，客户端版本V9.10.20") == [("ipv4", "192.168.100.200")]


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("多次致电其亲属卢某某，未果", ["卢某某"]),
        ("短信提醒秦某某还款", ["秦某某"]),
        ("紧急联系人黄某（母亲）", ["黄某"]),
        ("多次致电其亲属卢建华，未果", ["卢建华"]),
        ("客户买买提·艾力来电", ["买买提·艾力"]),
        ("审批人：阿依古丽·吐尔逊", ["阿依古丽·吐尔逊"]),
        # a dot-joined name whose first character is also a Chinese surname (米, 艾): whole, not
        # cut or dropped by the check of Chinese names; it starts right after the context word
        ("联系人米热古丽·阿迪力收入来源稳定", ["米热古丽·阿迪力"]),
        ("其配偶艾合买提·托合提负责记账", ["艾合买提·托合提"]),
        ("，米热古丽·阿迪力来电", ["米热古丽·阿迪力"]),
        # ... and ends where the sentence goes on (a word, a follower, 替/对/未...)
        ("客户：上次是吐尔逊·买买提替我还的", ["吐尔逊·买买提"]),
        ("据祖丽皮亚·阿卜杜拉本人反映", ["祖丽皮亚·阿卜杜拉"]),
        ("客户姓名：买合木提·玉苏甫\n联系电话", ["买合木提·玉苏甫"]),  # other spellings
        ("其配偶塔娜负责记账", ["塔娜"]),
        ("走访时扎西多吉不在家", ["扎西多吉"]),
        ("（索朗）已签字", ["索朗"]),
        ("Beneficiary Name 收款人: LUO XIAOMING", ["LUO XIAOMING"]),
        ("Remitter 汇款人: Zhang Wei", ["Zhang Wei"]),
        # 于 and 向 are surnames when a given name that is no word follows, prepositions before a word
        ("申请人于慧炜补充说明，联系人向正玉陪同。", ["于慧炜", "向正玉"]),
        ("客户于财务报表中签字，客户向银行申请，客户于上周来电，客户于柜台办理。客户向明确表示", []),
        # after a bank's job title (a name after 会计|师 or before 办公室 is not one)
        ("支行行长王强主持召开了季度经营分析会，大堂经理李娜引导客户。", ["王强", "李娜"]),
        ("信贷员张伟于2024年走访，总经理办公会在主任医师处召开。全球最大的会计师雇主", ["张伟"]),
        # after a greeting: two words at least (Hi Team, Hello Kitty: no)
        ("Hi Wang Fang, please find attached the statement. Hi Team, Hello Kitty", ["Wang Fang"]),
        ("客户罗晓明来电。Please pay Luo Xiaoming today", ["罗晓明", "Luo Xiaoming"]),
        ("理解您的心情，董总。", ["董"]),
        ("请问是司马月庆本人吗", ["司马月庆"]),
        # a compound surname and one given-name character in running text, a verb right after
        ("客户：上次是诸葛倩帮我还的", ["诸葛倩"]),
        ("客户：昨天慕容婷替我办的挂失", ["慕容婷"]),
        ("昨天上官方网站查询", []),  # 上|官方网站: no name
        # ... and a single surname
        ("客户：上次是严若替我办的挂失", ["严若"]),
        ("客户：昨天邝雯帮我转过一笔", ["邝雯"]),
        ("菲尼克斯和艾奇沃斯的关系", []),  # a transliterated foreign name goes on: 艾奇|沃斯
        ("他是张开双臂的", []),
        ("请高手帮忙", []),
        # form labels without 人, call-centre roles, a letter's salutation, a table's cells
        ("经办：张建国", ["张建国"]),
        ("收款方：孙小红", ["孙小红"]),
        ("催收员：唐僧", ["唐僧"]),
        ("尊敬的刘德明客户：", ["刘德明"]),
        ("| 姓名 | 梁国栋 | 身份证 |", ["梁国栋"]),
        ("审批通过后即可放款", []),
        # the name's last character and the follower after it read as one word (成本, 勇于)
        ("请问是娄宏成本人吗？", ["娄宏成"]),
        ("备注：请郝铭勇于三个工作日内补充收入证明", ["郝铭勇"]),
        # jieba reads the surname and the next character as one rare word (江华|振, 安雯|朗)...
        ("北京分行客服中心，工号3575，请问是江华振吗？", ["江华振"]),
        ("附件为安雯朗的身份证复印件", ["安雯朗"]),
        ("此致\n安福卫\nBest regards", ["安福卫"]),
        # ... or the given name as a rare place (周|正东, 于|东兴), or lists the whole name (王建国)
        ("请问是周正东吗？", ["周正东"]),
        ("处理过程：已告知于东兴本人处理进度。", ["于东兴"]),
        ("经查，王建国来电咨询分期", ["王建国"]),
        ("上次是林中珍陪我去的", []),  # 林中 (in the forest) is a frequent word: not taken apart
        # at the very start of a text, before a word only a person does
        ("王建国来电咨询信用卡分期事宜。", ["王建国"]),
        ("张伟说他明天来网点。", ["张伟"]),
        ("刘洋洋反映扣款异常。", ["刘洋洋"]),
        ("李华是一个勤勉刻苦的学生。", []),  # a story's character in general text: left alone
        # 未 and 吗 follow names: set apart by them, even a surname that is also a preposition
        ("处理过程：申锦蔚未接听电话，已留言。", ["申锦蔚"]),
        ("请问是于然彤吗？", ["于然彤"]),
        ("处理结果：方案未通过，程序未响应。这样安全吗？", []),
        # 一 in a given name (一楠, 仁一), not in ordinary words after a surname or a context word
        ("走访时桂一楠在店内", ["桂一楠"]),
        ("附件为柯仁一的身份证复印件", ["柯仁一"]),
        ("客户一再要求减免，周一还款。", []),
        # a rare word jieba tags as a name, after a verb or relation of two or more characters
        ("请问是荣立吗？", ["荣立"]),
        ("今日上午孙坚到柜台办理了挂失", ["孙坚"]),
        ("他给牛群喂草，牛群在草原上。", []),  # after one character, or standing alone: no
        ("数据显示暴增三成，下午华融资产来函。", []),  # rare words with other tags: no
        # a compound surname's name jieba lists, however often (司马卫: 21), or splits (公|孙悦|毅)
        ("请问是司马卫吗？", ["司马卫"]),
        ("客户：已告知欧阳祥本人处理进度。", ["欧阳祥"]),
        ("客户：据公孙悦毅反映，其名下账户有异常登录。", ["公孙悦毅"]),
        # a role's 人 then a name that reads as a word with it (人文, 人车), not in 个人文件
        ("借款人文薇收入来源稳定，持卡人车琼雅经营正常。", ["文薇", "车琼雅"]),
        ("个人文件已归档，行人车辆请绕行。", []),
        # Mongolian and Tibetan name elements that begin a place are the place (呼和|浩特, 查干|湖)
        ("联系人：乌兰，收款人：巴图", ["乌兰", "巴图"]),
        ("经营实体：呼和浩特新创电子商务有限公司", []),
        ("经营实体：乌兰浩特嘉禾餐饮管理有限公司，合作方：查干湖旅游公司", []),
    ],
)
def test_names(text: str, names: list[str]) -> None:
    assert [v for t, v in found(text) if t == "person"] == names


@pytest.mark.parametrize(
    "text",
    [
        "西红柿 - 黄瓜 - 生菜 - 胡萝卜",
        "意大利面 - 米饭",
        "必要时发送律师函。",
        "约7500万人将德语作为母语",
        "有2支笔，每支1美元",
        "孟买（Mumbai）是印度最大城市",
        "用“黎明”、“天空”和“暴雨”造句",
        "降低成本、提高医生和护士的工作效率",
        "资料汇总如下",
        "他是西班牙语老师",
        "南苏丹是非洲国家",
        "黄瓜片和牛肉末",
        "高手如云。",
    ],
)
def test_ordinary_words_are_not_names(text: str) -> None:
    assert found(text) == []


@pytest.mark.parametrize(
    "address",
    [
        "昆明市五华区滨湖小区21-4-205",
        "郑州市二七区明珠新村22-6-306",
        "湖南省长沙市岳麓区翠湖社区7-2-301",
        # a building known by its name alone, its tower and room
        "北京市朝阳区望京SOHO T3 A座1502室",
        "北京市朝阳区国贸三期B座2501",
        "深圳市南山区科技园南区R2-B栋502",
    ],
)
def test_an_address_from_its_division_with_a_compound_after_the_district(address: str) -> None:
    """No context word and no house-number suffix: the address is read forward from its city's 市,
    and a compound or community (滨湖小区, 翠湖社区) is not taken for a second district."""
    assert found(f"住{address}。") == [("address", address)]


@pytest.mark.parametrize(
    ("text", "address"),
    [
        (
            "Ordering Customer: LI SI  Address: Room 1201, No. 88 Century Avenue, Pudong, Shanghai",
            "Room 1201, No. 88 Century Avenue, Pudong, Shanghai",
        ),
        ("Address: Flat 5B, 12 Nathan Road, Kowloon; Tel: 852-12345678", "Flat 5B, 12 Nathan Road, Kowloon"),
        (
            "Beneficiary Address: 88 Century Ave, Shanghai 200120 Beneficiary Bank: ICBC",
            "88 Century Ave, Shanghai 200120",
        ),
        ("ADDRESS：NO.1 JIANGUOMENWAI AVE, BEIJING\nSWIFT: BKCHCNBJ", "NO.1 JIANGUOMENWAI AVE, BEIJING"),
        # the Chinese label after the English one, or alone
        (
            "Beneficiary Address 收款人地址: FLAT 20F, 884 King's Street, Sydney NSW 2000\nBeneficiary Bank",
            "FLAT 20F, 884 King's Street, Sydney NSW 2000",
        ),
        (
            "收款人地址：Room 16A, 392 Orchard Road, Singapore 238801",
            "Room 16A, 392 Orchard Road, Singapore 238801",
        ),
    ],
)
def test_an_address_in_latin_letters_after_an_english_label(text: str, address: str) -> None:
    assert ("address", address) in found(text)


@pytest.mark.parametrize(
    "text",
    [
        "Email Address: chen.jing@example.com",  # an e-mail or IP address is no place
        "邮箱地址：zhang3@x.com，IP地址：10.1.2.3，地址：1号楼",
        "IP Address: 10.1.2.3 login",
        "Address: see above",  # no number
        "address: Pudong, Shanghai",
        "The address 2 of the form",  # no label
    ],
)
def test_no_latin_address_without_a_label_a_number_and_a_word(text: str) -> None:
    assert "address" not in {kind for kind, _ in found(text)}


def test_a_town_named_after_a_village_is_not_a_rural_bank() -> None:
    # 村镇银行 (a rural bank) is no town: the address stops before it, as it always did
    assert found("开户行：浙江长兴联合村镇银行") == []
    [(kind, value)] = found("注册地址：浙江省湖州市长兴县雉城街道长兴联合村镇银行大楼")
    assert kind == "address" and value.startswith("浙江省湖州市长兴县雉城街道") and "镇" not in value
    village = "河南省周口市郸城县丁村镇后李村3组"
    assert found(f"经营地：{village}") == [("address", village)]


def test_a_context_word_ending_in_a_place_character_starts_no_district() -> None:
    assert found("为庆祝您所在地区的特殊假期") == []  # 所在地|区: no gazetteer name before 区


@pytest.mark.parametrize(
    "address",
    [
        "北京市朝阳区阳光花园8栋3单元1201室",
        "河南省周口市郸城县王庄村5组",
        "山东省菏泽市曹县油坊镇红旗村5组16号",
        "河南省周口市郸城县丁村镇后李村3组",  # a town named after a village (丁村镇)
        "山西省晋中市榆次区王村镇东王村5号",
        "江苏省南京市鼓楼区湖南路街道青岛路社区青岛路32号二单元502室",  # a street office named after a road
        "浙江省温州市乐清市柳市镇长虹村3组12号",  # a town with 市 in its name, after a county-level city
        "浙江省湖州市吴兴区新市镇",
        "云南省曲靖市会泽县红旗村5组",  # 红旗村: a village, not a banner (旗) named 红
        "吉林省长春市南关区红旗街88号",
        "内蒙古自治区呼和浩特市土默特左旗察素齐镇",  # a banner
        "合肥高新技术产业开发区碧水大街804号",
        "苏州工业园区星湖街328号",
        # zones with long names of their own, between the city and the road
        "湖北省武汉东湖新技术开发区宝安大道659号",
        "河南省郑州航空港经济综合实验区滨江南路516号",
        "上海自由贸易试验区临港新片区环湖西二路888号",
        "深圳前海深港现代服务业合作区前湾一路1号",
        "长沙国家级湘江新区岳麓大道88号",
        "北京市西城区金融大街甲15号",  # 甲/乙: a second house at the same number
        # a named estate after the house number, then building-unit-room
        "山东省济南市槐荫区洛阳大街39号金茂府25-4-503",
        "福州市台江区天府街841号华府雅苑8-3-3108",
        "江苏省常州市天宁区健康大道281号蓝湾名邸1-4-2504",
        "江苏省常州市天宁区碧水西路780号康乐佳园19-1-2405",
        "北京市东城区长虹城17号楼5单元1704",
        "上海市浦东新区人民路一百二十三号三单元五零二室",
        # a district named like a city, which the gazetteer reads short (朝阳 of 朝阳市, 长沙)
        "北京市朝阳区望京街道",
        "湖南省长沙县星沙街道开元路18号",
        # after a named building: a tower letter before building-room numbers, a floor written 45F
        "天津市和平区南京路219号天津中心B2-1802",
        "重庆市渝中区解放碑民族路188号WFC环球金融中心45F",
        "北京市朝阳区望京SOHO T3 A座1502室",  # a building known by its name, no road
        # a compound or a community after the district is no second district (二七区 is one)
        "昆明市五华区滨湖小区21-4-205",
        "郑州市二七区明珠新村22-6-306",
        "昆明市五华区翠湖社区12号",
    ],
)
def test_addresses_to_the_last_digit(address: str) -> None:
    assert found(f"住址：{address}。") == [("address", address)]


@pytest.mark.parametrize(
    "address",
    [
        "武汉东湖新技术开发区香樟路406号",
        "郑州航空港经济综合实验区宝安东路36号",
        "上海自由贸易试验区临港新片区环湖西二路888号",
        "长沙国家级湘江新区岳麓大道88号",
        "北京市西城区金融大街甲15号",
        # districts whose name ends in 城区 (越城区, 上城区): the whole name, then the city
        "浙江省绍兴市越城区书香五区28幢",
        "浙江省杭州市上城区光明路546号10栋608室",
    ],
)
@pytest.mark.parametrize("template", ["注册地址【{}】。", "客户在{}开了一家店。"])
def test_addresses_grown_back_from_the_house_number(address: str, template: str) -> None:
    """No context word right before the address: it is grown leftwards from its house number (over
    a 甲 before the digits), over a zone's own name to the city (not cut at the zone's suffix)."""
    assert found(template.format(address)) == [("address", address)]


def test_a_value_found_once_is_replaced_everywhere_in_the_record() -> None:
    engine = PrivacyEngine(PrivacyPolicy(), b"k" * 32)
    line = json.dumps(
        {"instruction": "客户罗晓明要求更换手机号", "output": "好的，罗晓明的申请已受理"}, ensure_ascii=False
    )
    out = json.loads(process_raw_line(line, engine, ScanReport(), transform=True))
    assert "罗晓明" not in out["instruction"] and "罗晓明" not in out["output"]
    # without the record-level pass the second field keeps the name (no trigger word there)
    assert found("款项已到罗晓明名下") == []


def test_alpaca_zh_demo_is_almost_untouched() -> None:
    """At most 1 % of LLaMA-Factory's general-knowledge records changed, and no replaced span is an
    ordinary dictionary word (names of public figures may be replaced, docs/privacy.md says so)."""
    records = json.loads((LLAMAFACTORY_DATA / "alpaca_zh_demo.json").read_text("utf-8"))
    changed, replaced = 0, []
    for record in records:
        hit = False
        for value in record.values():
            if isinstance(value, str):
                for span in detect_all(value):
                    hit = True
                    replaced.append((span.type.value, value[span.start : span.end]))
        changed += hit
    assert changed <= len(records) // 100, replaced
    ordinary = []
    for kind, text in replaced:
        info = lexicon.word(text)
        if kind in ("person", "address") and info is not None and not info[1].startswith("nr"):
            ordinary.append(text)
    assert ordinary == [], ordinary
