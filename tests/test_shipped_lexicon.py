"""The shipped lexicon (`lexicons/`) on real portal traffic, through the whole pipeline.

A government portal exists to receive complaints, so the first table is what citizens
actually write: demolition, petitions, corruption reports, criticism of officials, 城管 and
police, and sentences with near-miss words (大麻烦, 打击赌博, 禁毒宣传, 反诈骗, 抵制邪教).
Every one must pass on every channel. The second table is what the lexicon exists for, typed
the way evaders type it, with the span of each hit checked against what the user typed.
The model is off (`model=None`): these tests judge the lexicon, PII and policy alone.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from moderation.categories import CATEGORIES
from moderation.lexicon import Lexicon, check_directory
from moderation.pipeline import SHIPPED_LEXICON, Moderator, load_moderator
from moderation.types import Decision

CHANNELS = ("post", "comment", "message")


@pytest.fixture(scope="module")
def moderator() -> Moderator:
    return load_moderator(lexicon_dir=None, policy_path=None, model=None)


@pytest.fixture(scope="module")
def lexicon(moderator: Moderator) -> Lexicon:
    return moderator.lexicon


def _explain(d: Decision) -> str:
    return "; ".join(f"{h.term}/{h.category}/{h.severity}@{h.text!r}" for h in d.hits) or "-"


# --- files -----------------------------------------------------------------------------------


def test_files_load_cleanly() -> None:
    terms, allow, problems = check_directory(SHIPPED_LEXICON)
    assert problems == []
    assert len(terms) >= 300
    assert len(allow) >= 20


def test_each_file_holds_one_category_named_after_it() -> None:
    terms, _, _ = check_directory(SHIPPED_LEXICON)
    for term in terms:
        stem = Path(term.source.rsplit(":", 1)[0]).stem
        assert term.category == stem, term.source


def test_no_political_or_rumor_terms_are_shipped() -> None:
    terms, _, _ = check_directory(SHIPPED_LEXICON)
    shipped = {t.category for t in terms}
    assert shipped.isdisjoint({"political", "rumor"})
    assert shipped <= set(CATEGORIES)


def test_every_shipped_category_can_block() -> None:
    terms, _, _ = check_directory(SHIPPED_LEXICON)
    by_category: dict[str, set[str]] = {}
    for t in terms:
        by_category.setdefault(t.category, set()).add(t.severity)
    # Discrimination and classified may be review-heavy, but every area can block something.
    assert all("block" in sev for sev in by_category.values()), by_category


@pytest.mark.parametrize(
    "word",
    [
        "政府", "领导", "上访", "信访", "拆迁", "腐败", "投诉", "举报", "维权", "城管",
        "贪污", "受贿", "不作为", "乱收费", "乱罚款", "暴力执法", "强拆", "集体上访",
        "纪委", "公安局", "派出所", "警察", "赌博", "打击赌博", "毒品", "吸毒", "禁毒",
        "诈骗", "反诈骗", "电信诈骗", "邪教", "抵制邪教", "反邪教", "国家秘密", "涉密",
        "商业机密", "炸药", "爆破", "管制刀具", "枪支弹药", "色情", "卖淫嫖娼", "扫黄打非",
        "兼职", "代购", "免费领取", "办证", "上门服务", "大麻烦", "娱乐城", "返水", "彩金",
    ],
)  # fmt: skip
def test_civic_vocabulary_is_not_a_term(lexicon: Lexicon, word: str) -> None:
    found = lexicon.match(word)
    assert found.hits == (), [h.term for h in found.hits]


# --- legitimate civic speech: everything passes --------------------------------------------

CIVIC = [
    # housing, demolition, land
    "我家老房子拆迁，补偿款到现在还没发下来，请政府尽快给个说法。",
    "拆迁办工作人员态度恶劣，强拆我家围墙，请上级部门调查。",
    "我对征地补偿标准有异议，申请行政复议。",
    "公租房分配不公平，有关系的人先分到房子。",
    "老旧小区加装电梯的补贴什么时候发放？",
    "违建的彩钢房占用消防通道，存在安全隐患。",
    # petitions and the 12345 hotline
    "我已经多次上访，信访局一直推诿，希望领导重视。",
    "信访件转来转去，最后又转回被投诉的单位，这样怎么解决问题？",
    "拨打12345热线反映的问题，工单被直接办结，根本没人处理。",
    "我的电话是13912345678，请相关部门回电。",
    # corruption reports
    "举报某街道办主任贪污扶贫款，证据我已经整理好了。",
    "村支书腐败问题严重，低保名额都给了他亲戚，请纪委查处。",
    "某局长的亲属承包了全部绿化工程，涉嫌利益输送，请纪委调查。",
    "公示的低保名单里有开豪车的人，希望重新核查。",
    "村干部在土地流转中优亲厚友，村民意见很大。",
    "举报某副局长使用假文凭提拔，组织部门应该核查他的学历。",
    # criticism of officials, 城管 and police
    "城管暴力执法，把摆摊老人的三轮车砸了，太过分了。",
    "城管队员态度粗暴，没收了我的电动车，不给任何手续。",
    "政府应该对暴力执法的城管严肃追责。",
    "派出所民警出警太慢，报警四十分钟才到现场，要求说明原因。",
    "交警乱罚款，同一个地方一天开了三张罚单。",
    "领导干部下基层走形式，拍完照就走，群众意见很大。",
    "办个营业执照跑了五趟，窗口工作人员互相踢皮球。",
    "这个窗口工作人员简直是在糊弄群众，服务太差了。",
    "镇政府拖欠农民工工资已经半年了，我要投诉。",
    # noise, environment, utilities
    "小区楼下烧烤店每天营业到凌晨两点，噪音扰民，投诉多次无果。",
    "工地夜间施工打桩，严重影响居民休息，请住建部门查处。",
    "河道里有工厂偷排污水，鱼都死了，环保部门不作为。",
    "采石场放炮炸山，爆破震得我家墙都裂了，要求赔偿。",
    "小区门口娱乐城的KTV噪音扰民到凌晨。",
    "冬天供暖温度不达标，室内只有十四度。",
    "自来水有异味，已经好几天了，请水务集团检测。",
    "地漏返水，下水道堵塞，物业一直不处理。",
    "小区垃圾分类桶经常满溢，臭气熏天，没人清理。",
    "楼上住户高空抛物，物业不管，请派出所处理。",
    # pensions, medical insurance, labour
    "我父亲的养老金这个月少发了三百元，社保局电话一直打不通。",
    "异地就医医保报销手续太繁琐，建议简化流程。",
    "社区卫生服务中心缺少常用药，老人买药要跑很远。",
    "医院挂号难，专家号全被黄牛抢走了。",
    "公司拖欠社保，我去劳动监察大队投诉了也没结果。",
    "退役军人优待政策落实不到位，希望有关部门督促。",
    "请问智障人士的残疾证补贴怎么申请？",
    "残疾人无障碍设施被占用，轮椅根本过不去。",
    # schooling
    "孩子上学划片不合理，离家三公里的学校却不让读，请教育局解释。",
    "学校乱收费，要求家长统一购买校服和教辅，请查处。",
    "全市统一教材的政策很好，减轻了家长负担。",
    "幼儿园收费标准不透明，请物价部门核查。",
    "孩子在学校被同学欺负，老师不管，请教育局介入。",
    "网吧允许未成年人进入，希望文化执法部门检查。",
    "学校历史课讲到鸦片战争，孩子很感兴趣。",
    # traffic and transport
    "早晚高峰这个路口红绿灯时间太短，经常堵车，建议调整配时。",
    "十字路口交通信号灯坏了三天，没人来修。",
    "公交车改线后我们小区附近没有站点了，老人出行很不方便。",
    "出租车拒载、绕路现象严重，建议加强监管。",
    "建议在学校门口设置减速带和斑马线，保障孩子安全。",
    # suggestions and open government
    "建议停车场增加微信支付和支付宝缴费方式。",
    "建议延长政务大厅周末的办公时间，上班族来不及办事。",
    "希望公开今年财政预算的明细，接受群众监督。",
    "支援交通建设的专项资金使用情况请公开。",
    "政府网站上的政策文件链接打不开，希望及时维护。",
    "信息公开申请被答复说涉及国家秘密，不予公开，我不服。",
    "为老年人和女性服务的专门窗口应该单独设置。",
    "去税务局代开发票排队两个小时，建议增加窗口。",
    "自然人到税务局代开增值税发票要带哪些材料？",
    # consumer complaints
    "菜市场缺斤短两，投诉电话没人接。",
    "买的彩金项链褪色了，商家拒绝退货。",
    "10k粉丝的博主带货卖假货，市场监管部门能管吗？",
    "楼道里贴满了开锁、办证的小广告，物业从来不清理。",
    "商家虚假宣传保健品能治病，骗了很多老人。",
    "电线杆上到处贴着办证刻章的小广告，严重影响市容。",
    "毕业证丢了，请问去哪里补办毕业证？",
    "手机丢了，营业厅说不能帮我查通话记录和手机定位，怎么办？",
    "这种一刀切的做法抹杀了你们社区工作者的付出。",
    # near-miss words
    "这件事要是再拖下去就是大麻烦了，请尽快处理。",
    "社区民警打击赌博很有力，小区里的麻将馆都规范了，点赞。",
    "举报有人在小区里聚众赌博，每天晚上都吵到很晚。",
    "我们村开展禁毒宣传活动，效果很好，建议多组织几次。",
    "接到反诈骗宣传短信，提醒大家不要轻信陌生来电。",
    "希望加大对电信诈骗的打击力度，我母亲被骗了两万元。",
    "社区反诈宣传讲了刷单诈骗的套路，大家要警惕刷单返利类诈骗。",
    "公安机关没有安全账户，接到这类电话请直接挂断。",
    "学校组织学生抵制邪教的主题班会，很有意义。",
    "社区举办揭批法轮功的反邪教展览，居民踊跃参观。",
    "酒店门口每天都有人塞招嫖小卡片，希望公安部门管一管。",
    "云南的工业大麻种植项目审批进度能否公开？",
    "社区做爱心义卖活动，收入全部捐给困难家庭。",
    "微信群交流时有人乱发广告，建议群主加强管理。",
    "这条路不修好，早晚会出大麻烦。",
    # contact words in civic speech (the evasion layer reads 家/佳/+ as 加 before a platform)
    "国家威信和政府公信力要靠依法行政来维护。",
    "嘉宾微信扫码签到的系统总是卡，活动现场排了长队。",
    "建议停车场支持支付宝+微信缴费。",
    "大家微信联系比较方便，社区能不能建个群？",
    "我已经联系微信客服了，但问题还没解决。",
]


@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize("content", CIVIC)
def test_civic_speech_passes(moderator: Moderator, content: str, channel: str) -> None:
    d = moderator.moderate(content, channel=channel)
    assert d.decision == "pass", _explain(d)
    assert d.hits == ()


def test_civic_table_is_large_enough() -> None:
    assert len(CIVIC) >= 60
    assert len(set(CIVIC)) == len(CIVIC)


# --- violations, typed the way evaders type them -------------------------------------------

#: 代开发票 with zero-width spaces between the characters.
_ZWSP_INVOICE = "代\u200b开\u200b发\u200b票"

# (content, decision, category, term that must fire, what the user typed for that term)
VIOLATIONS = [
    # drugs
    ("出售冰毒，量大从优，货到付款", "block", "drugs", "出售冰毒", "出售冰毒"),
    ("出售冰 毒，量大从优", "block", "drugs", "出售冰毒", "出售冰 毒"),
    ("长期供应，冰毒貨源充足", "block", "drugs", "冰毒货源", "冰毒貨源"),
    ("有Ｋ粉出售，私聊", "block", "drugs", "k粉出售", "Ｋ粉出售"),
    ("摇*头*丸出售，当天到", "block", "drugs", "摇头丸出售", "摇*头*丸出售"),
    ("哪里能买到冰毒？急", "review", "drugs", "冰毒", "冰毒"),
    ("有没有人知道哪里买大麻", "review", "drugs", "大麻", "大麻"),
    ("听.话.水，无色无味，效果保证", "block", "drugs", "听话水", "听.话.水"),
    # gambling
    ("澳门线上赌场上线啦，真人荷官在线发牌", "block", "gambling", "线上赌场", "线上赌场"),
    ("澳門線上賭場，信譽第一", "block", "gambling", "线上赌场", "線上賭場"),
    ("时.时.彩 计划群，稳定盈利", "block", "gambling", "时时彩", "时.时.彩"),
    ("北京赛车ＰＫ１０，每天稳赚", "block", "gambling", "北京赛车pk10", "北京赛车ＰＫ１０"),
    ("⑥合彩特码，期期准", "block", "gambling", "六合彩特码", "⑥合彩特码"),
    ("地下陆合彩开奖结果", "block", "gambling", "地下六合彩", "地下陆合彩"),
    ("新用户注册送彩金888", "block", "gambling", "注册送彩金", "注册送彩金"),
    ("菠菜🎰网站招代理，日结", "block", "gambling", "菠菜网站", "菠菜🎰网站"),
    # pornography
    ("叁级片免费看", "block", "pornography", "三级片", "叁级片"),
    ("③级片资源打包", "block", "pornography", "三级片", "③级片"),
    ("Ⅲ级片在线观看", "block", "pornography", "三级片", "Ⅲ级片"),
    ("美女裸🔥聊，一对一", "block", "pornography", "裸聊", "裸🔥聊"),
    ("同城约 炮，真实可靠", "block", "pornography", "约炮", "约 炮"),
    ("高清无码，点击下载", "block", "pornography", "高清无码", "高清无码"),
    ("壹夜情交友平台", "review", "pornography", "一夜情", "壹夜情"),
    ("谁有黄片分享一下", "review", "pornography", "黄片", "黄片"),
    ("美女裸 liao，私我", "block", "pornography", "裸liao", "裸 liao"),
    # fraud
    ("代開發票，各行业均可", "block", "fraud", "代开发票", "代開發票"),
    (_ZWSP_INVOICE + "，税点低", "block", "fraud", "代开发票", _ZWSP_INVOICE),
    ("兼职刷单，日结三百", "block", "fraud", "兼职刷单", "兼职刷单"),
    ("高价收购银行卡，一张五百", "block", "fraud", "收购银行卡", "收购银行卡"),
    ("信 用 卡 套 现，秒到账", "block", "fraud", "信用卡套现", "信 用 卡 套 现"),
    ("社工库查人，开房记录都能查", "block", "fraud", "社工库", "社工库"),
    ("专业出售个人信息，精准名单", "block", "fraud", "出售个人信息", "出售个人信息"),
    ("四六级代考，包过", "review", "fraud", "代考", "代考"),
    ("有没有人一起刷单赚点零花钱", "review", "fraud", "刷单", "刷单"),
    # advertising
    ("想了解的加 微 信 abc123", "review", "advertising", "加微信", "加 微 信"),
    ("加ｖ看更多精彩", "block", "advertising", "加v看", "加ｖ看"),
    ("有意者加Ｖ：abc123", "review", "advertising", "加v", "加Ｖ"),
    ("有偿删帖，负面新闻快速处理", "block", "advertising", "有偿删帖", "有偿删帖"),
    ("在家躺着日賺千元，宝妈首选", "block", "advertising", "日赚千元", "日賺千元"),
    ("专业讨债，不成功不收费", "block", "advertising", "专业讨债", "专业讨债"),
    # weapons
    ("出售仿真槍，全国包邮", "block", "weapons", "出售仿真枪", "出售仿真槍"),
    ("氣槍出售，配件齐全", "block", "weapons", "气枪出售", "氣槍出售"),
    ("炸.药.配.方，手把手教", "block", "weapons", "炸药配方", "炸.药.配.方"),
    ("教你自制炸弹的视频", "block", "weapons", "自制炸弹", "自制炸弹"),
    ("３Ｄ打印枪图纸", "block", "weapons", "3d打印枪", "３Ｄ打印枪"),
    # violence
    ("再不给我办，我就殺你全家", "block", "violence", "杀你全家", "殺你全家"),
    ("明天我就去炸学校", "block", "violence", "炸学校", "炸学校"),
    ("分享斩首视频", "block", "violence", "斩首视频", "斩首视频"),
    ("信不信我弄死你", "review", "violence", "弄死你", "弄死你"),
    ("有没有人知道无痛自杀的办法", "review", "violence", "无痛自杀", "无痛自杀"),
    # cult
    ("法*轮*功是正法", "block", "cult", "法轮功", "法*轮*功"),
    ("法輪大法好", "block", "cult", "法轮大法", "法輪大法"),
    ("全 能 神 的福音传给你", "block", "cult", "全能神", "全 能 神"),
    ("加入观音法门，消灾免难", "block", "cult", "观音法门", "观音法门"),
    # abuse
    ("操 你 妈，什么玩意", "block", "abuse", "操你妈", "操 你 妈"),
    ("你就是个傻💩逼", "block", "abuse", "傻逼", "傻💩逼"),
    ("你就是个ＳＢ", "review", "abuse", "sb", "ＳＢ"),
    ("这个王八蛋又来了", "review", "abuse", "王八蛋", "王八蛋"),
    ("CNM，什么破游戏", "review", "abuse", "cnm", "CNM"),
    # discrimination
    ("滚回非洲去吧黑鬼", "block", "discrimination", "黑鬼", "黑鬼"),
    ("死基佬离我远点", "block", "discrimination", "死基佬", "死基佬"),
    ("小日本的东西不买", "review", "discrimination", "小日本", "小日本"),
    # classified
    ("机密★长期 关于某项目的请示", "block", "classified", "机密长期", "机密★长期"),
    ("绝密★启用前 2026年数学试卷", "review", "classified", "绝密启用前", "绝密★启用前"),
]


@pytest.mark.parametrize(("content", "decision", "category", "term", "typed"), VIOLATIONS)
def test_violation_is_caught_where_the_user_typed_it(
    moderator: Moderator, content: str, decision: str, category: str, term: str, typed: str
) -> None:
    d = moderator.moderate(content, channel="comment")
    assert d.decision == decision, _explain(d)
    mine = [h for h in d.hits if h.term == term]
    assert mine, _explain(d)
    hit = mine[0]
    assert hit.category == category
    assert content[hit.start : hit.end] == typed == hit.text
    assert hit.field == "content"


@pytest.mark.parametrize("channel", CHANNELS)
def test_block_terms_block_on_every_channel(moderator: Moderator, channel: str) -> None:
    d = moderator.moderate("出售冰 毒，量大从优", channel=channel)
    assert d.decision == "block"
    assert d.publish is False


def test_violation_table_covers_every_shipped_category() -> None:
    terms, _, _ = check_directory(SHIPPED_LEXICON)
    assert {t.category for t in terms} <= {row[2] for row in VIOLATIONS}
    assert len(VIOLATIONS) >= 40


def test_hit_in_title_is_reported_on_the_title(moderator: Moderator) -> None:
    title = "代開發票"
    d = moderator.moderate("联系我了解详情", title=title, channel="post")
    assert d.decision == "block"
    (hit,) = [h for h in d.hits if h.term == "代开发票"]
    assert (hit.field, title[hit.start : hit.end]) == ("title", "代開發票")


# --- allow list ----------------------------------------------------------------------------

# (content, the term that the allow phrase suppresses)
ALLOWED = [
    ("云南工业大麻产业发展规划", "大麻"),
    ("学校历史课讲到鸦片战争", "鸦片"),
    ("去税务局代开发票要带什么材料", "代开发票"),
    ("税务机关代开发票的流程是什么", "代开发票"),
    ("自然人到税务局代开增值税发票", "代开增值税"),
    ("警惕刷单返利类诈骗", "刷单返利"),
    ("刷单诈骗的套路有哪些", "刷单"),
    ("酒店门口塞满招嫖小卡片", "招嫖"),
    ("建议增加微信缴费方式", "加微信"),
    ("活动可以参加微信投票", "加微信"),
    ("揭批法轮功的展览", "法轮功"),
    ("揭露全能神的欺骗手段", "全能神"),
    ("公安机关没有安全账户", "安全账户"),
    ("智障人士就业补贴", "智障"),
    ("残废军人抚恤标准", "残废"),
    ("印度支那半岛的地理", "支那"),
    ("密支那战役纪念馆", "支那"),
    ("建议增加VIP通道", "加v"),
    ("这款办公全能神器很好用", "全能神"),
]


@pytest.mark.parametrize(("content", "term"), ALLOWED)
def test_allow_phrase_suppresses_the_hit(moderator: Moderator, content: str, term: str) -> None:
    d = moderator.moderate(content, channel="comment")
    assert d.decision == "pass", _explain(d)
    assert term in {h.term for h in d.suppressed}


@pytest.mark.parametrize(
    ("content", "term", "typed"),
    [
        ("税务局代开发票太慢了，私下代開發票的倒是很多", "代开发票", "代開發票"),
        ("工业大麻不行，我这里出售大麻", "出售大麻", "出售大麻"),
        ("增加微信支付吧，另外有事请加微信", "加微信", "加微信"),
    ],
)
def test_allow_phrase_leaves_other_occurrences_alone(
    moderator: Moderator, content: str, term: str, typed: str
) -> None:
    d = moderator.moderate(content, channel="comment")
    hits = [h for h in d.hits if h.term == term]
    assert len(hits) == 1, _explain(d)
    assert content[hits[0].start : hits[0].end] == typed
    assert d.decision != "pass"


# --- word mode -------------------------------------------------------------------------------

WORD_MODE = [
    # (content, term, fires)
    ("买大麻", "大麻", True),
    ("这下有大麻烦了", "大麻", False),
    ("大麻哈鱼很好吃", "大麻", False),
    ("有没有k粉", "k粉", True),
    ("这个博主有5k粉丝", "k粉", False),
    ("你个sb", "sb", True),
    ("电脑的usb接口坏了", "sb", False),
    ("你是智障吧", "智障", True),
    ("他们乱交", "乱交", True),
    ("不要乱交钱", "乱交", False),
    ("十字路口交通拥堵", "口交", False),
    ("社区做爱心活动", "做爱", False),
    ("全市统一教材", "统一教", False),
    ("支援交通建设", "援交", False),
    ("为老年人和女性服务", "性服务", False),
    ("找人代考", "代考", True),
    ("代考试报名", "代考", False),
    ("码农二代考成了程序员", "代考", False),  # 二 as written, not folded to 2, is segmented
    ("cnm，什么破游戏", "cnm", True),
    ("cnmc公司的年报", "cnm", False),
    ("网上百家乐", "百家乐", True),
    ("百家乐园小区停车难", "百家乐", False),
    ("女拳又来了", "女拳", True),
    ("体育馆举办男女拳击比赛", "女拳", False),
    ("兄妹乱伦", "乱伦", True),
    ("社会秩序混乱伦理缺失", "乱伦", False),
    ("信不信我杀了你", "杀了你", True),
    ("这种做法抹杀了你的努力", "杀了你", False),
]


@pytest.mark.parametrize(("content", "term", "fires"), WORD_MODE)
def test_word_mode_terms_need_token_boundaries(
    lexicon: Lexicon, content: str, term: str, fires: bool
) -> None:
    found = lexicon.match(content)
    assert (term in {h.term for h in found.hits}) is fires, [h.term for h in found.hits]


def test_word_mode_terms_are_declared_word_in_the_files(lexicon: Lexicon) -> None:
    modes = {t.term: t.match for t in lexicon.terms}
    assert {modes[term] for _, term, _ in WORD_MODE} == {"word"}
