"""Statuses and roles as `str` Enums: they are stored in Redis and sent over HTTP as-is."""

from __future__ import annotations

from enum import StrEnum


class ItemStatus(StrEnum):
    """Life of an item: machine outcome first, then the review workflow's states."""

    PASSED = "passed"
    BLOCKED = "blocked"
    PENDING = "pending"
    CLAIMED = "claimed"
    APPROVED = "approved"
    REJECTED = "rejected"
    ESCALATED = "escalated"
    APPEALED = "appealed"

    @property
    def is_final(self) -> bool:
        """Final items expire after `item_ttl_days`; the others never do."""
        return self in FINAL_STATUSES

    @classmethod
    def for_decision(cls, decision: str) -> ItemStatus:
        """Only `review` decisions are queued for people."""
        return {"pass": cls.PASSED, "block": cls.BLOCKED}.get(decision, cls.PENDING)


FINAL_STATUSES = frozenset(
    {ItemStatus.PASSED, ItemStatus.BLOCKED, ItemStatus.APPROVED, ItemStatus.REJECTED}
)


class Role(StrEnum):
    """People's roles, ordered: each role may do what the ones before it may."""

    REVIEWER = "reviewer"
    SENIOR = "senior"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    def allows(self, needed: Role) -> bool:
        return self.rank >= needed.rank
