"""The webhook outbox: deliveries written in the same Lua call as the change they announce.

A script that gives an item its final verdict (or decides an appeal) includes
`ENQUEUE_DELIVERY_LUA` and calls `enqueue_delivery(...)`, so the delivery exists exactly
when the verdict does: nothing to lose between the two. The delivery holds only ids; the
body (the item as its client sees it) is built when it is sent, so a retry sends the
current state. The webhook worker (a singleton task) takes due deliveries, POSTs them,
and reschedules failures with backoff.
"""

from __future__ import annotations

import redis.asyncio as aioredis

from api.store import keys

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
