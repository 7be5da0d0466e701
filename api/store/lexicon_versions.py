"""Lexicon versions in Redis: immutable, numbered 1, 2, 3… in publish order.

`pm:lexicon:version:{n}` holds n's content (never rewritten), `pm:lexicon:versions` its
metadata, `pm:lexicon:current` the live number. A publish names the version it was based
on: `PUBLISH_LUA` checks that it is still the current one (else `LexiconStale`, 409
`stale_version`), then writes the content, the metadata, the new current number, the
audit event and the draft's new state, and announces the version on
`keys.VERSION_CHANNEL`, all in one call: no change is ever lost to a concurrent publish,
and no process hears of a version that is not fully written.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from api import audit
from api.store import keys
from api.store.connection import unavailable
from api.store.errors import NotFound, StoreError
from api.store.lexicon_content import Content

# Publish (or seed) a version. Arguments: `LexiconVersions._publish_args`.
PUBLISH_LUA = """
-- KEYS[1]  current version number   pm:lexicon:current
-- KEYS[2]  version metadata         pm:lexicon:versions (hash n -> JSON)
-- KEYS[3]  the new version's content pm:lexicon:version:{n}
-- KEYS[4]  audit stream             pm:audit
-- KEYS[5]  the draft published      pm:lexicon:draft:{id} (unused without a draft)
-- ARGV[1]  base version ('' = seed: only when there is no version yet)
-- ARGV[2]  new version n   ARGV[3] content   ARGV[4] metadata JSON
-- ARGV[5]  audit event "lexicon.<action>" ('' = none: the automatic seed)
-- ARGV[6]  pub/sub channel
-- ARGV[7]  announcement JSON   ARGV[8] the draft's new JSON ('' = no draft)
-- Returns {"published", n} | {"stale", current or ''} | {"exists", current}
local cur = redis.call('GET', KEYS[1])
if ARGV[1] == '' then
  if cur then
    return {'exists', cur}
  end
elseif cur ~= ARGV[1] then
  return {'stale', cur or ''}
end
if redis.call('EXISTS', KEYS[3]) == 1 then
  return {'stale', cur or ''}
end
redis.call('SET', KEYS[3], ARGV[3])
redis.call('HSET', KEYS[2], ARGV[2], ARGV[4])
redis.call('SET', KEYS[1], ARGV[2])
if ARGV[8] ~= '' then
  redis.call('SET', KEYS[5], ARGV[8])
end
if ARGV[5] ~= '' then
  redis.call('XADD', KEYS[4], '*', 'e', ARGV[5])
end
redis.call('PUBLISH', ARGV[6], ARGV[7])
return {'published', ARGV[2]}
"""


class LexiconStale(StoreError):
    """Another publish came first: the draft's base is no longer the current version."""

    code = "stale_version"


class LexiconInvalid(StoreError):
    """A draft or import that cannot apply; `problems` names every one."""

    code = "invalid_lexicon_change"

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


@dataclass(frozen=True, slots=True)
class VersionMeta:
    """What `GET /v1/lexicon/versions` lists for one version."""

    version: int
    content_hash: str
    published_at: str
    author: str
    action: str  # seed | publish | rollback | import
    note: str
    base: int | None
    counts: dict[str, int]
    draft_id: str | None = None
    rollback_of: int | None = None
    approved_by: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__slots__}

    @classmethod
    def from_json(cls, raw: str) -> VersionMeta:
        return cls(**json.loads(raw))


def _prepare(content: Content) -> tuple[str, str, dict[str, int]]:
    return content.content_hash, content.dumps(), content.counts()


class LexiconVersions:
    """Versions on one Redis client."""

    def __init__(self, r: aioredis.Redis) -> None:
        self.r = r
        self._publish = r.register_script(PUBLISH_LUA)

    async def current(self) -> int | None:
        """The live version number (None on a store never seeded)."""
        async with unavailable():
            raw = await self.r.get(keys.LEXICON_CURRENT)
        return int(raw) if raw else None

    async def meta(self, version: int) -> VersionMeta:
        async with unavailable():
            raw = await self.r.hget(keys.LEXICON_VERSIONS, str(version))
        if raw is None:
            raise NotFound(f"No lexicon version {version}.")
        return VersionMeta.from_json(raw)

    async def content(self, version: int) -> Content:
        """A version's rows (decoded in a worker thread: ~1 s for a 64k-term list)."""
        async with unavailable():
            raw = await self.r.get(keys.lexicon_version(version))
        if raw is None:
            raise NotFound(f"No lexicon version {version}.")
        return await asyncio.to_thread(Content.loads, raw)

    async def list(self) -> list[VersionMeta]:
        async with unavailable():
            raw = await self.r.hgetall(keys.LEXICON_VERSIONS)
        return sorted((VersionMeta.from_json(v) for v in raw.values()),
                      key=lambda m: m.version, reverse=True)

    async def publish(self, content: Content, *, base: int | None, actor: str, role: str,
                      action: str, note: str = "", draft: dict[str, Any] | None = None,
                      rollback_of: int | None = None, approved_by: str | None = None,
                      changes: dict[str, int] | None = None) -> VersionMeta:
        """Make `content` version base+1 (1 when seeding with `base=None`).

        Raises `LexiconStale` when `base` is no longer current (or, seeding, when a version
        exists: the caller reads that one instead).
        """
        n = (base or 0) + 1
        # hashing folds every term and the blob is compressed: seconds for 64k terms
        digest, blob, counts = await asyncio.to_thread(_prepare, content)
        meta = VersionMeta(version=n, content_hash=digest, published_at=audit.now_iso(),
                           author=actor, action=action, note=note, base=base,
                           counts=counts, draft_id=(draft or {}).get("id"),
                           rollback_of=rollback_of, approved_by=approved_by)
        # The automatic seed of version 1 (the directory the service started with) is no
        # one's change: its metadata records it (author system, action seed), the audit log
        # records every change people make from there.
        event = "" if action == "seed" else audit.event_json(
            actor, role, f"lexicon.{action}", f"lexicon:{n}",
            {"lexicon": n, "lexicon_hash": digest}, base=base, draft_id=meta.draft_id,
            rollback_of=rollback_of, approved_by=approved_by, changes=changes or {},
            counts=meta.counts, note_sha256=audit.digest(note or None))
        announce = json.dumps({"kind": "lexicon", "version": n, "content_hash": digest})
        draft_key = keys.lexicon_draft(draft["id"]) if draft else keys.LEXICON_VERSIONS
        async with unavailable():
            reply = await self._publish(
                keys=[keys.LEXICON_CURRENT, keys.LEXICON_VERSIONS, keys.lexicon_version(n),
                      keys.AUDIT_STREAM, draft_key],
                args=["" if base is None else str(base), str(n), blob,
                      json.dumps(meta.to_dict(), ensure_ascii=False), event,
                      keys.VERSION_CHANNEL, announce,
                      json.dumps(draft, ensure_ascii=False) if draft else ""])
        if reply[0] == "published":
            return meta
        current = reply[1] or "none"
        if reply[0] == "exists":
            raise LexiconStale(f"The store already holds lexicon version {current}.")
        raise LexiconStale(f"Lexicon version {current} was published after version {base}, "
                           "which this change is based on; start again from the current "
                           "version.")

    async def seed(self, content: Content, *, actor: str = "system") -> int:
        """Version 1 from `content` on a store that has none; returns the current version
        (1, or the one another process seeded or published first)."""
        try:
            return (await self.publish(content, base=None, actor=actor, role="system",
                                       action="seed", note="seeded at start-up")).version
        except LexiconStale:
            current = await self.current()
            assert current is not None
            return current
