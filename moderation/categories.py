"""The one list of categories used by lexicons, policies, reason codes and statistics."""

from __future__ import annotations

CATEGORIES: tuple[str, ...] = (
    "political",
    "violence",
    "cult",
    "pornography",
    "gambling",
    "drugs",
    "weapons",
    "fraud",
    "advertising",
    "abuse",
    "discrimination",
    "rumor",
    "classified",
    "personal_info",
    "other",
)

SEVERITIES: tuple[str, ...] = ("block", "review")

DECISIONS: tuple[str, ...] = ("pass", "review", "block")

#: Stricter outcomes win when several reasons disagree.
DECISION_RANK: dict[str, int] = {"pass": 0, "review": 1, "block": 2}


def is_category(name: str) -> bool:
    return name in CATEGORIES
