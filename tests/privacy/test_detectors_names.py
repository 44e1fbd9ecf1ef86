"""PII detectors for the fuzzy types: 姓名 (context words, titles) and 地址 (gazetteer + grammar);
plus a throughput smoke test of all detectors together."""

from __future__ import annotations

import time

import pytest

from stockade.privacy.detectors import detect_all, get_detector
from stockade.privacy.spans import PiiType


def found(name: str, text: str) -> list[str]:
    return [text[s.start : s.end] for s in get_detector(name).detect(text)]


# --- 姓名 ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # after a context word
        ("客户张伟今天来办理业务", ["张伟"]),
        ("姓名：李娜，性别：女", ["李娜"]),
        ("联系人：欧阳娜娜，电话", ["欧阳娜娜"]),
        ("借款人为王芳，", ["王芳"]),
        ("客户经理王晓明负责", ["王晓明"]),
        ("持卡人 刘建华 的卡", ["刘建华"]),
        ("户名：诸葛亮；", ["诸葛亮"]),
        ("借款人张三、李四和王五", ["张三", "李四", "王五"]),
        ("评估人：吕春燕；复核人：马欣怡。", ["吕春燕", "马欣怡"]),
        ("我爱人朱家豪的手机", ["朱家豪"]),
        ("客户：您好，我叫尉迟磊，想查", ["尉迟磊"]),
        ("担保人马欣怡持港澳居民来往内地通行证", ["马欣怡"]),
        ("收款人韩国强，账号", ["韩国强"]),  # 韩国 is a word, 韩国强 a name
        # titles: a bare surname is the personal part
        ("王先生您好", ["王"]),
        ("张伟先生", ["张伟"]),
        ("欧阳女士", ["欧阳"]),
        ("请李经理审批", ["李"]),
        ("客户王先生来电", ["王"]),
        ("感谢张先生的支持", ["张"]),  # 谢 is a surname, but 感谢 a word
        ("已向王经理汇报", ["王"]),
        ("与史女士面谈约一小时", ["史"]),
        ("请问是谢文博先生本人吗", ["谢文博"]),
        # standing alone between punctuation, or before a word that follows names
        ("（卢玉兰）", ["卢玉兰"]),
        ("备注：潘丽华还款", ["潘丽华"]),
        ("转出500元 至 付子豪 账号6222", ["付子豪"]),
        # English
        ("Dear Mr. Wang Wei, your loan", ["Wang Wei"]),
        ("borrower Shi Nana, monthly income", ["Shi Nana"]),
        ("Name: Li Xiaoming", ["Li Xiaoming"]),
        ("Dear Customer, thank you", []),
    ],
)
def test_person(text: str, expected: list[str]) -> None:
    assert found("person", text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "王府井大街的网点今天休息",
        "高新区支行本月业绩良好",
        "项目经理负责协调",
        "区域经理和值班经理都在",
        "客户余额不足，请及时充值",
        "客户于今日办理了销户",
        "客户向银行申请贷款",
        "客户方面反映服务态度好",
        "客户管理系统升级",
        "客户关系维护",
        "客户全部资产",
        "客户应当妥善保管密码",
        "客户申请材料齐全",
        "客户范围包括个人和企业",
        "客户经理在营销过程中不得夸大收益",
        "个人金融业务，个人房贷，法人单位",
        "班主任和老师",
        "周末，周一至周五营业",
        "黄金价格上涨",
        "江苏、浙江、安徽的分行",
        "方案已经通过，安全第一",
    ],
)
def test_person_leaves_ordinary_words(text: str) -> None:
    assert found("person", text) == []


def test_person_scores_context_names_above_bare_surnames() -> None:
    full = get_detector("person").detect("客户张伟")[0]
    bare = get_detector("person").detect("王先生")[0]
    assert full.score > bare.score
    assert full.type is PiiType.PERSON and full.detector == "person"


# --- 地址 ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("地址北京市朝阳区建国路88号SOHO现代城3栋1201室", ["北京市朝阳区建国路88号SOHO现代城3栋1201室"]),
        ("上海市浦东新区世纪大道100号", ["上海市浦东新区世纪大道100号"]),
        ("他在广州市天河区体育西路103号上班", ["广州市天河区体育西路103号"]),
        ("住址：广东省深圳市南山区科技园路10号", ["广东省深圳市南山区科技园路10号"]),
        ("家住浙江省杭州市西湖区文三路", ["浙江省杭州市西湖区文三路"]),  # no number, context
        ("现住渝中区科华北路126号时代广场6层，", ["渝中区科华北路126号时代广场6层"]),
        (
            "户籍地址：和平区世纪大道941号幸福里小区24号楼4单元903。",
            ["和平区世纪大道941号幸福里小区24号楼4单元903"],
        ),
        ("寄到山东省济南市市中区朝阳北路888号", ["山东省济南市市中区朝阳北路888号"]),
        ("江西省赣州市于都县贡江镇东风村5组26号", ["江西省赣州市于都县贡江镇东风村5组26号"]),
        ("请到南京市鼓楼区中山路944号A座508室办理", ["南京市鼓楼区中山路944号A座508室"]),
        ("住在内蒙古自治区呼和浩特市新城区新华大街1号", ["内蒙古自治区呼和浩特市新城区新华大街1号"]),
        ("体育西路103号", ["体育西路103号"]),  # a road and a number: still an address
        ("上海市浦东新区世纪大道", ["上海市浦东新区世纪大道"]),  # city, district, road
    ],
)
def test_address(text: str, expected: list[str]) -> None:
    assert found("address", text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "请参阅第5号文件",
        "3月15号到期",
        "乘坐地铁2号线",
        "服务中心3号窗口",
        "上海市浦东新区分行营业部",  # a branch, not an address
        "城市发展与地区差异",
        "卡号6222021234567890128",
        "北京市场需求旺盛",
    ],
)
def test_address_leaves_non_addresses(text: str) -> None:
    assert found("address", text) == []


# --- speed (a smoke test: the real measurement is ``python -m stockade.bench.privacy``) ----------


def test_scanning_is_not_pathologically_slow() -> None:
    paragraph = (
        "个人住房贷款的审批需要综合考虑借款人的收入水平、负债情况和信用记录。客户经理在营销过程中不得夸大收益。"
        "2024年3月15日，客户张伟通过手机13812345678办理转账¥12,345.67元，利率3.45%，订单号1234567812345678。"
        "家住北京市朝阳区建国路88号3栋1201室，邮箱zhang.wei@icbc.com.cn，登录IP 10.0.0.1，版本v2.3.1。"
    )
    text = paragraph * 400  # about 100 KB of UTF-8
    start = time.perf_counter()
    for _ in range(3):
        detect_all(text)
    elapsed = (time.perf_counter() - start) / 3
    megabytes = len(text.encode("utf-8")) / 1e6
    # Far below the >= 10 MB/s design target: this only catches a catastrophic regression
    # (say, a regex that backtracks) on a loaded CI machine.
    assert megabytes / elapsed > 1.0
