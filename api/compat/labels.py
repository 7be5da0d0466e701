"""The documented tables from this service's categories and decisions to each vendor's
labels and verdict fields (README "Switching from Tencent Cloud TMS or Alibaba Cloud
Green"). A portal keeps its own handling of the vendor's labels; our category id is kept
as Tencent's `SubLabel` and in Aliyun's descriptions, so nothing is lost in the mapping.
"""

from __future__ import annotations

from types import MappingProxyType

from moderation.categories import CATEGORIES

# category -> Tencent TMS `Label`
TENCENT_LABELS = MappingProxyType({
    "political": "Polity", "violence": "Terror", "cult": "Illegal",
    "pornography": "Porn", "gambling": "Illegal", "drugs": "Illegal", "weapons": "Illegal",
    "fraud": "Illegal", "advertising": "Ad", "abuse": "Abuse", "discrimination": "Abuse",
    "rumor": "Polity", "classified": "Illegal", "personal_info": "Custom", "other": "Custom",
})
TENCENT_PASS_LABEL = "Normal"
TENCENT_SUGGESTION = MappingProxyType({"pass": "Pass", "review": "Review", "block": "Block"})

# category -> Aliyun Green `TextModeration` label (the comma-separated `labels`)
ALIYUN_LABELS = MappingProxyType({
    "political": "political_content", "violence": "violence", "cult": "religion",
    "pornography": "sexual_content", "gambling": "contraband", "drugs": "contraband",
    "weapons": "contraband", "fraud": "contraband", "advertising": "ad",
    "abuse": "profanity", "discrimination": "cyberbullying", "rumor": "negative_content",
    "classified": "political_content", "personal_info": "C_customized",
    "other": "C_customized",
})

# category -> Aliyun Green `TextModerationPlus` `Result[].Label`
ALIYUN_PLUS_LABELS = MappingProxyType({
    "political": "political_entity", "violence": "violent_extremist", "cult": "religion_cult",
    "pornography": "sexual_terms", "gambling": "contraband_gambling",
    "drugs": "contraband_drug", "weapons": "contraband_weapons", "fraud": "fraud_scam",
    "advertising": "pt_to_contact", "abuse": "profanity_terms",
    "discrimination": "inappropriate_discrimination", "rumor": "inappropriate_rumor",
    "classified": "political_secret", "personal_info": "C_customized",
    "other": "C_customized",
})
ALIYUN_PLUS_PASS_LABEL = "nonLabel"
# decision -> Aliyun `riskLevel` / `RiskLevel`
ALIYUN_RISK = MappingProxyType({"pass": "none", "review": "medium", "block": "high"})

# Aliyun `Service` -> our channel (unknown services use `compat_default_channel`)
ALIYUN_SERVICE_CHANNELS = MappingProxyType({
    "comment_detection": "comment", "comment_detection_pro": "comment",
    "comment_multilingual_pro": "comment",
    "chat_detection": "message", "chat_detection_pro": "message",
    "nickname_detection": "profile", "nickname_detection_pro": "profile",
    "ad_compliance_detection": "comment", "ad_compliance_detection_pro": "comment",
    "llm_query_moderation": "comment", "llm_response_moderation": "comment",
    "ugc_moderation_byllm": "comment",
})

for _table in (TENCENT_LABELS, ALIYUN_LABELS, ALIYUN_PLUS_LABELS):
    assert set(_table) == set(CATEGORIES), "every category needs a vendor label"


def markdown_tables() -> str:
    """The label tables as the README shows them (one source: these dicts)."""
    rows = ["| our category | Tencent `Label` (`SubLabel` = category) | Aliyun `labels` | "
            "Aliyun Plus `Label` |", "|---|---|---|---|"]
    rows += [f"| {c} | {TENCENT_LABELS[c]} | {ALIYUN_LABELS[c]} | {ALIYUN_PLUS_LABELS[c]} |"
             for c in CATEGORIES]
    rows += ["", "| Aliyun `Service` | channel |", "|---|---|"]
    rows += [f"| {s} | {c} |" for s, c in ALIYUN_SERVICE_CHANNELS.items()]
    return "\n".join(rows)
