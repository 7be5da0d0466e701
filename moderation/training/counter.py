"""Template-generated speech about race, region and gender: counter-speech that is safe,
attacks that are not.

COLD's training file labels comments about a group without saying why a safe one is safe, so
a model learns "mentions 黑人 / 河南人 / 女权 and a slur" → offensive, and flags the citizen
who writes *against* discrimination (COLD test's fine-grained label 3: 60-64 % flagged by
every model measured). These templates put the same groups, stereotypes and slurs into both
stances: opposing or discussing a prejudice (label 0) and asserting it (label 1). What differs
between the two is the stance, not the vocabulary, so the topic alone stops being evidence.

Written for this project; COLD test's anti-bias comments were not read to write them (they
stay held out). Groups and sentence patterns are split in two: `counter_examples(part="train")`
draws from one half and `part="dev"` only from the other (unseen groups in unseen patterns),
so a model that learned the phenomenon rather than the templates scores well on both.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from moderation.training.data import LabeledTexts

#: topic -> groups (a person of the group can be named with the same word).
GROUPS: dict[str, tuple[str, ...]] = {
    "race": ("黑人", "非洲人", "白人", "外国人", "日本人", "韩国人", "印度人", "犹太人",
             "少数民族", "穆斯林", "混血儿", "非洲留学生", "亚裔", "阿拉伯人", "东南亚人",
             "拉美人", "越南人", "外籍员工"),
    "region": ("河南人", "东北人", "上海人", "广东人", "新疆人", "农村人", "外地人", "北方人",
               "南方人", "安徽人", "四川人", "湖北人", "山东人", "福建人", "甘肃人", "北京人",
               "温州人", "潮汕人", "贵州人", "江西人"),
    "gender": ("女性", "男性", "女司机", "女权主义者", "单身女性", "全职妈妈", "同性恋者",
               "男生", "女生", "大龄未婚女性", "家庭主妇", "跨性别者", "女程序员",
               "男护士", "离异女性", "职场妈妈", "女博士", "单亲爸爸"),
}
STEREOTYPES: dict[str, tuple[str, ...]] = {
    "race": ("犯罪率高", "懒惰", "又脏又臭", "素质低", "只会占便宜", "智商低", "天生暴力",
             "都是来骗钱的", "不讲卫生", "没有文化"),
    "region": ("爱偷井盖", "都是骗子", "特别排外", "素质低", "爱打架", "小气抠门", "都很土",
               "只认钱", "不讲诚信", "说话粗鲁"),
    "gender": ("开车技术差", "拜金", "不适合当领导", "情绪化", "没有逻辑", "只会花钱",
               "就该在家带孩子", "都是渣男", "不配受教育", "天生比别人差"),
}
SLURS: dict[str, tuple[str, ...]] = {
    "race": ("黑鬼", "黑蛆", "洋垃圾", "鬼子", "阿三", "棒子", "黑皮猴子"),
    "region": ("偷井盖的", "地域黑口中的骗子", "乡巴佬", "盲流", "土鳖", "外地佬"),
    "gender": ("女拳", "小仙女", "母狗", "直男癌", "娘炮", "剩女", "国男"),
}
BIAS_NAMES: dict[str, tuple[str, ...]] = {
    "race": ("种族歧视", "民族歧视", "排外情绪", "肤色偏见"),
    "region": ("地域歧视", "地域黑", "地域偏见", "地图炮"),
    "gender": ("性别歧视", "性别偏见", "对女性的歧视", "性别对立"),
}
VIRTUES = ("很友善", "很勤劳", "很热心", "很靠谱", "讲诚信", "很有礼貌", "工作很认真",
           "很有能力", "对人很真诚", "乐于助人")
INSULTS = ("垃圾", "畜生", "废物", "人渣", "蛆虫", "杂种", "劣等人", "寄生虫", "贱种")
CURSES = ("滚出中国", "滚回老家去", "都该死", "离我远点", "别来祸害我们", "赶紧滚",
          "全部赶走才好", "没一个好东西")


def _pick(rng: random.Random, topic: str, table: dict[str, tuple[str, ...]]) -> str:
    return rng.choice(table[topic])


# Each pattern: (topic, group, rng) -> sentence. Slots are filled from the tables above.
Pattern = Callable[[str, str, random.Random], str]

SAFE_PATTERNS: tuple[Pattern, ...] = (
    lambda t, g, r: f"不要一竿子打翻一船人，{g}里也有很多好人。",
    lambda t, g, r: f"个别人的行为不能代表所有{g}，请不要搞{_pick(r, t, BIAS_NAMES)}。",
    lambda t, g, r: f"说{g}{_pick(r, t, STEREOTYPES)}的人，其实自己才是真的有偏见。",
    lambda t, g, r: f"“{g}{_pick(r, t, STEREOTYPES)}”这种说法就是刻板印象，一点道理都没有。",
    lambda t, g, r: f"我身边的{g}都{r.choice(VIRTUES)}，{_pick(r, t, BIAS_NAMES)}真的要不得。",
    lambda t, g, r: f"坚决反对{_pick(r, t, BIAS_NAMES)}，{g}应该被平等对待。",
    lambda t, g, r: f"把{g}叫做“{_pick(r, t, SLURS)}”是很侮辱人的，请尊重别人。",
    lambda t, g, r: f"网上骂{g}的人太多了，这种{_pick(r, t, BIAS_NAMES)}让人很难受。",
    lambda t, g, r: f"作为{g}，我经常被人说{_pick(r, t, STEREOTYPES)}，这种标签很伤人。",
    lambda t, g, r: f"{g}也是普通人，有好有坏，凭什么因为出身被区别对待？",
    lambda t, g, r: f"看到评论区都在骂{g}，我想说一句：{_pick(r, t, BIAS_NAMES)}是不对的。",
    lambda t, g, r: f"{g}在找工作时经常遭遇{_pick(r, t, BIAS_NAMES)}，希望社会多一些包容。",
    lambda t, g, r: f"有没有数据能证明{g}{_pick(r, t, STEREOTYPES)}？没有的话就别乱说。",
    lambda t, g, r: f"请理性讨论，不要因为一个新闻就给所有{g}贴标签。",
    lambda t, g, r: f"用“{_pick(r, t, SLURS)}”这种词称呼{g}，本身就暴露了说话人的偏见。",
    lambda t, g, r: f"我以前也觉得{g}{_pick(r, t, STEREOTYPES)}，认识了几个之后发现完全不是这样。",
    lambda t, g, r: f"{_pick(r, t, BIAS_NAMES)}的根源是无知，多接触{g}就会发现大家都一样。",
    lambda t, g, r: f"这篇文章讲{g}面临的困境，写得很客观，值得一看。",
    lambda t, g, r: f"希望有关部门保障{g}的合法权益，不能容忍{_pick(r, t, BIAS_NAMES)}。",
    lambda t, g, r: f"为什么总有人拿{g}开刀？说到底还是{_pick(r, t, BIAS_NAMES)}在作怪。",
    lambda t, g, r: f"{g}招谁惹谁了？出了事就往{g}身上推，这不公平。",
    lambda t, g, r: (f"我老婆就是{g}，{r.choice(VIRTUES)}，"
                     f"那些说{g}{_pick(r, t, STEREOTYPES)}的根本不了解。"),
    lambda t, g, r: f"哪里都有好人和坏人，跟是不是{g}没有关系。",
    lambda t, g, r: f"新闻里那个人犯了错就罚他，别上升到所有{g}。",
    lambda t, g, r: f"{g}{_pick(r, t, STEREOTYPES)}？我跟{g}共事好几年，从没见过。",
    lambda t, g, r: f"{_pick(r, t, BIAS_NAMES)}说白了就是欺负人，{g}不欠谁的。",
    lambda t, g, r: f"这种动不动就骂{g}的帖子，平台应该管一管。",
    lambda t, g, r: f"以前总听人说{g}{_pick(r, t, STEREOTYPES)}，后来才知道是被带节奏了。",
    lambda t, g, r: f"请尊重{g}，他们和你我一样是在努力生活的人。",
    lambda t, g, r: f"叫{g}“{_pick(r, t, SLURS)}”太难听了，换位思考一下吧。",
    lambda t, g, r: f"统计数据并不支持“{g}{_pick(r, t, STEREOTYPES)}”这个说法。",
    lambda t, g, r: f"{g}被歧视的问题由来已久，需要法律和教育一起解决。",
    lambda t, g, r: f"有的人一边反感别人给自己贴标签，一边给{g}贴标签。",
    lambda t, g, r: f"我是{g}，也被人骂过“{_pick(r, t, SLURS)}”，真的很委屈。",
    lambda t, g, r: f"讨论{g}的问题可以，但请就事论事，别搞人身攻击。",
    lambda t, g, r: f"{g}也有自己的难处，多一点理解少一点指责吧。",
    lambda t, g, r: f"如果你被人说成{_pick(r, t, STEREOTYPES)}，你心里会好受吗？别这样说{g}。",
    lambda t, g, r: f"这个博主天天煽动大家骂{g}，就是为了流量，别上当。",
    lambda t, g, r: f"{g}的合法权益应该受到保护，任何{_pick(r, t, BIAS_NAMES)}都不该被纵容。",
    lambda t, g, r: f"身边很多{g}朋友，{r.choice(VIRTUES)}，网上那些偏见太离谱了。",
)
OFFENSIVE_PATTERNS: tuple[Pattern, ...] = (
    lambda t, g, r: f"{g}就是{_pick(r, t, STEREOTYPES)}，没一个好东西。",
    lambda t, g, r: f"{g}都是{r.choice(INSULTS)}，{r.choice(CURSES)}！",
    lambda t, g, r: f"我最讨厌{g}了，{_pick(r, t, STEREOTYPES)}，{r.choice(CURSES)}。",
    lambda t, g, r: f"离{g}远点，他们{_pick(r, t, STEREOTYPES)}，{_pick(r, t, SLURS)}就是这样。",
    lambda t, g, r: f"说不歧视{g}的都是圣母，{g}就是{_pick(r, t, STEREOTYPES)}。",
    lambda t, g, r: f"{_pick(r, t, SLURS)}就该{r.choice(CURSES)}，{g}没有资格和我们一样。",
    lambda t, g, r: f"这不是{_pick(r, t, BIAS_NAMES)}，是事实：{g}{_pick(r, t, STEREOTYPES)}。",
    lambda t, g, r: f"{g}这种{r.choice(INSULTS)}，{_pick(r, t, STEREOTYPES)}还不让人说？",
    lambda t, g, r: f"又是{g}干的吧？{_pick(r, t, SLURS)}果然{_pick(r, t, STEREOTYPES)}。",
    lambda t, g, r: f"{g}天生{_pick(r, t, STEREOTYPES)}，跟{r.choice(INSULTS)}没区别。",
    lambda t, g, r: f"我就是歧视{g}，{_pick(r, t, STEREOTYPES)}的人凭什么不能歧视？",
    lambda t, g, r: f"招人千万别要{g}，{_pick(r, t, STEREOTYPES)}，都是{r.choice(INSULTS)}。",
    lambda t, g, r: f"哪有什么好{g}，{_pick(r, t, STEREOTYPES)}是他们的本性。",
    lambda t, g, r: f"别洗了，{g}就是{_pick(r, t, STEREOTYPES)}，谁接触谁知道。",
    lambda t, g, r: f"跟{g}讲道理没用，这帮{r.choice(INSULTS)}只配{r.choice(CURSES)}。",
    lambda t, g, r: f"又在给{g}洗地？{_pick(r, t, SLURS)}就是{_pick(r, t, SLURS)}，改不了。",
    lambda t, g, r: f"看到{g}就恶心，{_pick(r, t, STEREOTYPES)}，{r.choice(CURSES)}。",
    lambda t, g, r: (f"我家楼下来了一群{g}，{_pick(r, t, STEREOTYPES)}，"
                     f"真想让他们{r.choice(CURSES)}。"),
    lambda t, g, r: (f"所谓反对{_pick(r, t, BIAS_NAMES)}都是借口，"
                     f"{g}本来就{_pick(r, t, STEREOTYPES)}。"),
    lambda t, g, r: f"{g}这种{_pick(r, t, SLURS)}也配当人？{r.choice(CURSES)}！",
    lambda t, g, r: f"一看就是{g}，{_pick(r, t, STEREOTYPES)}，{r.choice(INSULTS)}一个。",
    lambda t, g, r: f"支持{g}的人脑子都有病，{g}{_pick(r, t, STEREOTYPES)}这是常识。",
    lambda t, g, r: f"{g}生的孩子也是{r.choice(INSULTS)}，{_pick(r, t, STEREOTYPES)}会遗传。",
    lambda t, g, r: f"谁要是嫁给{g}就是瞎了眼，{g}全是{r.choice(INSULTS)}。",
)
OPENINGS = ("", "", "", "说句公道话，", "看不下去了，", "讲道理，", "楼上的，", "其实", "我想说，",
            "评论区好多人在吵，", "刚看到这个新闻，", "呵呵，", "真的无语，", "实话实说，")
CLOSINGS = ("", "", "", "", "大家怎么看？", "不服来辩。", "就这样吧。", "别杠。", "共勉。")


def _halves(items: Sequence, part: str) -> list:
    """Every fourth item (from the last) belongs to dev, the rest to train."""
    keep_dev = part == "dev"
    return [x for i, x in enumerate(items) if (i % 4 == 3) == keep_dev]


def counter_examples(n_safe: int, n_offensive: int, *, part: str = "train",
                     seed: int = 11) -> LabeledTexts:
    """`n_safe` distinct counter-speech sentences (0) and `n_offensive` distinct attacks (1),
    spread evenly over the three topics, from the `part` ("train" or "dev") half of the groups
    and patterns. Fewer come back when the half cannot make that many distinct sentences."""
    if part not in ("train", "dev"):
        raise ValueError("part must be 'train' or 'dev'")
    rng = random.Random(f"{seed}/{part}")
    groups = {t: _halves(g, part) for t, g in GROUPS.items()}
    topics = sorted(groups)
    made: list[tuple[str, int, str]] = []
    for label, patterns, n in ((0, _halves(SAFE_PATTERNS, part), n_safe),
                               (1, _halves(OFFENSIVE_PATTERNS, part), n_offensive)):
        seen: set[str] = set()
        for _ in range(n * 50):
            if len(seen) >= n:
                break
            topic = topics[len(seen) % len(topics)]
            core = rng.choice(patterns)(topic, rng.choice(groups[topic]), rng)
            text = f"{rng.choice(OPENINGS)}{core}{rng.choice(CLOSINGS)}"
            if text not in seen:
                seen.add(text)
                made.append((text, label, topic))
    rng.shuffle(made)
    return LabeledTexts(tuple(m[0] for m in made), tuple(m[1] for m in made),
                        name=f"counter-templates({part},seed={seed})",
                        topics=tuple(m[2] for m in made))
