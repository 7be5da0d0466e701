"""Claims: a reviewer takes items from a queue under a lease, renews it, or loses it.

`claim` is ONE Lua call: it walks the queue from its head, skips the items the caller may
not take (those in the item's `exclude` list: the first reviewer of a reject waiting for
its second review, the deciders of an appealed item), and moves up to n of them into the
claims zset with their lease expiry; Redis runs one script at a time, so no item is ever
handed to two reviewers. `reap` (a singleton task) returns items whose lease expired to
their queue; the former holder's verdict is then `lease_lost`.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from api import audit
from api.store import keys
from api.store.connection import unavailable
from api.store.errors import NotFound, ReviewConflict
from api.store.queues import QA, QUEUE_LUA

# Hand up to n items of one queue to one reviewer. Arguments: `ClaimStore.claim`.
CLAIM_LUA = QUEUE_LUA + """
-- KEYS[1]  the queue (zset)   KEYS[2] its age zset   KEYS[3] claims zset (id -> lease ms)
-- KEYS[4]  audit stream
-- ARGV[1]  now ms   ARGV[2] lease ms   ARGV[3] n   ARGV[4] username
-- ARGV[5]  item id index prefix   ARGV[6] how many items the caller may not take to skip,
--          at most (then the claim hands what it found)
-- ARGV[7]  audit event "review.claimed" (@item@ and @version@ filled here)
-- ARGV[8]  history entry (JSON, @status@ filled here)
-- Returns a flat list: id, data_id, channel, queue, status, version per claimed item.
local now = tonumber(ARGV[1])
local lease = now + tonumber(ARGV[2])
local want = tonumber(ARGV[3])
local limit = tonumber(ARGV[6])
local out = {}
local got, skipped = 0, 0
local chunk = want + 2
-- Read the head in growing chunks; claimed or dead entries leave the zset, so the next
-- chunk starts after the entries skipped so far.
while got < want and skipped < limit do
  local ids = redis.call('ZRANGE', KEYS[1], skipped, skipped + chunk - 1)
  if #ids == 0 then break end
  for _, id in ipairs(ids) do
    local key = redis.call('GET', ARGV[5] .. id)
    local f = key and redis.call('HMGET', key, 'status', 'version', 'exclude', 'data_id',
                                 'channel', 'kind', 'queue')
    if not key or not f[1] then
      -- the item expired (a QA sample of a decided item): nothing to review any more
      redis.call('ZREM', KEYS[1], id)
      redis.call('ZREM', KEYS[2], id)
    elseif listed(f[3], ARGV[4]) then
      skipped = skipped + 1
    else
      redis.call('ZREM', KEYS[1], id)
      redis.call('ZREM', KEYS[2], id)
      redis.call('ZADD', KEYS[3], lease, id)
      local status = f[1]
      if f[6] ~= 'qa' then status = 'claimed' end
      local v = tostring(tonumber(f[2] or '1') + 1)
      redis.call('HSET', key, 'holder', ARGV[4], 'lease_ms', lease, 'prev_status', f[1],
                 'status', status, 'version', v)
      add_history(key, fill(ARGV[8], {status = status}))
      redis.call('XADD', KEYS[4], '*', 'e', fill(ARGV[7], {item = id, version = v}))
      for _, x in ipairs({id, f[4], f[5], f[7], status, v}) do out[#out + 1] = x end
      got = got + 1
      if got >= want then break end
    end
  end
  chunk = chunk * 2
end
return out
"""

# The holder extends the lease. Arguments: `ClaimStore.renew`.
RENEW_LUA = QUEUE_LUA + """
-- KEYS[1]  item id index   KEYS[2] claims zset
-- ARGV[1]  now ms   ARGV[2] lease ms   ARGV[3] username   ARGV[4] version read ('' any)
-- ARGV[5]  item id
-- Returns {'ok', lease ms, version} | {'not_found'} | {'lease_lost'} | {'not_claimed'}
--       | {'stale_version', version}
local key = redis.call('GET', KEYS[1])
local f = key and redis.call('HMGET', key, 'holder', 'lease_ms', 'version', 'lost_holder')
if not key or not f[3] then return {'not_found'} end
local now = tonumber(ARGV[1])
if f[1] ~= ARGV[3] then
  if listed(f[4], ARGV[3]) then return {'lease_lost'} end
  return {'not_claimed'}
end
if tonumber(f[2]) <= now then return {'lease_lost'} end
if ARGV[4] ~= '' and ARGV[4] ~= f[3] then return {'stale_version', f[3]} end
local lease = now + tonumber(ARGV[2])
redis.call('HSET', key, 'lease_ms', lease)
redis.call('ZADD', KEYS[2], lease, ARGV[5])
return {'ok', tostring(lease), f[3]}
"""

# Return every item whose lease expired to its queue. Arguments: `ClaimStore.reap`.
REAP_LUA = QUEUE_LUA + """
-- KEYS[1]  claims zset   KEYS[2] audit stream
-- ARGV[1]  now ms   ARGV[2] at most this many items   ARGV[3] item id index prefix
-- ARGV[4]  queue prefix   ARGV[5] queue age prefix
-- ARGV[6]  audit event "review.lease_expired" (@item@, @version@, @holder@ filled here)
-- ARGV[7]  history entry (@status@, @holder@)
-- Returns the ids returned to their queues.
local now = tonumber(ARGV[1])
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))
for _, id in ipairs(ids) do
  redis.call('ZREM', KEYS[1], id)
  local key = redis.call('GET', ARGV[3] .. id)
  local f = key and redis.call('HMGET', key, 'holder', 'prev_status', 'queue', 'sev',
                               'deadline_ms', 'version', 'queued_ms', 'lost_holder')
  if key and f[6] and f[1] and f[1] ~= '' then
    local v = tostring(tonumber(f[6]) + 1)
    redis.call('HSET', key, 'holder', '', 'lease_ms', '', 'status', f[2], 'version', v,
               'lost_holder', add_to_list(f[8], f[1]))
    local score = queue_score(tonumber(f[4]), tonumber(f[5]), now)
    enqueue(ARGV[4], ARGV[5], f[3], id, score, tonumber(f[7]))
    add_history(key, fill(ARGV[7], {status = f[2], holder = f[1]}))
    redis.call('XADD', KEYS[2], '*', 'e', fill(ARGV[6], {item = id, version = v,
                                                           holder = f[1]}))
  end
end
return ids
"""


def iso_ms(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000)) + f".{ms % 1000:03d}Z"


@dataclass(frozen=True, slots=True)
class Claimed:
    """One item handed to a reviewer."""

    id: str
    data_id: str
    channel: str
    queue: str
    status: str
    version: int
    lease_expires_ms: int

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "data_id": self.data_id, "channel": self.channel,
                "queue": self.queue, "status": self.status, "version": self.version,
                "lease_expires_at": iso_ms(self.lease_expires_ms)}


def raise_refusal(reply: list[Any], item_id: str) -> None:
    """Turn a script's refusal into the store's typed error (shared by verdict scripts)."""
    kind = reply[0]
    if kind == "not_found":
        raise NotFound(f"No item {item_id!r}.")
    if kind == "lease_lost":
        raise ReviewConflict("lease_lost", "Your lease on this item expired and it went back "
                             "to its queue; claim it again to decide it.")
    if kind == "not_claimed":
        raise ReviewConflict("not_claimed", "You hold no lease on this item; claim it first.")
    if kind == "stale_version":
        raise ReviewConflict("stale_version", "The item changed since you read it; read it "
                             "again.", version=int(reply[1]))
    raise ReviewConflict(kind, str(reply[1]) if len(reply) > 1 else "Not possible now.")


class ClaimStore:
    def __init__(self, r: aioredis.Redis, *, lease_s: int, scan: int = 200) -> None:
        self.r = r
        self.lease_ms = lease_s * 1000
        self.scan = scan
        self._claim = r.register_script(CLAIM_LUA)
        self._renew = r.register_script(RENEW_LUA)
        self._reap = r.register_script(REAP_LUA)

    async def claim(self, queue: str, n: int, user: str, role: str) -> list[Claimed]:
        """Up to n items of `queue` for `user`, each under a lease of `lease_s` seconds."""
        now = int(time.time() * 1000)
        event = audit.event_json(f"user:{user}", role, "review.claimed", "@item@", None,
                                 queue=queue, version="@version@",
                                 lease_expires_at=iso_ms(now + self.lease_ms))
        entry = json.dumps({"at": audit.now_iso(), "status": "@status@", "actor": "reviewer",
                            "action": "claimed", "by": user, "queue": queue})
        args = [now, self.lease_ms, n, user, keys.ITEM_ID_PREFIX, self.scan, event,
                entry]
        async with unavailable():
            flat = await self._claim(keys=[keys.review_queue(queue), keys.review_queue_age(queue),
                                           keys.CLAIMS, keys.AUDIT_STREAM], args=args)
        out = []
        for i in range(0, len(flat), 6):
            item_id, data_id, channel, q, status, version = flat[i:i + 6]
            out.append(Claimed(item_id, data_id, channel, q or QA, status, int(version),
                               now + self.lease_ms))
        return out

    async def renew(self, item_id: str, user: str, version: int | None = None) -> Claimed:
        now = int(time.time() * 1000)
        async with unavailable():
            reply = await self._renew(
                keys=[keys.item_id(item_id), keys.CLAIMS],
                args=[now, self.lease_ms, user, "" if version is None else version, item_id])
        if reply[0] != "ok":
            raise_refusal(reply, item_id)
        h = await self.r.hgetall(await self.r.get(keys.item_id(item_id)) or "")
        return Claimed(item_id, h.get("data_id", ""), h.get("channel", ""),
                       h.get("queue", ""), h.get("status", ""), int(reply[2]), int(reply[1]))

    async def reap(self, limit: int = 500) -> list[str]:
        """Return items whose lease expired to their queues (the singleton reaper task)."""
        event = audit.event_json("system", "system", "review.lease_expired", "@item@", None,
                                 version="@version@", former_holder="@holder@")
        entry = json.dumps({"at": audit.now_iso(), "status": "@status@", "actor": "system",
                            "action": "lease_expired", "former_holder": "@holder@"})
        async with unavailable():
            return await self._reap(
                keys=[keys.CLAIMS, keys.AUDIT_STREAM],
                args=[int(time.time() * 1000), limit, keys.ITEM_ID_PREFIX, keys.QUEUE_PREFIX,
                      keys.QUEUE_AGE_PREFIX, event, entry])
