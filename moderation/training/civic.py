"""Template-generated civic speech for training: complaints that are safe, insults that are not.

A model fine-tuned on COLD alone learns that negative words are offensive: it flags a citizen
who writes that the rubbish (垃圾) has not been collected, that 城管 used violence, or that a
shop cheated old people. Those are the portal's daily traffic. These templates add complaint
and request sentences about services and officials (label 0) and, over the same subjects,
plain insults (label 1), so the model learns the difference between criticising and abusing
rather than the topic. They were written for this project and share no sentence with the
pipeline's held-out civic-speech test table; the generator is seeded, so training is
reproducible.
"""

from __future__ import annotations

import random

from moderation.training.data import LabeledTexts

SUBJECTS = (
    "城管", "物业", "街道办", "居委会", "派出所", "交警", "窗口工作人员", "社保局", "医院",
    "学校", "供电公司", "自来水公司", "燃气公司", "房管局", "环保局", "市场监管局", "公交公司",
    "施工单位", "开发商", "商家", "村委会", "镇政府", "区政府", "卫健委", "教育局", "住建局",
    "信访局", "热线工作人员", "快递公司", "中介公司", "驾校", "银行", "养老院", "幼儿园",
    "拆迁办", "执法人员", "村干部", "社区医生", "网格员", "保安",
)
FAULTS = (
    "态度恶劣", "态度粗暴", "推诿扯皮", "不作为", "乱收费", "暴力执法", "办事效率太低",
    "服务太差了", "简直是在糊弄群众", "拖欠工资", "虚假宣传", "踢皮球", "一直不处理",
    "敷衍了事", "太过分了", "让人寒心", "根本不管", "欺负老百姓", "说话难听", "乱罚款",
    "强行拆除围墙", "收了钱不办事", "互相推脱责任", "把我们当皮球踢", "办事拖拖拉拉",
    "冷冰冰的", "一问三不知", "只会说没办法", "随意克扣补贴", "骗了很多老人",
)
FACTS = (
    "小区垃圾好几天没人清理", "垃圾桶满了没人管", "垃圾站臭气熏天", "楼道里堆满了垃圾",
    "路灯坏了一个月", "下水道堵了", "晚上施工噪音扰民", "工厂偷排污水", "电梯经常坏",
    "停车位被占用", "暖气不热", "自来水发黄", "老人被电信诈骗骗走了积蓄",
    "有人搞刷单诈骗", "保健品骗局专骗老人", "路面坑洼不平", "井盖丢失", "树枝压断了电线",
    "违章建筑挡住了采光", "小区门口占道经营", "外卖电动车乱停乱放", "楼上漏水",
    "学校周边交通拥堵", "农民工工资被拖欠", "退休金迟迟不到账", "医保报销被拒",
    "残疾人补贴被克扣", "智障孩子上学难", "外地人孩子入学难", "女职工产假被扣工资",
)
REQUESTS = (
    "请有关部门尽快处理", "希望领导重视", "请上级部门调查", "要求给个说法", "建议加强监管",
    "请纪委查处", "请尽快回复", "希望依法处理", "请给老百姓一个交代", "希望尽快解决",
    "请相关部门督促整改", "希望能公开处理结果", "我已经反映过多次了", "请不要再推诿",
)
QUESTIONS = (
    "请问{group}的{service}怎么申请？", "{group}办理{service}需要哪些材料？",
    "希望为{group}提供更多{service}。", "建议简化{group}申请{service}的流程。",
)
GROUPS = (
    "残疾人", "智障人士", "精神障碍患者", "外地人", "农民工", "少数民族群众", "女职工",
    "单亲妈妈", "低保户", "孤寡老人", "退役军人", "留守儿童", "新疆来的务工人员", "外国留学生",
)
SERVICES = (
    "生活补贴", "康复救助", "廉租房", "医保报销", "子女入学", "就业培训", "法律援助",
    "临时救助", "居住证", "养老服务", "心理咨询", "无障碍设施",
)
INSULTS = (
    "畜生", "废物", "垃圾", "蛀虫", "狗东西", "王八蛋", "人渣", "饭桶", "猪脑子", "败类",
    "狗腿子", "寄生虫", "智障", "蠢货", "杂种",
)
CURSES = (
    "全家都不得好死", "早晚遭报应", "去死吧", "滚出我们这里", "都该被拉出去枪毙",
    "生孩子没屁眼", "一个个都该死", "真想弄死你们",
)


def _complaint(rng: random.Random) -> str:
    s, f, fact, r = (rng.choice(x) for x in (SUBJECTS, FAULTS, FACTS, REQUESTS))
    pattern = rng.randrange(6)
    if pattern == 0:
        return f"{s}{f}，{r}。"
    if pattern == 1:
        return f"{fact}，{s}{f}，{r}。"
    if pattern == 2:
        return f"我要投诉{s}，{f}，{r}。"
    if pattern == 3:
        return f"反映一下{fact}的问题，{r}。"
    if pattern == 4:
        who = s if s.endswith(("人员", "干部", "医生", "网格员", "保安")) else f"{s}的工作人员"
        return f"{who}{f}，{fact}也没人管。"
    return rng.choice(QUESTIONS).format(group=rng.choice(GROUPS), service=rng.choice(SERVICES))


def _insult(rng: random.Random) -> str:
    s, i, c = rng.choice(SUBJECTS), rng.choice(INSULTS), rng.choice(CURSES)
    pattern = rng.randrange(4)
    if pattern == 0:
        return f"{s}都是一群{i}，{c}。"
    if pattern == 1:
        return f"这帮{s}就是{i}，{c}！"
    if pattern == 2:
        return f"{rng.choice(FACTS)}，{s}这些{i}{c}。"
    return f"{s}的人全是{i}，{c}。"


def civic_examples(n_safe: int, n_offensive: int, seed: int = 7) -> LabeledTexts:
    """`n_safe` distinct complaint sentences (0) and `n_offensive` distinct insults (1)."""
    rng = random.Random(seed)
    safe: dict[str, None] = {}
    offensive: dict[str, None] = {}
    for target, make, n in ((safe, _complaint, n_safe), (offensive, _insult, n_offensive)):
        for _ in range(n * 50):
            if len(target) >= n:
                break
            target[make(rng)] = None
    texts = list(safe) + list(offensive)
    labels = [0] * len(safe) + [1] * len(offensive)
    order = list(range(len(texts)))
    rng.shuffle(order)
    return LabeledTexts(tuple(texts[i] for i in order), tuple(labels[i] for i in order),
                        name=f"civic-templates(seed={seed})")
