"""Verdicts, escalations and appeals: the writes that move a claimed or decided item on.

Each is ONE Lua call that checks the lease and the version the caller read, changes the
item, its queues, the counters, writes the audit event and, for a final verdict, enqueues
the webhook delivery (`api.store.outbox`): the delivery exists exactly when the verdict
does. What a verdict does depends on the item's `kind`:

- `review` (a machine `review`, or an escalated one): approve is final; reject is final
  unless the channel has `second_review`, in which case the first reject sends the item
  back to its queue with its reviewer excluded, and the second reviewer's verdict is final.
- `appeal`: the verdict is final (`appeal.decided`); only reviewers who did not decide
  the item before could claim it.
- `qa`: a sampled machine pass/block; the verdict is recorded as agreement (approve of a
  pass, reject of a block) or disagreement, and the item itself is left as it was.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as aioredis

from api import audit
from api.store import keys
from api.store.claims import raise_refusal
from api.store.connection import unavailable
from api.store.errors import NotFound, ReviewConflict
from api.store.outbox import ENQUEUE_DELIVERY_LUA, delivery_keys
from api.store.queues import APPEALS, ESCALATED, QUEUE_LUA

# Common prologue: the item, and a lease held by the caller on the version it read.
_HELD_LUA = """
local now = tonumber(ARGV[2])
local key = redis.call('GET', ARGV[7] .. ARGV[1])
local f = key and redis.call('HMGET', key, 'status', 'holder', 'lease_ms', 'version',
  'lost_holder', 'kind', 'queue', 'channel', 'first_reject', 'created_ms', 'machine',
  'exclude', 'client', 'prev_status', 'sev', 'deadline_ms', 'queued_ms', 'deciders')
if not key or not f[1] then return {'not_found'} end
if f[2] ~= ARGV[3] then
  if listed(f[5], ARGV[3]) then return {'lease_lost'} end
  return {'not_claimed'}
end
if tonumber(f[3]) <= now then return {'lease_lost'} end
if f[4] ~= ARGV[4] then return {'stale_version', f[4]} end
local v = tostring(tonumber(f[4]) + 1)
"""

# A verdict from the lease holder. Arguments: `VerdictStore.verdict`.
VERDICT_LUA = QUEUE_LUA + ENQUEUE_DELIVERY_LUA + """
-- KEYS[1]  claims zset   KEYS[2] audit stream   KEYS[3] SLA deadlines   KEYS[4] escalations
-- KEYS[5]  outbox zset   KEYS[6] the delivery's hash (delivery_keys)
-- KEYS[7]  verdict totals hash   KEYS[8] today's verdicts per reviewer   KEYS[9] times to
--          verdict (list)   KEYS[10] QA agreement counters
-- ARGV[1]  item id   ARGV[2] now ms   ARGV[3] username   ARGV[4] version read
-- ARGV[5]  'approve' | 'reject'   ARGV[6] channels with second review (",a,b,")
-- ARGV[7]  item id index prefix   ARGV[8] queue prefix   ARGV[9] queue age prefix
-- ARGV[10] the verdict as stored (JSON)   ARGV[11] the first reject as stored (JSON)
-- ARGV[12] TTL s of a decided item   ARGV[13] delivery id
-- ARGV[14] audit event (@action@, @outcome@, @status@ filled here)
-- ARGV[15] history entry (@action@, @status@)   ARGV[16] decided_at (ISO)
-- Returns {'ok', outcome, status, version} or a refusal (see claims.raise_refusal).
""" + _HELD_LUA + """
local verdict = ARGV[5]
local kind = f[6]
local outcome, status, action
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HSET', key, 'holder', '', 'lease_ms', '', 'version', v, 'updated_at', ARGV[16])
if kind == 'qa' then
  local agree = (f[11] == 'pass' and verdict == 'approve')
             or (f[11] == 'block' and verdict == 'reject')
  outcome = agree and 'qa_agree' or 'qa_disagree'
  status, action = f[14], 'qa_verdict'
  redis.call('HSET', key, 'status', status, 'qa', ARGV[10], 'qa_agree', agree and '1' or '0',
             'queue', '')
  local a = agree and 1 or 0
  redis.call('HINCRBY', KEYS[10], 'n', 1)
  redis.call('HINCRBY', KEYS[10], 'agree', a)
  redis.call('HINCRBY', KEYS[10], f[8] .. ':' .. f[11] .. ':n', 1)
  redis.call('HINCRBY', KEYS[10], f[8] .. ':' .. f[11] .. ':agree', a)
elseif kind ~= 'appeal' and verdict == 'reject' and (not f[9] or f[9] == '')
       and listed(ARGV[6], f[8]) then
  outcome, status, action = 'awaiting_second_review', f[14], 'first_reject'
  redis.call('HSET', key, 'status', status, 'first_reject', ARGV[11],
             'exclude', add_to_list(f[12], ARGV[3]), 'deciders', add_to_list(f[18], ARGV[3]))
  enqueue(ARGV[8], ARGV[9], f[7], ARGV[1],
          queue_score(tonumber(f[15]), tonumber(f[16]), now), tonumber(f[17]))
else
  if verdict == 'approve' then status = 'approved' else status = 'rejected' end
  local event = 'item.decided'
  if kind == 'appeal' then
    outcome, action, event = 'appeal_decided', 'appeal_decided', 'appeal.decided'
  else
    outcome, action = 'final', 'decided'
  end
  redis.call('HSET', key, 'status', status, 'verdict', ARGV[10], 'decided_ms', now,
             'queue', '', 'deciders', add_to_list(f[18], ARGV[3]))
  redis.call('ZREM', KEYS[3], ARGV[1])
  redis.call('ZREM', KEYS[4], ARGV[1])
  local ttl = tonumber(ARGV[12])
  if ttl > 0 then
    redis.call('EXPIRE', key, ttl)
    redis.call('EXPIRE', ARGV[7] .. ARGV[1], ttl)
  end
  enqueue_delivery(KEYS[5], KEYS[6], ARGV[13], f[13], key, event, now)
  redis.call('HINCRBY', KEYS[7], status, 1)
  redis.call('HINCRBY', KEYS[8], ARGV[3], 1)
  redis.call('EXPIRE', KEYS[8], 400 * 86400)
  redis.call('LPUSH', KEYS[9], now - tonumber(f[10]))
  redis.call('LTRIM', KEYS[9], 0, 9999)
end
local values = {action = action, outcome = outcome, status = status}
add_history(key, fill(ARGV[15], values))
redis.call('XADD', KEYS[2], '*', 'e', fill(ARGV[14], values))
return {'ok', outcome, status, v}
"""

# The holder sends the item to senior reviewers. Arguments: `VerdictStore.escalate`.
ESCALATE_LUA = QUEUE_LUA + """
-- KEYS[1]  claims zset   KEYS[2] audit stream   KEYS[3] auto-escalation zset
-- ARGV[1]  item id   ARGV[2] now ms   ARGV[3] username   ARGV[4] version read
-- ARGV[5]  the note as stored (JSON)   ARGV[6] updated_at (ISO)
-- ARGV[7]  item id index prefix   ARGV[8] queue prefix   ARGV[9] queue age prefix
-- ARGV[10] audit event "review.escalated"   ARGV[11] history entry
""" + _HELD_LUA + """
if f[6] == 'qa' or f[7] == 'escalated' then
  return {'cannot_escalate', 'Only items of a channel queue or of appeals can be escalated.'}
end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('HSET', key, 'holder', '', 'lease_ms', '', 'version', v, 'status', 'escalated',
           'queue', 'escalated', 'escalation', ARGV[5], 'updated_at', ARGV[6])
enqueue(ARGV[8], ARGV[9], 'escalated', ARGV[1],
        queue_score(tonumber(f[15]), tonumber(f[16]), now), now)
add_history(key, ARGV[11])
redis.call('XADD', KEYS[2], '*', 'e', ARGV[10])
return {'ok', 'escalated', 'escalated', v}
"""

# The portal appeals a decided item. Arguments: `VerdictStore.appeal`.
APPEAL_LUA = QUEUE_LUA + """
-- KEYS[1]  item hash   KEYS[2] item id index   KEYS[3] appeals queue   KEYS[4] its ages
-- KEYS[5]  SLA deadlines   KEYS[6] audit stream
-- ARGV[1]  version read ('' any)   ARGV[2] now ms   ARGV[3] SLA deadline ms of the appeal
-- ARGV[4]  the appeal as stored (JSON)   ARGV[5] updated_at (ISO)
-- ARGV[6]  audit event "item.appealed" (@version@)   ARGV[7] history entry
local f = redis.call('HMGET', KEYS[1], 'status', 'version', 'appeal', 'item_id', 'sev',
                     'deciders')
if not f[1] then return {'not_found'} end
if ARGV[1] ~= '' and ARGV[1] ~= f[2] then return {'stale_version', f[2]} end
if f[3] and f[3] ~= '' then
  return {'already_appealed', 'This item was appealed already; an item is appealed once.'}
end
if f[1] ~= 'approved' and f[1] ~= 'rejected' and f[1] ~= 'blocked' then
  return {'not_appealable', 'Only a decided item (approved, rejected or blocked) can be '
          .. 'appealed; this one is ' .. f[1] .. '.'}
end
local v = tostring(tonumber(f[2]) + 1)
local sev = tonumber(f[5] or '') or 1
redis.call('PERSIST', KEYS[1])
redis.call('PERSIST', KEYS[2])
redis.call('HSET', KEYS[1], 'status', 'appealed', 'version', v, 'appeal', ARGV[4],
           'kind', 'appeal', 'queue', 'appeals', 'exclude', f[6] or '', 'sev', sev,
           'deadline_ms', ARGV[3], 'queued_ms', ARGV[2], 'updated_at', ARGV[5],
           'prev_status', 'appealed')
local now = tonumber(ARGV[2])
redis.call('ZADD', KEYS[3], queue_score(sev, tonumber(ARGV[3]), now), f[4])
redis.call('ZADD', KEYS[4], now, f[4])
redis.call('ZADD', KEYS[5], tonumber(ARGV[3]), f[4])
add_history(KEYS[1], ARGV[7])
redis.call('XADD', KEYS[6], '*', 'e', fill(ARGV[6], {version = v}))
return {'ok', 'appealed', 'appealed', v}
"""


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a review write did: `outcome` is final, awaiting_second_review, appeal_decided,
    qa_agree, qa_disagree, escalated or appealed."""

    item_id: str
    outcome: str
    status: str
    version: int

    @property
    def final(self) -> bool:
        return self.outcome in {"final", "appeal_decided"}

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.item_id, "outcome": self.outcome, "status": self.status,
                "version": self.version, "final": self.final}


def _outcome(reply: list[Any], item_id: str) -> Outcome:
    if reply[0] != "ok":
        raise_refusal(reply, item_id)
    return Outcome(item_id, reply[1], reply[2], int(reply[3]))


class VerdictStore:
    def __init__(self, r: aioredis.Redis, *, ttl_s: int) -> None:
        self.r = r
        self.ttl_s = ttl_s
        self._verdict = r.register_script(VERDICT_LUA)
        self._escalate = r.register_script(ESCALATE_LUA)
        self._appeal = r.register_script(APPEAL_LUA)

    async def verdict(self, item_id: str, *, user: str, role: str, version: int,
                      verdict: str, reason_code: str, note: str | None,
                      second_review: list[str]) -> Outcome:
        """Decide a claimed item (see the module's docstring for what each kind does)."""
        now = int(time.time() * 1000)
        at = audit.now_iso()
        stored = {"verdict": verdict, "reason_code": reason_code, "decided_at": at,
                  "by": user, "note": note}
        delivery_id = "dl_" + uuid.uuid4().hex
        event = audit.event_json(f"user:{user}", role, "review.@action@", item_id, None,
                                 verdict=verdict, reason_code=reason_code,
                                 note_sha256=audit.digest(note), version=version + 1,
                                 outcome="@outcome@", status="@status@")
        entry = json.dumps({"at": at, "status": "@status@", "actor": "reviewer",
                            "action": "@action@", "by": user, "verdict": verdict,
                            "reason_code": reason_code})
        day = datetime.now(UTC).strftime("%Y-%m-%d")
        verdict_json = json.dumps(stored, ensure_ascii=False)
        args = [item_id, now, user, version, verdict, "," + ",".join(second_review) + ",",
                keys.ITEM_ID_PREFIX, keys.QUEUE_PREFIX, keys.QUEUE_AGE_PREFIX,
                verdict_json, verdict_json, self.ttl_s, delivery_id, event, entry, at]
        key_list = [keys.CLAIMS, keys.AUDIT_STREAM, keys.REVIEW_DUE, keys.REVIEW_ESCALATE,
                    *delivery_keys(delivery_id), keys.REVIEW_COUNTS, keys.verdicts_day(day),
                    keys.REVIEW_TTV, keys.REVIEW_QA]
        async with unavailable():
            reply = await self._verdict(keys=key_list, args=args)
        return _outcome(reply, item_id)

    async def escalate(self, item_id: str, *, user: str, role: str, version: int,
                       note: str | None) -> Outcome:
        """Move a claimed item to `escalated` (claimed by senior and admin only)."""
        now = int(time.time() * 1000)
        at = audit.now_iso()
        event = audit.event_json(f"user:{user}", role, "review.escalated", item_id, None,
                                 version=version + 1, note_sha256=audit.digest(note))
        entry = json.dumps({"at": at, "status": ESCALATED, "actor": "reviewer",
                            "action": "escalated", "by": user})
        stored = json.dumps({"by": user, "at": at, "note": note}, ensure_ascii=False)
        args = [item_id, now, user, version, stored, at, keys.ITEM_ID_PREFIX,
                keys.QUEUE_PREFIX, keys.QUEUE_AGE_PREFIX, event, entry]
        async with unavailable():
            reply = await self._escalate(
                keys=[keys.CLAIMS, keys.AUDIT_STREAM, keys.REVIEW_ESCALATE], args=args)
        return _outcome(reply, item_id)

    async def appeal(self, client: str, data_id: str, *, reason: str, version: int | None,
                     sla_minutes: int, request_id: str | None = None) -> Outcome:
        """Re-open a decided item of `client` into `appeals` (the portal's call)."""
        item_key = keys.item(client, data_id)
        item_id = await self.r.hget(item_key, "item_id")
        if item_id is None:
            raise NotFound(f"No item with data_id {data_id!r} for this client.")
        now = int(time.time() * 1000)
        at = audit.now_iso()
        event = audit.event_json(f"client:{client}", "client", "item.appealed", item_id, None,
                                 data_id=data_id, version="@version@",
                                 reason_sha256=audit.digest(reason), request_id=request_id)
        entry = json.dumps({"at": at, "status": "appealed", "actor": "client",
                            "action": "appealed"})
        stored = json.dumps({"reason": reason, "at": at}, ensure_ascii=False)
        args = ["" if version is None else version, now, now + sla_minutes * 60_000, stored,
                at, event, entry]
        key_list = [item_key, keys.item_id(item_id), keys.review_queue(APPEALS),
                    keys.review_queue_age(APPEALS), keys.REVIEW_DUE, keys.AUDIT_STREAM]
        async with unavailable():
            reply = await self._appeal(keys=key_list, args=args)
        if reply[0] in {"already_appealed", "not_appealable"}:
            raise ReviewConflict(reply[0], reply[1])
        return _outcome(reply, item_id)
