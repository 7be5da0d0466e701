"""Chinese names the review pages show for ids (categories, PII types, statuses…).

The ids themselves (CONTRACTS.md "Categories") stay the stored and sent values; these are
display names only. An id without a name is shown as itself.
"""

from __future__ import annotations

CATEGORY_ZH: dict[str, str] = {
    "political": "政治", "violence": "暴力恐怖", "cult": "邪教与非法组织",
    "pornography": "色情", "gambling": "赌博", "drugs": "毒品", "weapons": "枪支爆炸物",
    "fraud": "诈骗", "advertising": "广告引流", "abuse": "辱骂骚扰",
    "discrimination": "歧视", "rumor": "谣言", "classified": "涉密",
    "personal_info": "个人信息", "other": "其他",
}
SEVERITY_ZH = {"block": "拦截", "review": "人工审核"}
DECISION_ZH = {"pass": "通过", "review": "人工审核", "block": "拦截"}
PII_ZH = {
    "cn_id_card": "身份证号", "bank_card": "银行卡号", "mobile": "手机号",
    "landline": "固定电话", "email": "电子邮箱", "ipv4": "IPv4 地址", "ipv6": "IPv6 地址",
    "passport": "护照号", "license_plate": "车牌号", "uscc": "统一社会信用代码",
}
STATUS_ZH = {
    "passed": "已通过（机器）", "blocked": "已拦截（机器）", "pending": "待审核",
    "claimed": "审核中", "approved": "人工通过", "rejected": "人工驳回",
    "escalated": "已升级", "appealed": "申诉中",
}
QUEUE_ZH = {"post": "帖子", "comment": "评论", "message": "留言", "profile": "个人资料",
            "escalated": "升级队列", "appeals": "申诉", "qa": "质检抽样"}
ROLE_ZH = {"reviewer": "审核员", "senior": "高级审核员", "admin": "管理员"}
MATCH_ZH = {"substring": "子串", "word": "整词"}
VERDICT_ZH = {"approve": "通过", "reject": "驳回"}


def zh(table: dict[str, str], key: object) -> str:
    return table.get(str(key), str(key)) if key is not None else ""
