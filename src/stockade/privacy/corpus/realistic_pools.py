"""Word pools of the realistic corpus (:mod:`stockade.privacy.corpus.realistic`).

Written for this generator only, from general knowledge of Chinese names and places, and never
imported from (or checked against) the detectors' resources: surnames and given-name characters
with their pinyin (so that a record can carry the romanised form of a Chinese name it mentions),
minority names, provinces/cities/districts, counties with towns and villages, development zones,
street, compound and tower name parts. Combined, they give tens of thousands of person names and
streets, far more than a detector could memorise.
"""

from __future__ import annotations


def words(spec: str) -> tuple[str, ...]:
    """``"a b c"`` -> ``("a", "b", "c")``."""
    return tuple(spec.split())


def _pairs(spec: str) -> dict[str, str]:
    """``"王wang 李li"`` -> ``{"王": "wang", "李": "li"}``."""
    out: dict[str, str] = {}
    for item in spec.split():
        han = "".join(c for c in item if not c.isascii())
        out[han] = "".join(c for c in item if c.isascii())
    return out


SURNAMES: dict[str, str] = _pairs(
    """
    王wang 李li 张zhang 刘liu 陈chen 杨yang 黄huang 赵zhao 吴wu 周zhou 徐xu 孙sun 马ma 朱zhu 胡hu
    郭guo 何he 高gao 林lin 罗luo 郑zheng 梁liang 谢xie 宋song 唐tang 许xu 韩han 冯feng 邓deng 曹cao
    彭peng 曾zeng 肖xiao 田tian 董dong 袁yuan 潘pan 于yu 蒋jiang 蔡cai 余yu 杜du 叶ye 程cheng 苏su
    魏wei 吕lv 丁ding 任ren 沈shen 姚yao 卢lu 姜jiang 崔cui 钟zhong 谭tan 陆lu 汪wang 范fan 金jin
    石shi 廖liao 贾jia 夏xia 韦wei 付fu 方fang 白bai 邹zou 孟meng 熊xiong 秦qin 邱qiu 江jiang 尹yin
    薛xue 闫yan 段duan 雷lei 侯hou 龙long 史shi 陶tao 黎li 贺he 顾gu 毛mao 郝hao 龚gong 邵shao
    万wan 钱qian 严yan 覃qin 武wu 戴dai 莫mo 孔kong 向xiang 汤tang 常chang 温wen 康kang 施shi 文wen
    牛niu 樊fan 葛ge 邢xing 安an 齐qi 易yi 乔qiao 伍wu 庞pang 颜yan 倪ni 庄zhuang 聂nie 章zhang
    鲁lu 岳yue 翟zhai 殷yin 詹zhan 申shen 欧ou 耿geng 关guan 兰lan 焦jiao 俞yu 左zuo 柳liu 甘gan
    祝zhu 包bao 宁ning 尚shang 符fu 舒shu 阮ruan 柯ke 纪ji 梅mei 童tong 凌ling 毕bi 季ji 裴pei
    霍huo 涂tu 成cheng 苗miao 谷gu 盛sheng 曲qu 翁weng 冉ran 骆luo 蓝lan 路lu 游you 辛xin 靳jin
    管guan 柴chai 蒙meng 鲍bao 华hua 喻yu 祁qi 蒲pu 房fang 滕teng 屈qu 饶rao 牟mou 艾ai 尤you
    阳yang 时shi 穆mu 农nong 卓zhuo 古gu 吉ji 缪miao 简jian 车che 项xiang 连lian 芦lu 麦mai 褚chu
    娄lou 窦dou 戚qi 岑cen 景jing 党dang 宫gong 费fei 卜bu 冷leng 晏yan 席xi 卫wei 米mi 柏bai
    宗zong 瞿qu 桂gui 全quan 佟tong 应ying 臧zang 闵min 苟gou 邬wu 边bian 卞bian 姬ji 师shi 栾luan
    隋sui 商shang 刁diao 沙sha 荣rong 巫wu 寇kou 桑sang 郎lang 甄zhen 丛cong 仲zhong 虞yu 敖ao
    巩gong 明ming 佘she 池chi 麻ma 苑yuan 迟chi 邝kuang
    """
)

COMPOUND_SURNAMES: dict[str, str] = _pairs(
    "欧阳ouyang 司马sima 诸葛zhuge 上官shangguan 东方dongfang 慕容murong 皇甫huangfu 令狐linghu "
    "夏侯xiahou 公孙gongsun 司徒situ 端木duanmu 宇文yuwen 尉迟yuchi 长孙zhangsun 南宫nangong"
)

GIVEN_CHARS: dict[str, str] = _pairs(
    """
    伟wei 芳fang 娜na 敏min 静jing 丽li 强qiang 磊lei 军jun 洋yang 勇yong 艳yan 杰jie 涛tao 明ming
    超chao 秀xiu 霞xia 平ping 刚gang 桂gui 英ying 华hua 建jian 国guo 晓xiao 红hong 文wen 辉hui 林lin
    鹏peng 飞fei 玉yu 兰lan 萍ping 春chun 海hai 波bo 宇yu 浩hao 凯kai 欣xin 婷ting 雪xue 琳lin
    颖ying 慧hui 倩qian 佳jia 梅mei 丹dan 俊jun 帅shuai 鑫xin 斌bin 宁ning 燕yan 莉li 琴qin 云yun
    峰feng 志zhi 东dong 亮liang 宏hong 新xin 成cheng 龙long 庆qing 德de 荣rong 金jin 晨chen 阳yang
    睿rui 泽ze 涵han 轩xuan 博bo 子zi 梓zi 怡yi 萱xuan 悦yue 昊hao 然ran 思si 雨yu 嘉jia 琪qi 晗han
    瑶yao 璐lu 诗shi 蕾lei 薇wei 妍yan 娟juan 蓉rong 凤feng 翠cui 珍zhen 彬bin 坤kun 振zhen 卫wei
    兵bing 松song 清qing 力li 永yong 忠zhong 光guang 耀yao 锋feng 毅yi 翔xiang 岩yan 楠nan 航hang
    达da 福fu 生sheng 祥xiang 安an 瑞rui 琦qi 雯wen 茜qian 璇xuan 若ruo 晴qing 丰feng 家jia 立li
    玲ling 美mei 秋qiu 菊ju 月yue 冬dong 雅ya 晶jing 鸣ming 正zheng 天tian 一yi 小xiao 中zhong
    山shan 江jiang 晋jin 豪hao 聪cong 健jian 康kang 民min 贵gui 友you 伦lun 书shu 梦meng 婉wan
    淑shu 惠hui 琼qiong 娇jiao 莹ying 露lu 瑾jin 馨xin 菲fei 宜yi 铭ming 鸿hong 锦jin 炜wei 泓hong
    彤tong 琛chen 煜yu 熙xi 皓hao 哲zhe 逸yi 晖hui 凡fan 旭xu 坚jian 树shu 根gen 喜xi 宝bao 顺shun
    胜sheng 义yi 仁ren 智zhi 信xin 兴xing 旺wang 满man 园yuan 芬fen 芝zhi 萌meng 蓓bei 桐tong
    朗lang 栋dong 翰han 骏jun 驰chi 腾teng 奇qi 嵩song 钰yu 秀xiu 倩qian 卉hui 洁jie 蔚wei 冰bing
    """
)

# Minority names, written as they appear on ID cards (no pinyin: not romanised in this corpus).
TIBETAN_NAMES: tuple[str, ...] = words(
    "索朗 扎西 次仁 卓玛 格桑 多吉 达瓦 平措 拉姆 央金 旦增 尼玛 普布 德吉 洛桑 边巴 巴桑 曲珍 "
    "白玛 次旦 强巴 顿珠 仁增 桑珠 琼达 贡布 拉巴 益西 曲措 阿旺"
)
UYGHUR_GIVEN: tuple[str, ...] = words(
    "买买提 艾力 阿依古丽 吐尔逊 努尔 古丽娜尔 热依拉 阿不都 艾合买提 帕提古丽 依明 肉孜 托合提 阿迪力 "
    "迪丽娜尔 麦麦提 伊力哈木 玉苏甫 阿布来提 热合曼 阿力木 米热古丽 努尔古丽 祖丽皮亚 吾斯曼 卡德尔 "
    "阿卜杜拉 再努尔 古再丽 买合木提"
)
MONGOLIAN_NAMES: tuple[str, ...] = words(
    "巴特尔 乌云 其其格 斯琴 额尔敦 苏和 宝音 那顺 朝鲁 图雅 阿拉坦 哈斯 满都拉 乌力吉 孟和 吉日嘎拉 "
    "格日勒 萨仁 塔娜 乌兰 敖登 包力高 巴雅尔 毕力格 其木格"
)

# (province or "" for a municipality, city, districts)
CITIES: tuple[tuple[str, str, tuple[str, ...]], ...] = tuple(
    (prov, city, tuple(districts.split()))
    for prov, city, districts in (
        ("", "北京市", "朝阳区 海淀区 东城区 西城区 丰台区 通州区 昌平区 大兴区"),
        ("", "上海市", "浦东新区 徐汇区 静安区 黄浦区 闵行区 杨浦区 长宁区 普陀区"),
        ("", "天津市", "和平区 南开区 河西区 河东区 滨海新区"),
        ("", "重庆市", "渝中区 江北区 南岸区 沙坪坝区 九龙坡区 渝北区"),
        ("浙江省", "杭州市", "西湖区 上城区 拱墅区 滨江区 余杭区 萧山区"),
        ("浙江省", "宁波市", "海曙区 鄞州区 江北区"),
        ("浙江省", "温州市", "鹿城区 瓯海区 龙湾区"),
        ("浙江省", "绍兴市", "越城区 柯桥区"),
        ("江苏省", "南京市", "玄武区 鼓楼区 建邺区 秦淮区 江宁区"),
        ("江苏省", "苏州市", "姑苏区 吴中区 相城区 虎丘区"),
        ("江苏省", "无锡市", "梁溪区 滨湖区 新吴区"),
        ("江苏省", "常州市", "天宁区 武进区 钟楼区"),
        ("广东省", "广州市", "天河区 越秀区 海珠区 白云区 番禺区"),
        ("广东省", "深圳市", "南山区 福田区 罗湖区 宝安区 龙岗区"),
        ("广东省", "佛山市", "禅城区 南海区 顺德区"),
        ("广东省", "珠海市", "香洲区 金湾区"),
        ("山东省", "济南市", "历下区 市中区 槐荫区"),
        ("山东省", "青岛市", "市南区 市北区 崂山区 黄岛区"),
        ("山东省", "烟台市", "芝罘区 莱山区"),
        ("河南省", "郑州市", "金水区 二七区 中原区 管城回族区"),
        ("河南省", "洛阳市", "西工区 洛龙区 涧西区"),
        ("湖北省", "武汉市", "江汉区 武昌区 洪山区 江岸区 汉阳区"),
        ("湖北省", "宜昌市", "西陵区 伍家岗区"),
        ("湖南省", "长沙市", "岳麓区 芙蓉区 天心区 开福区 雨花区"),
        ("四川省", "成都市", "锦江区 青羊区 武侯区 成华区 金牛区"),
        ("四川省", "绵阳市", "涪城区 游仙区"),
        ("福建省", "福州市", "鼓楼区 台江区 仓山区"),
        ("福建省", "厦门市", "思明区 湖里区 集美区"),
        ("安徽省", "合肥市", "蜀山区 包河区 庐阳区 瑶海区"),
        ("河北省", "石家庄市", "长安区 桥西区 裕华区"),
        ("河北省", "保定市", "竞秀区 莲池区"),
        ("陕西省", "西安市", "雁塔区 碑林区 未央区 莲湖区"),
        ("辽宁省", "沈阳市", "和平区 沈河区 皇姑区 铁西区"),
        ("辽宁省", "大连市", "中山区 沙河口区 甘井子区"),
        ("江西省", "南昌市", "东湖区 西湖区 红谷滩区"),
        ("云南省", "昆明市", "五华区 盘龙区 官渡区"),
        ("广西壮族自治区", "南宁市", "青秀区 兴宁区 西乡塘区"),
        ("新疆维吾尔自治区", "乌鲁木齐市", "天山区 沙依巴克区 新市区"),
        ("内蒙古自治区", "呼和浩特市", "新城区 赛罕区 回民区"),
        ("西藏自治区", "拉萨市", "城关区 堆龙德庆区"),
        ("黑龙江省", "哈尔滨市", "南岗区 道里区 香坊区"),
        ("吉林省", "长春市", "朝阳区 南关区 宽城区"),
        ("山西省", "太原市", "小店区 迎泽区 杏花岭区"),
        ("贵州省", "贵阳市", "云岩区 南明区 观山湖区"),
        ("海南省", "海口市", "龙华区 美兰区"),
        ("甘肃省", "兰州市", "城关区 七里河区"),
    )
)

# (province, city, county) for village addresses
COUNTIES: tuple[tuple[str, str, str], ...] = (
    ("河南省", "周口市", "郸城县"),
    ("河南省", "周口市", "沈丘县"),
    ("河南省", "商丘市", "虞城县"),
    ("山东省", "菏泽市", "曹县"),
    ("山东省", "临沂市", "沂南县"),
    ("安徽省", "阜阳市", "临泉县"),
    ("河北省", "邯郸市", "魏县"),
    ("四川省", "南充市", "仪陇县"),
    ("湖南省", "邵阳市", "隆回县"),
    ("江西省", "赣州市", "于都县"),
    ("甘肃省", "天水市", "秦安县"),
    ("贵州省", "毕节市", "大方县"),
    ("云南省", "曲靖市", "会泽县"),
    ("广西壮族自治区", "玉林市", "博白县"),
    ("湖北省", "黄冈市", "蕲春县"),
    ("陕西省", "渭南市", "蒲城县"),
)
TOWN_STEMS: tuple[str, ...] = words(
    "城关 新集 双楼 汲冢 胡集 石槽 宁平 白马 钱店 丁村 李楼 张集 官桥 马营 油坊 古城 南丰 东风 红星 "
    "太平 长兴 柳林 关帝 黄庄 岔河 金桥 清水 高店 大王 小河"
)
VILLAGE_STEMS: tuple[str, ...] = words(
    "王庄 李家 张湾 刘寨 陈楼 赵庄 孙营 杨屯 周家 吴集 郑庄 何湾 新庄 后李 前王 大柳 小河 东岗 西岗 "
    "南洼 北坡 高庄 田楼 林场 马庄 石桥 枣林 桃园 杏花 槐树 白杨 黄土 红旗 胜利 团结 前进 光明"
)
DEV_ZONES: tuple[tuple[str, str, str], ...] = (
    ("江苏省", "苏州市", "苏州工业园区"),
    ("四川省", "成都市", "成都高新技术产业开发区"),
    ("陕西省", "西安市", "西安高新技术产业开发区"),
    ("", "北京市", "北京经济技术开发区"),
    ("", "天津市", "天津经济技术开发区"),
    ("广东省", "广州市", "广州经济技术开发区"),
    ("安徽省", "合肥市", "合肥高新技术产业开发区"),
    ("湖北省", "武汉市", "武汉东湖新技术开发区"),
    ("山东省", "济南市", "济南高新技术产业开发区"),
    ("江苏省", "无锡市", "无锡国家高新技术产业开发区"),
    ("浙江省", "宁波市", "宁波保税区"),
    ("河南省", "郑州市", "郑州航空港经济综合实验区"),
    ("湖南省", "长沙市", "长沙经济技术开发区"),
    ("辽宁省", "大连市", "大连经济技术开发区"),
)
STREET_STEMS: tuple[str, ...] = words(
    "人民 解放 建设 中山 文三 延安 长江 黄河 和平 新华 胜利 朝阳 建国 光明 友谊 团结 学院 科技 创新 "
    "华夏 滨江 湖滨 江南 迎宾 工农 青年 振兴 复兴 金桥 银河 星湖 天府 高新 世纪 凤凰 丹桂 桂花 玉兰 "
    "海棠 紫薇 梧桐 香樟 翠柳 望江 观澜 沿河 环城 健康 幸福 育才 民主 文化 体育 北京 南京 上海 武汉 "
    "广州 深南 滨海 黄山 泰山 华山 峨眉 漓江 珠江 松花江 淮海 汉中 洛阳 苏州 杭州 嘉定 吴中 东环 "
    "西环 南环 北环 车站 机场 港口 工业 商业 金融 纺织 钢城 农林 果园 青松 春风 秋实 晨光 东湖 西湖 "
    "南湖 清河 白云 碧水 龙华 宝安 福田 曙光 黎明"
)
STREET_SUFFIXES: tuple[str, ...] = words("路 路 路 街 大道 东路 西路 南路 北路 中路 大街")
COMPOUND_STEMS: tuple[str, ...] = words(
    "阳光 幸福 翠苑 金色 碧桂 锦绣 华府 世纪 万科 金地 绿城 保利 龙湖 紫荆 枫林 丽景 御景 海德 "
    "东方 名都 香榭 春江 明珠 怡景 欣苑 嘉园 和谐 康乐 温馨 雅居 景湖 滨湖 青枫 观澜 云栖 星河 "
    "碧水 蓝湾 书香 桃源 富力 中海 融创 招商 华润 金茂 新城 望京 丹霞 长虹"
)
COMPOUND_SUFFIXES: tuple[str, ...] = words("花园 小区 家园 苑 新村 公寓 名邸 府 城 雅苑 佳园 华庭")
TOWER_STEMS: tuple[str, ...] = words(
    "华星时代 国贸 环球 世贸 财富 金融 银泰 嘉里 恒隆 来福士 万达 新世界 中信 汇丰 华润 招商局 "
    "平安 腾飞 创业 科创 海天 中环 东方 金鹰 德基 天安 绿地"
)
TOWER_SUFFIXES: tuple[str, ...] = words("广场 大厦 中心 国际中心 金融中心 写字楼")

COMPANY_STEMS: tuple[str, ...] = words(
    "恒信 宏达 鑫源 瑞丰 华盛 泰和 永安 博远 金诚 众联 新创 汇通 天成 凯越 嘉禾 盛世 德润 宇航 远景 明达"
)
COMPANY_KINDS: tuple[str, ...] = words(
    "贸易有限公司 科技有限公司 建材有限公司 餐饮管理有限公司 物流有限公司 电子商务有限公司 "
    "机械制造有限公司 服装有限公司"
)
