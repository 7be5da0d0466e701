"""The webhook outbox: deliveries written in the same Lua call as the change they announce.

A script that gives an item its final verdict (or decides an appeal) includes
`ENQUEUE_DELIVERY_LUA` and calls `enqueue_delivery(...)`, so the delivery exists exactly
when the verdict does: nothing to lose between the two. The delivery holds only ids; the
body (the item as its client sees it) is built when it is sent, so a retry sends the
current state. The webhook worker (a singleton task) takes due deliveries, POSTs them,
and reschedules failures with backoff.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as aioredis

from api import audit
from api.store import keys
from api.store.connection import unavailable
from api.store.errors import DeliveryInFlight, NotFound

ENQUEUE_DELIVERY_LUA = """
-- enqueue_delivery(outbox zset, delivery hash key, delivery id, client, item hash key,
--                  event name, now ms): a delivery due now.
local function enqueue_delivery(outbox, delivery_key, delivery_id, client, item_key, event,
                                now_ms)
  redis.call('HSET', delivery_key, 'id', delivery_id, 'client', client, 'item', item_key,
             'event', event, 'attempts', 0, 'created_ms', now_ms)
  redis.call('ZADD', outbox, tonumber(now_ms), delivery_id)
end
"""


def delivery_keys(delivery_id: str) -> list[str]:
    """The KEYS a script passes to `enqueue_delivery` (outbox, delivery hash)."""
    return [keys.OUTBOX, keys.delivery(delivery_id)]


async def counts(r: aioredis.Redis) -> dict[str, int]:
    """Deliveries waiting and failing (for `/v1/stats` and `/metrics`)."""
    pipe = r.pipeline(transaction=False)
    pipe.zcard(keys.OUTBOX)
    pipe.scard(keys.OUTBOX_FAILING)
    waiting, failing = await pipe.execute()
    return {"waiting": int(waiting), "failing": int(failing)}


# -- the delivery worker's side ----------------------------------------------------------
# A taken delivery is leased: its score moves to the lease's end and its hash holds the
# lease token, so no other worker takes it meanwhile, and a worker that died holding it
# loses it when the lease ends (the delivery is simply due again). Only the lease holder
# can complete or reschedule it; an admin's retry-now refuses a leased delivery.

TAKE_DUE_LUA = """
-- KEYS[1] outbox zset
-- ARGV[1] now ms   ARGV[2] lease end ms   ARGV[3] at most n   ARGV[4] delivery key prefix
-- ARGV[5] lease token
-- Returns {{id, HGETALL...}, ...}: the deliveries taken, attempts already counted.
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0,
                       tonumber(ARGV[3]))
local out = {}
for _, id in ipairs(ids) do
  local key = ARGV[4] .. id
  if redis.call('EXISTS', key) == 1 then
    redis.call('ZADD', KEYS[1], tonumber(ARGV[2]), id)
    redis.call('HINCRBY', key, 'attempts', 1)
    redis.call('HSET', key, 'lease', ARGV[5], 'leased_until', ARGV[2],
               'last_attempt_ms', ARGV[1])
    out[#out + 1] = {id, redis.call('HGETALL', key)}
  else
    redis.call('ZREM', KEYS[1], id)
  end
end
return out
"""

DONE_LUA = """
-- KEYS[1] outbox   KEYS[2] failing set   KEYS[3] delivery hash   KEYS[4] audit stream
-- ARGV[1] delivery id   ARGV[2] lease token   ARGV[3] audit event ('' for none)
-- Removes a delivery (delivered, or nothing left to deliver). Returns 0 when the lease
-- is no longer this worker's.
if redis.call('HGET', KEYS[3], 'lease') ~= ARGV[2] then
  return 0
end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('SREM', KEYS[2], ARGV[1])
redis.call('DEL', KEYS[3])
if ARGV[3] ~= '' then
  redis.call('XADD', KEYS[4], '*', 'e', ARGV[3])
end
return 1
"""

RESCHEDULE_LUA = """
-- KEYS[1] outbox   KEYS[2] failing set   KEYS[3] delivery hash
-- ARGV[1] delivery id   ARGV[2] lease token   ARGV[3] next due ms   ARGV[4] last error
-- ARGV[5] attempts from which it is failing   ARGV[6] 1: failing now whatever the count
-- Returns 1 when failing, 0 when rescheduled only, -1 when the lease is not ours.
if redis.call('HGET', KEYS[3], 'lease') ~= ARGV[2] then
  return -1
end
redis.call('HSET', KEYS[3], 'last_error', ARGV[4])
redis.call('HDEL', KEYS[3], 'lease', 'leased_until')
redis.call('ZADD', KEYS[1], tonumber(ARGV[3]), ARGV[1])
local attempts = tonumber(redis.call('HGET', KEYS[3], 'attempts')) or 0
if ARGV[6] == '1' or attempts >= tonumber(ARGV[5]) then
  redis.call('SADD', KEYS[2], ARGV[1])
  return 1
end
return 0
"""

RETRY_NOW_LUA = """
-- KEYS[1] outbox   KEYS[2] delivery hash   KEYS[3] audit stream
-- ARGV[1] delivery id   ARGV[2] now ms   ARGV[3] audit event
-- Returns 'ok', 'missing' or 'in_flight' (a worker is sending it right now).
if redis.call('EXISTS', KEYS[2]) == 0 then
  return 'missing'
end
local leased = tonumber(redis.call('HGET', KEYS[2], 'leased_until'))
if leased and leased > tonumber(ARGV[2]) then
  return 'in_flight'
end
redis.call('ZADD', KEYS[1], tonumber(ARGV[2]), ARGV[1])
redis.call('XADD', KEYS[3], '*', 'e', ARGV[3])
return 'ok'
"""


@dataclass(frozen=True, slots=True)
class Delivery:
    """One delivery as taken or listed (ids and bookkeeping, never the body)."""

    id: str
    client: str
    item_key: str
    event: str
    attempts: int
    created_ms: int
    last_error: str | None = None
    last_attempt_ms: int | None = None
    lease: str | None = None
    due_ms: int | None = None
    failing: bool = False

    @classmethod
    def from_hash(cls, h: dict[str, str], *, due_ms: float | None = None,
                  failing: bool = False) -> Delivery:
        last = h.get("last_attempt_ms")
        return cls(id=h["id"], client=h["client"], item_key=h["item"], event=h["event"],
                   attempts=int(h.get("attempts", 0)), created_ms=int(h.get("created_ms", 0)),
                   last_error=h.get("last_error") or None,
                   last_attempt_ms=int(last) if last else None, lease=h.get("lease"),
                   due_ms=int(due_ms) if due_ms is not None else None, failing=failing)

    def to_dict(self) -> dict[str, Any]:
        """The admin view: times as ISO strings, no lease token."""
        return {"id": self.id, "client": self.client, "event": self.event,
                "attempts": self.attempts, "created_at": _iso(self.created_ms),
                "last_attempt_at": _iso(self.last_attempt_ms),
                "due_at": _iso(self.due_ms), "last_error": self.last_error,
                "failing": self.failing}


def _iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(
        timespec="milliseconds").replace("+00:00", "Z")


def now_ms() -> int:
    return int(time.time() * 1000)


class Outbox:
    """The worker's and the admin's operations on the outbox."""

    def __init__(self, r: aioredis.Redis) -> None:
        self.r = r
        self._take = r.register_script(TAKE_DUE_LUA)
        self._done = r.register_script(DONE_LUA)
        self._reschedule = r.register_script(RESCHEDULE_LUA)
        self._retry = r.register_script(RETRY_NOW_LUA)

    async def take_due(self, n: int, lease_s: float) -> list[Delivery]:
        """Up to `n` due deliveries, leased to the caller for `lease_s` (one Lua call)."""
        now = now_ms()
        token = secrets.token_hex(8)
        async with unavailable():
            rows = await self._take(keys=[keys.OUTBOX], args=[
                now, now + int(lease_s * 1000), n, keys.DELIVERY_PREFIX, token])
        return [Delivery.from_hash(dict(zip(flat[::2], flat[1::2], strict=True)))
                for _, flat in rows]

    async def done(self, d: Delivery, event: str = "") -> bool:
        """Remove a delivery this worker holds; False when its lease was lost."""
        async with unavailable():
            return bool(await self._done(
                keys=[keys.OUTBOX, keys.OUTBOX_FAILING, keys.delivery(d.id), keys.AUDIT_STREAM],
                args=[d.id, d.lease or "", event]))

    async def reschedule(self, d: Delivery, due_ms: int, error: str, *, failing_after: int,
                         failing_now: bool = False) -> bool | None:
        """Due again at `due_ms` with `error` kept; True when it is (now) failing, None when
        its lease was lost."""
        async with unavailable():
            res = int(await self._reschedule(
                keys=[keys.OUTBOX, keys.OUTBOX_FAILING, keys.delivery(d.id)],
                args=[d.id, d.lease or "", due_ms, error[:500], failing_after,
                      1 if failing_now else 0]))
        return None if res < 0 else bool(res)

    async def retry_now(self, delivery_id: str, *, actor: str, role: str) -> None:
        """Make a delivery due now (an admin's retry); audited."""
        event = audit.event_json(actor, role, "webhook.retry", delivery_id, None)
        async with unavailable():
            res = await self._retry(keys=[keys.OUTBOX, keys.delivery(delivery_id),
                                          keys.AUDIT_STREAM],
                                    args=[delivery_id, now_ms(), event])
        if res == "missing":
            raise NotFound(f"No webhook delivery {delivery_id!r} (delivered, or never was).")
        if res == "in_flight":
            raise DeliveryInFlight(f"Delivery {delivery_id!r} is being sent right now; "
                                   "retry after it is answered.")

    async def list(self, state: str = "failing", limit: int = 100) -> list[Delivery]:
        """Deliveries `failing` (by id) or `waiting` (all, soonest due first)."""
        if state == "failing":
            ids = sorted(await self.r.smembers(keys.OUTBOX_FAILING))[:limit]
        else:
            ids = await self.r.zrange(keys.OUTBOX, 0, limit - 1)
        pipe = self.r.pipeline(transaction=False)
        for i in ids:
            pipe.hgetall(keys.delivery(i))
            pipe.zscore(keys.OUTBOX, i)
            pipe.sismember(keys.OUTBOX_FAILING, i)
        replies = await pipe.execute()
        out = []
        for n in range(len(ids)):
            h, due, failing = replies[3 * n: 3 * n + 3]
            if h:
                out.append(Delivery.from_hash(h, due_ms=due, failing=bool(failing)))
        return out
