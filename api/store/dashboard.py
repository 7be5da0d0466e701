"""Figures of the admin dashboard that `GET /v1/stats` does not have: machine decisions per
day by outcome and by category, and the most-hit lexicon terms, over the stored items.

Items keep no index by time (see `recent_items`), so this reads the newest `limit` items
(default 10,000) and buckets them by UTC day of creation: a picture of recent traffic,
bounded in cost, not an all-time count.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import redis.asyncio as aioredis

from api.store import recent_items
from api.store.recent_items import ItemText

DEFAULT_LIMIT = 10_000


def _day(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).date().isoformat()


def summarize(items: list[ItemText], days: int, today: str | None = None) -> dict[str, Any]:
    """Per day (oldest first): outcome counts and category counts; top terms overall."""
    end = datetime.fromisoformat(today).date() if today else datetime.now(UTC).date()
    names = [(end - timedelta(days=d)).isoformat() for d in range(days - 1, -1, -1)]
    outcome = {d: Counter() for d in names}
    category = {d: Counter() for d in names}
    terms: Counter[str] = Counter()
    term_category: dict[str, str] = {}
    for it in items:
        day = _day(it.created_ms)
        if day not in outcome:
            continue
        outcome[day][str(it.decision.get("decision", "unknown"))] += 1
        cats = {h.get("category") for h in it.decision.get("hits") or []}
        cats |= {r.get("category") for r in it.decision.get("reasons") or []
                 if r.get("decision") != "pass"}
        if it.decision.get("pii"):
            cats.add("personal_info")
        for c in cats:
            if c:
                category[day][c] += 1
        for h in it.decision.get("hits") or []:
            terms[h.get("term", "")] += 1
            term_category.setdefault(h.get("term", ""), h.get("category", ""))
    return {"days": names,
            "by_outcome": {d: dict(outcome[d]) for d in names},
            "by_category": {d: dict(category[d]) for d in names},
            "top_terms": [{"term": t, "category": term_category.get(t, ""), "count": n}
                          for t, n in terms.most_common(20) if t],
            "items_read": len(items)}


async def traffic(r: aioredis.Redis, days: int = 14, limit: int = DEFAULT_LIMIT
                  ) -> dict[str, Any]:
    return summarize(await recent_items.recent(r, limit), days)
