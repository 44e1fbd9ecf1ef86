"""Write the synthetic sample sets of the task presets (``python -m stockade.tasks.samples.generate``).

Every record is made up for this repository from the fragments below: no real customer, no real
product, no personal data (customers are "客户A"-style aliases, amounts are round numbers). The output
is deterministic; ``tests/tasks/test_samples.py`` checks that the shipped files equal it.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

from stockade.tasks.presets import load_preset

HERE = Path(__file__).parent
PRODUCTS = ["稳盈一号", "安享六个月", "添利宝", "睿远成长", "鑫悦添利", "恒信稳健", "丰年三年期", "安鑫理财"]

# (kind, text with {p} for a product name, label, rules, reason)
COMPLIANCE_CASES: list[tuple[str, str, str, list[str], str]] = [
    (
        "产品说明",
        "{p}产品，保本保收益，年化收益率稳定在5%，到期一次性兑付。",
        "不合规",
        ["R01", "R02"],
        "承诺保本保收益，且未揭示任何风险。",
    ),
    (
        "产品说明",
        "{p}属于中低风险产品，业绩比较基准为3.2%，不代表实际收益，投资者可能损失部分本金。",
        "合规",
        [],
        "以业绩比较基准表述收益并揭示了本金损失风险。",
    ),
    (
        "宣传材料",
        "{p}过去一年收益率高达12%，是同类产品第一名，错过再等一年！",
        "不合规",
        ["R03"],
        "片面宣传历史业绩并制造紧迫感，未说明过往业绩不代表未来表现。",
    ),
    (
        "产品说明",
        "{p}的认购费率为0.5%，管理费率为每年0.8%，托管费率为每年0.1%，赎回不收取费用。",
        "合规",
        [],
        "各项费用与费率均已完整披露。",
    ),
    (
        "产品说明",
        "{p}收取少量管理费用，具体以实际为准。",
        "不合规",
        ["R07"],
        "费率表述模糊，未完整披露费用标准。",
    ),
    (
        "销售记录",
        "客户风险测评结果为保守型，客户经理向其推荐了风险等级为R4的{p}，客户当场签约。",
        "不合规",
        ["R04"],
        "产品风险等级高于客户风险承受能力，属于不适当销售。",
    ),
    (
        "销售记录",
        "客户风险测评结果为稳健型，客户经理推荐风险等级为R2的{p}，并完成双录。",
        "合规",
        [],
        "产品风险等级与客户风险承受能力相匹配，且已完成录音录像。",
    ),
    (
        "交易描述",
        "某新开立的对公账户在三天内收到多笔来源不明的资金，合计约800万元，随即全部转出购买{p}。",
        "需人工复核",
        ["R05"],
        "短期内大额资金快进快出，资金来源与用途不明，需人工核实。",
    ),
    (
        "交易描述",
        "客户以工资收入定期购买{p}，每月金额约5000元，已持续两年。",
        "合规",
        [],
        "交易金额与频率稳定，资金来源清楚，未见异常。",
    ),
    (
        "交易描述",
        "客户经理建议客户每周赎回并重新申购{p}以“捕捉波动”，一个月内交易十余次。",
        "不合规",
        ["R06"],
        "诱导客户频繁交易，增加客户成本，损害客户利益。",
    ),
    (
        "合同条款",
        "本合同项下，{p}的投资收益不受市场波动影响，银行承担全部损失。",
        "不合规",
        ["R01"],
        "条款实质上承诺保本保收益。",
    ),
    (
        "合同条款",
        "投资者确认已阅读{p}风险揭示书，知悉产品可能出现本金损失，并自愿承担投资风险。",
        "合规",
        [],
        "条款明确揭示风险并取得投资者确认。",
    ),
    (
        "合同条款",
        "{p}的提前赎回条件另行约定，银行有权在不通知投资者的情况下调整费率。",
        "不合规",
        ["R07", "R02"],
        "费率可单方调整且不通知投资者，费用披露不完整，风险揭示不足。",
    ),
    (
        "交易描述",
        "付款方名称与内部受限名单中的某一主体高度相似，本笔款项用于认购{p}。",
        "需人工复核",
        ["R08"],
        "交易对手疑似受限名单主体，应暂停交易并上报核实。",
    ),
    (
        "交易描述",
        "收款方已被列入内部受限名单，客户仍要求加急划款用于购买{p}。",
        "不合规",
        ["R08", "R05"],
        "交易对手为受限名单主体，应暂停交易并上报。",
    ),
    (
        "宣传材料",
        "{p}由资深团队管理，历史业绩仅供参考，不代表未来表现，市场有风险，投资需谨慎。",
        "合规",
        [],
        "宣传材料如实提示历史业绩局限并揭示风险。",
    ),
    (
        "销售记录",
        "客户未完成风险测评，客户经理代客户填写问卷后为其购买了{p}。",
        "不合规",
        ["R04"],
        "代客填写风险测评，无法确认产品与客户风险承受能力相匹配。",
    ),
    (
        "产品说明",
        "{p}投资于二级市场股票，净值可能大幅波动，风险等级R4，适合进取型投资者。",
        "合规",
        [],
        "如实说明投资范围和风险等级，并限定了适合的投资者。",
    ),
    (
        "交易描述",
        "客户在同一天内分多笔向不同个人账户转账，每笔均略低于大额报告标准，随后申购{p}。",
        "需人工复核",
        ["R05"],
        "交易呈拆分特征，疑似规避大额报告，需人工核实资金来源。",
    ),
    (
        "宣传材料",
        "购买{p}零风险，收益比存款高一倍，银行兜底。",
        "不合规",
        ["R01", "R02", "R03"],
        "宣称零风险并由银行兜底，属于承诺保本保收益，同时夸大收益、未揭示风险。",
    ),
    (
        "合同条款",
        "{p}到期后如投资者未赎回，将自动续期，续期前银行将提前五个工作日通知投资者。",
        "合规",
        [],
        "自动续期规则明确且事先通知投资者。",
    ),
    (
        "销售记录",
        "客户经理向客户承诺{p}“肯定不会亏”，并在微信中发送收益截图。",
        "不合规",
        ["R01", "R03"],
        "口头承诺不亏损，并以个别收益截图片面宣传业绩。",
    ),
    (
        "交易描述",
        "境外账户向客户账户汇入一笔200万元资金，附言为“货款”，客户称为亲属赠与，随后申购{p}。",
        "需人工复核",
        ["R05"],
        "资金附言与客户解释不一致，需核实资金来源与用途。",
    ),
    (
        "产品说明",
        "{p}为现金管理类产品，支持T+0快速赎回，单日快速赎回上限为1万元，收益随市场变化。",
        "合规",
        [],
        "赎回规则与额度披露清楚，未承诺收益。",
    ),
    (
        "销售记录",
        "客户经理将客户持有的{p}私下转让给其他客户，并收取手续费。",
        "不合规",
        ["R06", "R07"],
        "违规私下转让产品并收取未披露的费用。",
    ),
]

# (alias, age, income 万/年, debt 万, loan 万, years, overdue count, job)
JOBS = ["企业职员", "个体经营者", "公务员", "自由职业者", "教师", "工程师", "退休人员", "医生"]
PURPOSES = ["个人住房贷款", "个人经营贷款", "个人消费贷款", "汽车贷款"]


def _grade(age: int, income: int, debt: int, loan: int, overdue: int, job: str) -> tuple[str, list[str]]:
    """A fixed rule (so the task is learnable): points for each risk factor, grade from the total."""
    factors, points = [], 0
    ratio = (debt + loan) / income
    if ratio > 8:
        factors.append(f"负债与申请金额合计约为年收入的{ratio:.1f}倍，偿债压力大")
        points += 2
    elif ratio > 4:
        factors.append(f"负债与申请金额合计约为年收入的{ratio:.1f}倍，偿债压力较大")
        points += 1
    if overdue >= 3:
        factors.append(f"近两年征信逾期{overdue}次，还款记录较差")
        points += 2
    elif overdue >= 1:
        factors.append(f"近两年征信逾期{overdue}次")
        points += 1
    if job in ("个体经营者", "自由职业者"):
        factors.append("收入来源稳定性一般")
        points += 1
    if age >= 60:
        factors.append("年龄较大，贷款期限内收入可能下降")
        points += 1
    if not factors:
        factors.append("未发现明显风险因素")
    return ("低" if points == 0 else "中" if points <= 2 else "高"), factors


def risk_records() -> list[dict[str, Any]]:
    preset = load_preset("risk-report")
    records = []
    letters = [chr(ord("A") + i) for i in range(26)]
    combos = itertools.product([28, 35, 42, 47, 51, 63], [12, 30, 50, 120], [0, 20, 80], [0, 1, 4])
    for index, (age, income, debt, overdue) in enumerate(combos):
        job = JOBS[index % len(JOBS)]
        purpose = PURPOSES[index % len(PURPOSES)]
        loan = [50, 100, 200, 300][index % 4]
        years = [3, 5, 10, 20][(index // 4) % 4]
        alias = f"客户{letters[index % 26]}{index // 26 + 1 if index >= 26 else ''}"
        facts = (
            f"{alias},年龄{age},年收入{income}万,现有负债{debt}万,申请{purpose}{loan}万,期限{years}年,"
            f"近两年征信逾期{overdue}次,职业:{job}"
        )
        grade, factors = _grade(age, income, debt, loan, overdue, job)
        monthly = loan / (years * 12)
        advice = {
            "低": "可按正常流程审批，按期开展贷后检查。",
            "中": "建议补充收入证明与资产证明，适当降低授信额度或增加担保后审批。",
            "高": "建议暂缓审批，要求提供足额担保或重新评估还款能力。",
        }[grade]
        output = (
            f"【客户概况】{alias}，{age}岁，职业为{job}，申请{purpose}{loan}万元，期限{years}年。\n"
            f"【财务状况】年收入约{income}万元，现有负债{debt}万元，按等额本金估算月均还本约{monthly:.2f}万元。\n"
            f"【风险因素】{'；'.join(factors)}。\n"
            f"【风险等级】{grade}\n"
            f"【建议措施】{advice}"
        )
        records.append(
            {"system": preset.system, "instruction": "生成风险评估报告", "input": facts, "output": output}
        )
    return records


def compliance_records() -> list[dict[str, Any]]:
    preset = load_preset("compliance-review")
    records = []
    for product, (kind, text, label, rules, reason) in itertools.product(PRODUCTS, COMPLIANCE_CASES):
        output = f"结论：{label}\n依据：{'、'.join(rules) or '无'}\n理由：{reason}"
        records.append(
            {
                "system": preset.system,
                "instruction": f"请审查以下{kind}是否合规。",
                "input": text.format(p=product),
                "output": output,
            }
        )
    return records


ACCOUNTS = ["活期", "定期", "信用卡"]
ASK = {
    "余额": ["我的{a}账户还有多少钱？", "帮我查一下{a}账户余额", "{a}账户余额是多少"],
    "最近交易": ["我{a}账户最近有哪些交易？", "查一下{a}账户最近的交易记录", "{a}账户最近一笔交易是什么"],
}
RESULTS = {
    "余额": ['{{"余额": "{n},000.00元"}}', "您的{a}账户当前余额为{n},000.00元。"],
    "最近交易": ['{{"最近交易": "转账支出{n}00.00元"}}', "您的{a}账户最近一笔交易为转账支出{n}00.00元。"],
}
FAQ = [
    ("你们几点上班？", "营业网点一般在工作日9:00至17:00营业，具体以各网点公告为准。"),
    ("手机银行转账限额是多少？", "手机银行单笔和单日转账限额可在“安全设置-限额管理”中查看和调整。"),
    ("怎么修改登录密码？", "您可以在手机银行“我的-安全中心-修改登录密码”中按提示操作。"),
    ("定期存款可以提前支取吗？", "定期存款可以提前支取，提前支取部分通常按活期利率计息。"),
    ("信用卡账单日可以改吗？", "信用卡账单日可在手机银行“信用卡-账单日修改”中申请，每年可修改一次。"),
    ("开通短信提醒收费吗？", "短信提醒服务按月收取少量服务费，具体标准以网点公告为准。"),
    ("外币可以在手机银行兑换吗？", "部分币种支持在手机银行“外汇-结售汇”中办理，额度以页面提示为准。"),
]
HANDOFF = [
    ("我的银行卡丢了，赶紧帮我挂失！", "[转人工] 银行卡挂失需要核实身份，正在为您转接人工客服，请稍候。"),
    (
        "有人冒充你们客服让我转账，我已经转了一笔",
        "[转人工] 您可能遇到了诈骗，正在为您紧急转接人工客服处理，请勿继续转账。",
    ),
    ("我要投诉你们网点的服务态度", "[转人工] 非常抱歉给您带来不好的体验，正在为您转接人工客服受理投诉。"),
    ("我的账户被冻结了，为什么？", "[转人工] 账户冻结原因需要人工核实，正在为您转接人工客服。"),
    ("我想申请延期还款", "[转人工] 延期还款需要人工评估，正在为您转接人工客服。"),
    ("你们的回答我不满意，我要找真人", "[转人工] 好的，正在为您转接人工客服，请稍候。"),
]
GREETINGS = [
    ("你好", "您好，请问有什么可以帮您？"),
    ("在吗", "在的，请问有什么可以帮您？"),
    ("您好，我想咨询一下", "好的，请问您想咨询什么？"),
]


def _call(account: str, item: str) -> str:
    arguments = {"account": account, "item": item}
    return json.dumps({"name": "query_account", "arguments": arguments}, ensure_ascii=False)


def service_records() -> list[dict[str, Any]]:
    preset = load_preset("customer-service")
    records = []

    def add(turns: list[tuple[str, str]]) -> None:
        conversation = [{"from": role, "value": value} for role, value in turns]
        records.append({"system": preset.system, "tools": preset.tools_json, "conversations": conversation})

    number = 0
    for greeting, (account, item) in itertools.product(
        [None, *GREETINGS], itertools.product(ACCOUNTS, ["余额", "最近交易"])
    ):
        for ask in ASK[item]:
            number += 1
            opening = [("human", greeting[0]), ("gpt", greeting[1])] if greeting else []
            question = ask.format(a=account)
            call = _call(account, item)
            add([*opening, ("human", question), ("function_call", call)])
            result, answer = RESULTS[item]
            n = number % 9 + 1
            add(
                [
                    *opening,
                    ("human", question),
                    ("function_call", call),
                    ("observation", result.format(n=n)),
                    ("gpt", answer.format(a=account, n=n)),
                ]
            )
    for greeting, (question, answer) in itertools.product([None, *GREETINGS], FAQ + HANDOFF):
        opening = [("human", greeting[0]), ("gpt", greeting[1])] if greeting else []
        add([*opening, ("human", question), ("gpt", answer)])
    for (faq_q, faq_a), (question, answer) in itertools.product(FAQ, HANDOFF):
        add([("human", faq_q), ("gpt", faq_a), ("human", question), ("gpt", answer)])
    return records


GENERATORS = {
    "compliance-review": compliance_records,
    "risk-report": risk_records,
    "customer-service": service_records,
}


def render(name: str) -> str:
    return json.dumps(GENERATORS[name](), ensure_ascii=False, indent=1) + "\n"


def main() -> None:
    for name in GENERATORS:
        (HERE / load_preset(name).sample).write_text(render(name), encoding="utf-8")


if __name__ == "__main__":
    main()
