"""Lexicon drafts: a set of changes on a named base version, waiting for a dry run and a
publish. A draft is one JSON string (`pm:lexicon:draft:{id}`) listed in a sorted set by
creation time; its creation and every change of state are audited in the same MULTI.
The publish itself marks the draft `published` inside `PUBLISH_LUA`.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import redis.asyncio as aioredis

from api import audit
from api.store import keys
from api.store.connection import unavailable
from api.store.errors import NotFound

OPEN, AWAITING_APPROVAL, PUBLISHED = "open", "awaiting_approval", "published"
CHANGE_KINDS = ("add", "edit", "remove", "allow_add", "allow_remove")


class LexiconDrafts:
    def __init__(self, r: aioredis.Redis) -> None:
        self.r = r

    async def create(self, *, base: int, changes: dict[str, Any], note: str, actor: str,
                     role: str, summary: dict[str, int], adds_block: bool) -> dict[str, Any]:
        draft = {"id": "dr_" + uuid.uuid4().hex[:16], "base_version": base,
                 "changes": {k: changes.get(k) or [] for k in CHANGE_KINDS}, "note": note,
                 "author": actor, "created_at": audit.now_iso(), "status": OPEN,
                 "summary": summary, "adds_block_terms": adds_block,
                 "published_version": None, "approval_requested_by": None}
        pipe = self.r.pipeline(transaction=True)
        pipe.set(keys.lexicon_draft(draft["id"]), json.dumps(draft, ensure_ascii=False))
        pipe.zadd(keys.LEXICON_DRAFTS, {draft["id"]: int(time.time() * 1000)})
        audit.append(pipe, actor, role, "lexicon.draft_created", draft["id"], None,
                     base=base, changes=summary, note_sha256=audit.digest(note or None))
        async with unavailable():
            await pipe.execute()
        return draft

    async def get(self, draft_id: str) -> dict[str, Any]:
        async with unavailable():
            raw = await self.r.get(keys.lexicon_draft(draft_id))
        if raw is None:
            raise NotFound(f"No lexicon draft {draft_id!r}.")
        return json.loads(raw)

    async def list(self, limit: int = 100) -> list[dict[str, Any]]:
        async with unavailable():
            ids = await self.r.zrevrange(keys.LEXICON_DRAFTS, 0, limit - 1)
            raws = await self.r.mget([keys.lexicon_draft(i) for i in ids]) if ids else []
        return [json.loads(x) for x in raws if x]

    async def request_approval(self, draft: dict[str, Any], *, actor: str, role: str
                               ) -> dict[str, Any]:
        """Two-person rule: the draft waits for another admin's approval (audited)."""
        draft = {**draft, "status": AWAITING_APPROVAL, "approval_requested_by": actor}
        pipe = self.r.pipeline(transaction=True)
        pipe.set(keys.lexicon_draft(draft["id"]), json.dumps(draft, ensure_ascii=False))
        audit.append(pipe, actor, role, "lexicon.approval_requested", draft["id"], None,
                     base=draft["base_version"])
        async with unavailable():
            await pipe.execute()
        return draft
