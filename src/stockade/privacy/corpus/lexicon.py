"""Word lists the corpus generator draws from: names (with pinyin), places, banks, companies, codes."""

from __future__ import annotations


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


def _pairs(text: str) -> tuple[tuple[str, str], ...]:
    """``"张:Zhang 王:Wang"`` -> ``(("张", "Zhang"), ("王", "Wang"))``."""
    return tuple((hanzi, pinyin) for hanzi, pinyin in (word.split(":") for word in text.split()))


# (hanzi, pinyin)
SURNAMES: tuple[tuple[str, str], ...] = _pairs(
    "张:Zhang 王:Wang 李:Li 赵:Zhao 刘:Liu 陈:Chen 杨:Yang 黄:Huang 周:Zhou 吴:Wu 徐:Xu 孙:Sun "
    "马:Ma 朱:Zhu 胡:Hu 郭:Guo 何:He 林:Lin 罗:Luo 郑:Zheng 梁:Liang 谢:Xie 宋:Song 唐:Tang "
    "许:Xu 韩:Han 冯:Feng 邓:Deng 曹:Cao 彭:Peng 曾:Zeng 肖:Xiao 田:Tian 董:Dong 袁:Yuan "
    "潘:Pan 蒋:Jiang 蔡:Cai 余:Yu 杜:Du 叶:Ye 程:Cheng 苏:Su 魏:Wei 吕:Lyu 丁:Ding 任:Ren "
    "沈:Shen 姚:Yao 卢:Lu 姜:Jiang 崔:Cui 钟:Zhong 谭:Tan 陆:Lu 汪:Wang 范:Fan 廖:Liao "
    "贾:Jia 夏:Xia 韦:Wei 付:Fu 邹:Zou 孟:Meng 熊:Xiong 秦:Qin 邱:Qiu 尹:Yin 薛:Xue 闫:Yan "
    "段:Duan 雷:Lei 侯:Hou 史:Shi 陶:Tao 黎:Li 贺:He 顾:Gu 毛:Mao 郝:Hao 龚:Gong 邵:Shao "
    "钱:Qian 覃:Qin 戴:Dai 孔:Kong 汤:Tang 庞:Pang 樊:Fan 兰:Lan 殷:Yin 施:Shi 翟:Zhai"
)
COMPOUND_SURNAMES: tuple[tuple[str, str], ...] = _pairs(
    "欧阳:Ouyang 司马:Sima 诸葛:Zhuge 上官:Shangguan 东方:Dongfang 皇甫:Huangfu 尉迟:Yuchi "
    "公孙:Gongsun 慕容:Murong 令狐:Linghu 司徒:Situ 夏侯:Xiahou 长孙:Zhangsun 宇文:Yuwen "
    "端木:Duanmu 南宫:Nangong 独孤:Dugu 万俟:Moqi"
)
GIVEN_MALE: tuple[tuple[str, str], ...] = _pairs(
    "伟:Wei 强:Qiang 磊:Lei 军:Jun 洋:Yang 勇:Yong 杰:Jie 涛:Tao 斌:Bin 鹏:Peng 建华:Jianhua "
    "志强:Zhiqiang 晓东:Xiaodong 海波:Haibo 建国:Jianguo 国强:Guoqiang 浩然:Haoran 梓轩:Zixuan "
    "宇航:Yuhang 俊杰:Junjie 文博:Wenbo 子豪:Zihao 振宇:Zhenyu 立新:Lixin 德明:Deming "
    "永康:Yongkang 家豪:Jiahao 思远:Siyuan 明轩:Mingxuan 天佑:Tianyou 建军:Jianjun 卫东:Weidong"
)
GIVEN_FEMALE: tuple[tuple[str, str], ...] = _pairs(
    "娜:Na 静:Jing 敏:Min 艳:Yan 娟:Juan 芳:Fang 婷:Ting 秀英:Xiuying 桂英:Guiying 海燕:Haiyan "
    "红梅:Hongmei 晓燕:Xiaoyan 欣怡:Xinyi 子涵:Zihan 雨萱:Yuxuan 一诺:Yinuo 嘉怡:Jiayi "
    "婷婷:Tingting 娜娜:Nana 丽华:Lihua 淑珍:Shuzhen 玉兰:Yulan 美玲:Meiling 佳琪:Jiaqi "
    "思雨:Siyu 梦瑶:Mengyao 慧敏:Huimin 雪梅:Xuemei 春燕:Chunyan 诗涵:Shihan 晓彤:Xiaotong"
)
# Surname + given name pairs that read as ordinary words; never generated.
AMBIGUOUS_NAMES: frozenset[str] = frozenset({"高明", "高强", "严明", "汤勇", "万强", "史静", "黎明", "江涛"})

# 6-digit administrative division codes (GB/T 2260) used for IDs and USCCs, with their places.
REGION_CODES: tuple[str, ...] = _words(
    "110101 110102 110105 110108 110106 120101 120104 120103 130102 130104 140105 140106 "
    "210102 210103 220102 220104 230103 230102 310101 310104 310106 310115 310112 320102 "
    "320106 320505 320583 330106 330108 330212 340104 340103 350203 350206 360102 370102 "
    "370202 370212 410105 410103 420106 420103 430104 430102 440103 440106 440304 440305 "
    "440306 441900 442000 450103 460106 500103 500105 500112 510104 510107 520102 530102 "
    "610113 610103 620102 650102 640104 630102"
)

MUNICIPALITIES: dict[str, tuple[str, ...]] = {
    "北京市": ("朝阳区", "海淀区", "东城区", "西城区", "丰台区", "通州区", "昌平区"),
    "上海市": ("浦东新区", "徐汇区", "黄浦区", "静安区", "长宁区", "闵行区"),
    "天津市": ("和平区", "南开区", "河西区", "滨海新区"),
    "重庆市": ("渝中区", "江北区", "南岸区", "渝北区"),
}
PROVINCES: dict[str, dict[str, tuple[str, ...]]] = {
    "广东省": {"广州市": ("天河区", "越秀区", "海珠区"), "深圳市": ("南山区", "福田区", "罗湖区", "宝安区")},
    "浙江省": {"杭州市": ("西湖区", "上城区", "滨江区"), "宁波市": ("鄞州区", "海曙区")},
    "江苏省": {"南京市": ("玄武区", "鼓楼区", "建邺区"), "苏州市": ("姑苏区", "吴中区")},
    "四川省": {"成都市": ("武侯区", "锦江区", "青羊区")},
    "湖北省": {"武汉市": ("武昌区", "洪山区", "江汉区")},
    "山东省": {"青岛市": ("市南区", "崂山区"), "济南市": ("历下区", "市中区")},
    "福建省": {"厦门市": ("思明区", "湖里区"), "福州市": ("鼓楼区", "仓山区")},
    "河南省": {"郑州市": ("金水区", "二七区")},
    "陕西省": {"西安市": ("雁塔区", "碑林区")},
    "湖南省": {"长沙市": ("岳麓区", "芙蓉区")},
}
RURAL: tuple[tuple[str, str, str, str], ...] = (
    ("河南省", "周口市", "淮阳区", "王店乡"),
    ("四川省", "绵阳市", "三台县", "芦溪镇"),
    ("山东省", "临沂市", "沂南县", "界湖街道"),
    ("安徽省", "阜阳市", "临泉县", "城关镇"),
    ("湖南省", "邵阳市", "隆回县", "桃洪镇"),
    ("江西省", "赣州市", "于都县", "贡江镇"),
)
VILLAGES = ("李庄村", "白果村", "东风村", "新华村", "马家村", "柳树屯村", "高桥村")
ROADS = _words(
    "建国路 世纪大道 中山路 人民路 解放路 南京西路 长安街 科技园路 文三路 天府大道 珠江路 滨江大道 "
    "淮海中路 东三环北路 金融大街 深南大道 科华北路 汉阳大道 香港中路 延安西路 学院路 和平路 新华路 "
    "光明路 朝阳北路 五一路 黄河路 花园街 青年大街 曙光路"
)
ESTATES = _words(
    "阳光花园 碧桂园 万科城 幸福里小区 金色家园 翠湖苑 锦绣江南 华府小区 世纪城 绿地新都会 "
    "和谐家园 丽景湾 春晓苑 滨江花园 紫荆公寓"
)
TOWERS = _words("国贸大厦 金茂大厦 华润大厦 环球金融中心 招商局大厦 中信大厦 时代广场 财富中心")

BANKS = _words(
    "中国工商银行 中国农业银行 中国银行 中国建设银行 交通银行 招商银行 浦发银行 中信银行 "
    "兴业银行 民生银行 平安银行 北京银行 宁波银行"
)
COMPANIES = _words(
    "华兴科技有限公司 宏达贸易有限公司 恒信建设工程有限公司 瑞丰食品有限公司 远航物流股份有限公司 "
    "博雅教育咨询有限公司 众诚汽车销售服务有限公司 星辰网络科技有限公司 金穗农业发展有限公司"
)
PRODUCTS = _words("稳盈180天 安鑫月享 季季红 天天利 薪金宝 添利宝 卓越成长一号")

# Bank card BINs: (prefix, lengths). UnionPay 62..., Visa 4..., Mastercard 5...
CARD_BINS: tuple[tuple[str, tuple[int, ...]], ...] = (
    ("622202", (19,)),
    ("621226", (19,)),
    ("622848", (19,)),
    ("621700", (19,)),
    ("623668", (19,)),
    ("622588", (16,)),
    ("621483", (16,)),
    ("622262", (19,)),
    ("621661", (19,)),
    ("622908", (18,)),
    ("621799", (17,)),
    ("625965", (16,)),
    ("622155", (16,)),
    ("436742", (16,)),
    ("427020", (16,)),
    ("438088", (16,)),
    ("518710", (16,)),
    ("524047", (16,)),
    ("552599", (16,)),
)

MOBILE_PREFIXES = _words(
    "130 131 132 133 134 135 136 137 138 139 145 147 150 151 152 153 155 156 157 158 159 166 "
    "170 173 175 176 177 178 180 181 182 183 184 185 186 187 188 189 191 198 199"
)
AREA_CODES_3 = ("010", "020", "021", "022", "023", "024", "025", "027", "028", "029")
AREA_CODES_4 = ("0755", "0571", "0512", "0532", "0731", "0871", "0591", "0592", "0371", "0311", "0769")

EMAIL_DOMAINS = _words(
    "163.com 126.com qq.com sina.com foxmail.com gmail.com outlook.com icbc.com.cn ccb.com "
    "boc.cn cmbchina.com yeah.net hotmail.com bank-demo.com.cn"
)

HOTLINES = ("95588", "95599", "95566", "95533", "95555", "95559", "95568", "95528")
STOCKS = ("600519", "601398", "600036", "000001", "000858", "300750", "601318", "002594", "600000")
STOCK_SUFFIX = (".SH", ".SZ")
