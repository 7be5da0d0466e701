"""SLA upkeep (a singleton task): overdue items move to the head of their queue, items still
undecided at twice their SLA move to `escalated` (audited), and items left in the old single
`pm:queue:pending` zset (before the review workflow) move into their channel's queue.

Each move is one Lua call that re-checks the item, so a claim or verdict racing with the
task is never undone, and the old queue entry is removed in the same call that queues the
item in its new place: nothing is lost if the process dies in between.
"""

from __future__ import annotations

import json
import time
from typing import Any

import redis.asyncio as aioredis

from api import audit
from api.store import keys
from api.store.connection import unavailable
from api.store.hset_json import HSET_JSON_LUA
from api.store.items import loaded_decision
from api.store.queues import ESCALATED, QUEUE_LUA, queue_score, severity_of
from moderation.policy import DEFAULT_SLA_MINUTES, Policy

# Re-score items whose deadline passed (overdue first); escalate those at 2 x SLA.
SLA_LUA = QUEUE_LUA + """
-- KEYS[1]  SLA deadlines zset   KEYS[2] auto-escalation zset   KEYS[3] audit stream
-- ARGV[1]  now ms   ARGV[2] at most this many of each   ARGV[3] item id index prefix
-- ARGV[4]  queue prefix   ARGV[5] queue age prefix
-- ARGV[6]  audit event "review.auto_escalated" (@item@, @version@, @queue@)
-- ARGV[7]  history entry   ARGV[8] updated_at (ISO)
-- Returns {items now overdue, items escalated}
local now = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local overdue, escalated = 0, 0
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, limit)
for _, id in ipairs(due) do
  redis.call('ZREM', KEYS[1], id)
  local key = redis.call('GET', ARGV[3] .. id)
  local f = key and redis.call('HMGET', key, 'queue', 'sev', 'deadline_ms')
  if f and f[1] and f[1] ~= '' and redis.call('ZSCORE', ARGV[4] .. f[1], id) then
    redis.call('ZADD', ARGV[4] .. f[1],
               queue_score(tonumber(f[2]), tonumber(f[3]), now), id)
    overdue = overdue + 1
  end
end
local late = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, limit)
for _, id in ipairs(late) do
  local key = redis.call('GET', ARGV[3] .. id)
  local f = key and redis.call('HMGET', key, 'status', 'queue', 'lease_ms', 'kind', 'sev',
                               'deadline_ms', 'version')
  if f and f[1] == 'claimed' and f[2] ~= 'escalated' then
    -- a reviewer holds it: look again when the lease ends
    redis.call('ZADD', KEYS[2], tonumber(f[3]) + 1, id)
  elseif f and f[1] == 'pending' and f[4] == 'review' and f[2] ~= 'escalated' then
    local v = tostring(tonumber(f[7]) + 1)
    dequeue(ARGV[4], ARGV[5], f[2], id)
    enqueue(ARGV[4], ARGV[5], 'escalated', id,
            queue_score(tonumber(f[5]), tonumber(f[6]), now), now)
    redis.call('HSET', key, 'status', 'escalated', 'queue', 'escalated', 'version', v,
               'updated_at', ARGV[8])
    add_history(key, ARGV[7])
    redis.call('XADD', KEYS[3], '*', 'e', fill(ARGV[6], {item = id, version = v,
                                                         queue = f[2]}))
    redis.call('ZREM', KEYS[2], id)
    escalated = escalated + 1
  else
    redis.call('ZREM', KEYS[2], id)
  end
end
return {overdue, escalated}
"""

# Move one item from the old single queue into its channel's queue. Arguments: `migrate`.
MIGRATE_LUA = HSET_JSON_LUA + """
-- KEYS[1]  old queue pm:queue:pending   KEYS[2] item hash   KEYS[3] channel queue
-- KEYS[4]  its age zset   KEYS[5] SLA deadlines   KEYS[6] auto-escalations
-- ARGV[1]  item id   ARGV[2] fields (JSON object of strings)   ARGV[3] score
-- ARGV[4]  created ms   ARGV[5] deadline ms   ARGV[6] escalation ms
-- Returns 1 moved | 0 (no longer in the old queue, or no longer pending: dropped from it)
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
if redis.call('HGET', KEYS[2], 'status') ~= 'pending' then
  redis.call('ZREM', KEYS[1], ARGV[1])
  return 0
end
hset_json(KEYS[2], ARGV[2])
redis.call('ZADD', KEYS[3], tonumber(ARGV[3]), ARGV[1])
redis.call('ZADD', KEYS[4], tonumber(ARGV[4]), ARGV[1])
redis.call('ZADD', KEYS[5], tonumber(ARGV[5]), ARGV[1])
redis.call('ZADD', KEYS[6], tonumber(ARGV[6]), ARGV[1])
redis.call('ZREM', KEYS[1], ARGV[1])
return 1
"""


class SlaStore:
    def __init__(self, r: aioredis.Redis, policy: Any) -> None:
        self.r = r
        self.policy = policy  # () -> the live Policy
        self._sla = r.register_script(SLA_LUA)
        self._migrate = r.register_script(MIGRATE_LUA)

    async def upkeep(self, limit: int = 500) -> tuple[int, int]:
        """One pass: (items that became overdue, items escalated at twice their SLA)."""
        at = audit.now_iso()
        event = audit.event_json("system", "system", "review.auto_escalated", "@item@", None,
                                 version="@version@", from_queue="@queue@",
                                 reason="undecided at twice its SLA")
        entry = json.dumps({"at": at, "status": ESCALATED, "actor": "system",
                            "action": "auto_escalated"})
        async with unavailable():
            overdue, escalated = await self._sla(
                keys=[keys.REVIEW_DUE, keys.REVIEW_ESCALATE, keys.AUDIT_STREAM],
                args=[int(time.time() * 1000), limit, keys.ITEM_ID_PREFIX, keys.QUEUE_PREFIX,
                      keys.QUEUE_AGE_PREFIX, event, entry, at])
        return int(overdue), int(escalated)

    async def migrate(self, batch: int = 500) -> int:
        """Move items of the old single queue into their channels' queues; the count moved."""
        moved = 0
        policy: Policy = self.policy()
        while True:
            ids = await self.r.zrange(keys.PENDING_QUEUE, 0, batch - 1)
            if not ids:
                return moved
            for item_id in ids:
                moved += await self._migrate_one(item_id, policy)

    async def _migrate_one(self, item_id: str, policy: Policy) -> int:
        key = await self.r.get(keys.item_id(item_id))
        h = await self.r.hgetall(key) if key else {}
        if not h:  # no item behind the entry: nothing to review
            await self.r.zrem(keys.PENDING_QUEUE, item_id)
            return 0
        channel = h["channel"]
        rules = policy.channels.get(channel)
        sla_ms = (rules.sla_minutes if rules else DEFAULT_SLA_MINUTES) * 60_000
        created = int(h.get("created_ms") or time.time() * 1000)
        sev = severity_of(loaded_decision(h))
        deadline = created + sla_ms
        fields = {"kind": "review", "queue": channel, "sev": str(sev),
                  "deadline_ms": str(deadline), "queued_ms": str(created),
                  "machine": "review"}
        return int(await self._migrate(
            keys=[keys.PENDING_QUEUE, key, keys.review_queue(channel),
                  keys.review_queue_age(channel), keys.REVIEW_DUE, keys.REVIEW_ESCALATE],
            args=[item_id, json.dumps(fields), queue_score(sev, deadline,
                                                           int(time.time() * 1000)),
                  created, deadline, created + 2 * sla_ms]))
