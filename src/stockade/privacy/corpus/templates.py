"""Document templates: Chinese banking and customer-service texts with ``{slots}``.

Slots name a planted value (``{name}``, ``{id}``, ``{card}``...), a decoy (``{order_no}``,
``{amount}``...) or plain filler (``{bank}``, ``{company}``, ``{n}``); ``generator.SLOTS`` says which.
Numeric slots are never written next to digits or ASCII letters, except where real text does so
(``+8613812345678``), so a correct detector can always find the boundary.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DocKind:
    name: str
    openers: tuple[str, ...]
    body: tuple[str, ...]
    closers: tuple[str, ...]
    joiner: str
    body_count: tuple[int, int]


DIALOGUE = DocKind(
    name="客服对话",
    openers=(
        "客服：您好，{bank}客服中心，很高兴为您服务。",
        "【来电记录 {date} {time}】",
        "来电号码：{mobile}",
        "【在线客服 会话开始于{time}】",
    ),
    body=(
        "客户：你好，我是{name}，我的卡{card}昨天突然被冻结了。",
        "客户：您好，我叫{name}，想查一下卡号{card}的余额。",
        "客服：{surname}{hon}您好，为核实身份，请提供您的身份证号码。",
        "客户：{id}",
        "客户：身份证号是{id}，预留手机{mobile}。",
        "客服：好的，已核实。您预留的手机号是{mobile}吗？",
        "客户：不是，我现在用{mobile}，麻烦帮我改一下。",
        "客服：查询到您尾号{card_tail}的卡于{date} {time}有一笔{amount}的转账，收款账户{card}，户名{name2}。",
        "客户：我家住{address}，能不能把新卡寄过来？",
        "客服：已为您登记补卡，受理编号{order_no}，预计{date}前寄到{address}。",
        "客户：电子账单发到{email}就行。",
        "客户：邮箱{email}收不到验证码",
        "客服：好的，您购买的{product}年化收益率{rate}，到期日{date}。",
        "客服：如有疑问请拨打{hotline}，或联系您的客户经理{agent}，电话{landline}。",
        "客户：我人在香港，港澳通行证号{hk_permit}，能远程办理吗？",
        "客服：{surname}{hon}，您的单笔转账限额是{amount}，今天已用{amount}。",
        "客户：我爱人{name2}的手机{mobile}也绑定了这张卡{card}吗",
        "客服：系统显示最近一次登录IP为{ipv4}，客户端版本{version}，是您本人操作吗？",
        "客户：是我，{time}在家用电脑登的。",
        "客户：卡号{card}已冻结的话，工资还能进来吗？",
        "客服：请问是{name}{hon}本人吗？",
        "客户：对，我是{surname}{hon}，手机{mobile}。",
        "客服：您的车辆{plate}已绑定ETC扣款，扣款卡为{card}。",
        "客户：我公司的统一社会信用代码是{uscc}，对公账户能一起查吗？",
    ),
    closers=("客服：感谢您的来电，祝您生活愉快，再见。", "客户：好的，谢谢。", "【会话结束 {time}】"),
    joiner="\n",
    body_count=(3, 8),
)

RISK_REPORT = DocKind(
    name="风险评估报告",
    openers=("个人客户风险评估报告（编号{contract}）", "风险评估报告\n评估日期：{date}", "授信调查报告"),
    body=(
        "一、基本情况：借款人{name}，{gender}，身份证号{id}，现住{address}，联系电话{mobile}。",
        "借款人{name}，证件号码：{id}，户籍地址：{address}。",
        "借款人配偶{name2}，身份证{id}，就职于{company}，月收入约{amount}。",
        "借款企业{company}，统一社会信用代码{uscc}，注册资本{amount}，法定代表人{name}。",
        "统一社会信用代码：{uscc}；经营地址：{address}；企业联系电话：{landline}。",
        "该客户在我行{bank}网点号{branch_no}开立结算账户{card}，近12个月流水合计{amount}。",
        "客户名下车辆{plate}已办理抵押登记，评估价值{amount}。",
        "客户持有{stock}股票约{amount}，近一年波动率{rate}。",
        "客户曾持护照{passport}多次出境，需关注跨境资金流动。",
        "征信报告显示客户有{n}笔贷款，合同号{contract}，执行利率{rate}，到期日{date}。",
        "另查询到订单号{order_no}、金额{amount}的消费分期，业务参考号{bad_id}。",
        "评估人：{agent}；复核人：{name2}。",
        "结论：风险等级R{n}，建议授信额度{amount}，期限{n}年，年利率{rate}。",
        "English summary: borrower {pname}, monthly income {amount}, DTI {rate}.",
        "客户{name}家住{address}，房产为自有住房，按揭已结清。",
        "实地走访：{date} {time}走访{address}，与{surname}{hon}面谈约一小时。",
        "经办客户经理{agent}，联系电话{mobile}，邮箱{email}。",
        "担保人{name2}持港澳居民来往内地通行证{home_return}，常住澳门。",
    ),
    closers=("以上情况属实，特此报告。", "报告人：{agent}　{date}"),
    joiner="\n",
    body_count=(3, 7),
)

LOAN_APPLICATION = DocKind(
    name="贷款申请",
    openers=("个人贷款申请表", "个人消费贷款申请（申请日期：{date}）", "经营性贷款申请书"),
    body=(
        "申请人姓名：{name}",
        "姓名：{name}　性别：{gender}",
        "证件类型：居民身份证　证件号码：{id}",
        "证件号码：{id15}（一代身份证）",
        "手机号码：{mobile}　住宅电话：{landline}",
        "电子邮箱：{email}",
        "家庭住址：{address}",
        "工作单位：{company}　单位地址：{address}",
        "单位统一社会信用代码：{uscc}",
        "申请金额：{amount}　期限：{n}个月　利率：LPR+{rate}",
        "还款账户：{card}（{bank}）",
        "抵押物：车辆，车牌号{plate}",
        "联系人：{name2}，关系：配偶，电话{mobile}",
        "紧急联系人{name2}{mobile}",
        "业务编号{bad_id}　合同编号{contract}　申请日期{date}",
        "客户经理：{agent}（网点号{branch_no}）",
        "申请人{name}承诺以上信息真实有效，签字日期{date}。",
        "收入证明：月均收入{amount}，代发工资卡{card}",
        "Email: {email}; Tel: {mobile}",
    ),
    closers=("申请人签字：{name}", "（以下由银行填写）审批意见：同意。"),
    joiner="\n",
    body_count=(4, 9),
)

TRANSFER_LOG = DocKind(
    name="转账记录",
    openers=("交易流水明细", "转账记录（导出时间{date} {time}）", "账户{card}交易明细"),
    body=(
        "{date} {time} 转出 {amount} 至 {name2} 账号{card} 流水号{order_no}",
        "交易时间：{date} {time}，交易金额：{amount}，对方户名：{name2}，"
        "对方账号：{card}，对方行联行号{bank_no}",
        "付款人{name}，账号{card}，开户行{bank}；收款人{name2}，账号{card}",
        "登录IP：{ipv4}，客户端版本{version}",
        "登录IPv6地址：{ipv6}，登录时间{time}",
        "备注：{name}还款，交易参考号{bad_id}",
        "收款卡号{card}已冻结，冻结金额{amount}",
        "{card}转入{amount}，余额{amount}",
        "跨境汇款：汇款人护照号{passport}，金额{amount}，汇率参考{rate}",
        "代发工资 网点号{branch_no} 金额{amount}",
        "手机银行转账，绑定手机{mobile}，设备IP {ipv4}",
        "卡号{card}于{date}被风控系统拦截",
        "POS消费 订单{order_no} {amount}",
        "访问来源 {ipv6} UA=StockadeApp/{version}",
    ),
    closers=("（本明细仅供参考，以银行系统记录为准）", "合计笔数：{n}"),
    joiner="\n",
    body_count=(3, 8),
)

ACCOUNT_OPENING = DocKind(
    name="开户资料",
    openers=("开户申请书", "个人账户开户资料核验单", "开户日期：{date}"),
    body=(
        "户名：{name}；证件类型：身份证；证件号码：{id}；有效期至{date}。",
        "客户{name}持往来港澳通行证{hk_permit}办理开户。",
        "客户为香港居民，港澳居民来往内地通行证（回乡证）号码{home_return}。",
        "客户出示护照，号码{passport}，签发日期{date}。",
        "联系地址：{address}，邮编{postcode}。",
        "预留手机号{mobile}，备用联系人{name2}（{mobile}）。",
        "开户网点：{bank}网点号{branch_no}，联行号{bank_no}。",
        "新开借记卡{card}，用于代发工资。",
        "客户邮箱：{email}，通讯地址同住址。",
        "单位开户：{company}，统一社会信用代码{uscc}，经办人{name2}，联系电话{landline}。",
        "经办柜员{agent}已核验{surname}{hon}本人身份。",
        "客户自述住址为{address}，与身份证登记地址一致。",
        "姓名：{name}\n手机：{mobile}\n地址：{address}",
        "回乡证{home_return}已通过联网核查。",
    ),
    closers=("客户签字确认。", "核验结果：通过"),
    joiner="\n",
    body_count=(3, 7),
)

COMPLAINT = DocKind(
    name="投诉工单",
    openers=("投诉工单 {contract}", "客户投诉处理单（受理时间{date} {time}）", "【投诉】"),
    body=(
        "投诉人：{name}　联系方式：{mobile}",
        "客户{name}于{date}致电{hotline}投诉，称其信用卡{card}被盗刷{amount}。",
        "{surname}{hon}反映，其名下尾号{card_tail}的账户在{time}被扣款，交易订单号{order_no}。",
        "客户要求将处理结果发送至{email}。",
        "客户车辆{plate}在合作停车场被重复扣费{amount}。",
        "处理人：{agent}，回访电话{landline}，处理时限{date}前。",
        "客户地址：{address}，要求上门致歉。",
        "客户情绪激动，声称已向监管部门反映。",
        "{name}称理财产品{product}宣传年化{rate}，实际收益仅{rate}。",
        "联系人{name2}，电话{landline}，邮箱{email}",
        "客户质疑{date}的一笔{amount}扣费，流水号{order_no}。",
        "投诉渠道：网银，来源IP {ipv4}",
        "客户称身份证{id}被他人冒用办理了信用卡。",
    ),
    closers=("处理结果：已向客户致歉并退还相关费用。", "工单状态：已办结 {date}"),
    joiner="\n",
    body_count=(3, 7),
)

ENGLISH = DocKind(
    name="English/mixed",
    openers=("Ticket {contract} ({date})", "Customer service log", "From: {email}"),
    body=(
        "Customer {pname} ({name}) reported that card {card} was declined at {time} on {date}.",
        "Dear {title} {pname}, your loan of {amount} at {rate} has been approved.",
        "Please reply to {email} or call {mobile}.",
        "Login from {ipv4} and {ipv6}, app {version}.",
        "Passport no. {passport}; HK/Macao permit {hk_permit}.",
        "Home address: {address}.",
        "The customer's ID number is {id} and mobile {mobile}.",
        "Company USCC {uscc}, office phone {landline}.",
        "Order {order_no} for {amount} was refunded.",
        "客户{name}要求英文回复。",
        "Vehicle {plate} was pledged as collateral.",
        "Relationship manager: {agent}, tel {landline}.",
        "Stock {stock} fell {rate} today; branch {branch_no} reported no impact.",
    ),
    closers=("Regards, {agent}", "-- end of log --"),
    joiner="\n",
    body_count=(2, 6),
)

KINDS: tuple[DocKind, ...] = (
    DIALOGUE,
    RISK_REPORT,
    LOAN_APPLICATION,
    TRANSFER_LOG,
    ACCOUNT_OPENING,
    COMPLAINT,
    ENGLISH,
)

# Personal data at the very start or very end of a text.
LEADS: tuple[str, ...] = (
    "{mobile}来电：",
    "{name}的开户资料\n",
    "{card}交易明细\n",
    "{email}：",
    "{id}\n",
    "{plate}车辆抵押登记\n",
    "{address}房产评估\n",
    "{ipv4} - - 登录日志\n",
    "{uscc}企业信息\n",
)
TRAILS: tuple[str, ...] = (
    "\n联系人：{name2}",
    "\n回访电话{mobile}",
    "\n邮箱{email}",
    "。车牌{plate}",
    "\n客户地址：{address}",
    "\n身份证{id}",
    "\n卡号{card}",
    "\n{uscc}",
    "\n固话{landline}",
    "\n{ipv6}",
)

# Plain banking prose without personal data or look-alikes: the bulk of a typical training set,
# used to dilute the labeled documents when measuring scan speed on realistic text.
FILLER: tuple[str, ...] = (
    "个人住房贷款的审批需要综合考虑借款人的收入水平、负债情况和信用记录。",
    "商业银行应当建立健全反洗钱内部控制制度，履行客户身份识别义务。",
    "理财产品的风险等级由低到高分为五级，投资者应根据自身风险承受能力选择。",
    "信用卡分期业务的手续费率应当以年化形式向客户明示，不得隐藏收费。",
    "流动性风险管理的核心是保持资产与负债在期限结构上的合理匹配。",
    "债券违约风险是指发行人无法按期还本付息的可能性，需要关注发行人的偿债能力。",
    "在外汇结算业务中，银行应审核交易背景的真实性与合规性。",
    "客户经理在营销过程中不得夸大收益或者承诺保本保息。",
    "资本充足率是衡量银行抵御风险能力的重要指标。",
    "数字化转型要求银行在提升服务效率的同时，切实保护客户个人信息安全。",
    "对于小微企业贷款，银行可以结合税务、发票等经营数据进行综合授信。",
    "投诉处理应当遵循及时、公正、依法的原则，并做好记录和回访工作。",
    "存款保险制度为存款人提供了一定额度内的全额保障。",
    "贷后管理包括定期检查借款人的经营状况和资金用途。",
    "智能客服可以回答常见问题，复杂业务仍需转接人工坐席。",
    "The bank reviews the purpose of each loan and monitors repayment behaviour over its term.",
    "风险偏好陈述书明确了董事会可以接受的风险类型和总体水平。",
    "压力测试用于评估极端但可能发生的情景对银行资本和流动性的影响。",
    "柜面业务办理时，工作人员需提醒客户妥善保管密码和验证码。",
    "绿色金融支持节能环保、清洁能源和生态保护等领域的发展。",
)
