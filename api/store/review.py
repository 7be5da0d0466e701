"""The review workflow's store: one object holding claims, verdicts, SLA upkeep and the
reviewer's reads (an item with its evidence and author history, the audited reveal).

The writes live in their own modules, each Lua script beside the function that builds its
KEYS/ARGV: `claims.py` (claim, renew, lease reaper), `verdicts.py` (verdict, escalate,
appeal), `sla.py` (overdue, auto-escalation, the old queue's migration);
`review_stats.py` reads the figures of `GET /v1/stats`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis

from api import audit
from api.store import keys, review_stats
from api.store.claims import ClaimStore, iso_ms
from api.store.connection import unavailable
from api.store.errors import NotFound
from api.store.items import loaded_decision
from api.store.queues import QueueStat, queue_stats
from api.store.sla import SlaStore
from api.store.verdicts import VerdictStore
from moderation.policy import Policy

AUTHOR_HISTORY = 20
_SUMMARY = ("item_id", "data_id", "channel", "status", "machine", "verdict", "created_at")


def _json(raw: str | None) -> Any:
    return json.loads(raw) if raw else None


def reviewer_view(h: dict[str, str], now_ms: int) -> dict[str, Any]:
    """An item as a reviewer sees it: evidence (hits with spans, PII masked, labels,
    reasons), state, the full history (with reviewers' names); never the unmasked text."""
    decision = loaded_decision(h)
    deadline = int(h.get("deadline_ms") or 0)
    lease = int(h.get("lease_ms") or 0)
    return {
        "id": h["item_id"], "data_id": h["data_id"], "client": h["client"],
        "channel": h["channel"], "status": h["status"], "version": int(h.get("version", 1)),
        "kind": h.get("kind") or None, "queue": h.get("queue") or None,
        "holder": h.get("holder") or None,
        "lease_expires_at": iso_ms(lease) if lease else None,
        "deadline_at": iso_ms(deadline) if deadline else None,
        "overdue": bool(deadline) and deadline <= now_ms,
        "created_at": h["created_at"], "updated_at": h.get("updated_at", h["created_at"]),
        "masked_title": decision.get("masked_title"),
        "masked_text": decision.get("masked_text"),
        "decision": {k: decision.get(k) for k in (
            "decision", "publish", "reasons", "hits", "pii", "labels", "versions",
            "degraded", "hits_truncated", "hits_total", "pii_truncated", "pii_total")
            if k in decision},
        "verdict": _json(h.get("verdict")),
        "first_reject": _json(h.get("first_reject")),
        "escalation": _json(h.get("escalation")),
        "appeal": _json(h.get("appeal")),
        "qa": _json(h.get("qa")),
        "history": _json(h.get("history")) or [],
        "has_author": bool(h.get("author_ref")),
    }


class ReviewStore:
    def __init__(self, r: aioredis.Redis, *, policy: Callable[[], Policy], lease_s: int,
                 ttl_s: int, scan: int = 200) -> None:
        self.r = r
        self.policy = policy
        self.claims = ClaimStore(r, lease_s=lease_s, scan=scan)
        self.verdicts = VerdictStore(r, ttl_s=ttl_s)
        self.sla = SlaStore(r, policy)

    def second_review_channels(self) -> list[str]:
        return [c.name for c in self.policy().channels.values() if c.second_review]

    async def _hash(self, item_id: str) -> dict[str, str]:
        async with unavailable():
            key = await self.r.get(keys.item_id(item_id))
            h = await self.r.hgetall(key) if key else {}
        if not h:
            raise NotFound(f"No item {item_id!r}.")
        return h

    async def item(self, item_id: str, now_ms: int) -> dict[str, Any]:
        """The reviewer's view of an item, with `author_history`."""
        h = await self._hash(item_id)
        view = reviewer_view(h, now_ms)
        view["author_history"] = await self.author_history(h)
        return view

    async def author_history(self, h: dict[str, str]) -> list[dict[str, Any]]:
        """The last 20 other items with this item's author_ref from the same client."""
        if not h.get("author_ref"):
            return []
        ids = await self.r.lrange(keys.author_items(h["client"], h["author_ref"]), 0, -1)
        ids = [i for i in ids if i != h["item_id"]][:AUTHOR_HISTORY]
        pipe = self.r.pipeline(transaction=False)
        for i in ids:
            pipe.get(keys.item_id(i))
        item_keys = await pipe.execute()
        pipe = self.r.pipeline(transaction=False)
        present = [k for k in item_keys if k]
        for k in present:
            pipe.hmget(k, *_SUMMARY)
        out = []
        for row in await pipe.execute() if present else []:
            if row[0] is None:
                continue
            rec = dict(zip(_SUMMARY, row, strict=True))
            verdict = _json(rec.pop("verdict"))
            rec["decision"] = rec.pop("machine")
            rec["verdict"] = verdict.get("verdict") if verdict else None
            rec["reason_code"] = verdict.get("reason_code") if verdict else None
            out.append(rec)
        return out

    async def reveal(self, item_id: str, *, user: str, role: str) -> dict[str, Any]:
        """The unmasked title and text; the audit event is written in the same MULTI."""
        key = await self.r.get(keys.item_id(item_id))
        if not key:
            raise NotFound(f"No item {item_id!r}.")
        async with unavailable(), self.r.pipeline(transaction=True) as pipe:
            pipe.hmget(key, "request", "data_id")
            audit.append(pipe, f"user:{user}", role, "review.revealed", item_id, None)
            (request, data_id), _ = await pipe.execute()
        if request is None:
            raise NotFound(f"No item {item_id!r}.")
        req = json.loads(request)
        return {"id": item_id, "data_id": data_id, "title": req.get("title"),
                "content": req.get("content")}

    async def queue_stats(self, names: list[str], now_ms: int) -> list[QueueStat]:
        async with unavailable():
            return await queue_stats(self.r, names, now_ms)

    async def stats(self, channels: list[str]) -> dict[str, Any]:
        """The figures of `GET /v1/stats` (`review_stats.stats`)."""
        async with unavailable():
            return await review_stats.stats(self.r, channels)
