"""Stored items read back for the lexicon tools: the last N items (dry run) and the items
reviewers decided (suggestions).

Items have no index by time yet (the item store writes none), so these scan the item
hashes: fine for tens of thousands of items, which is the dry run's scale; a deployment
with millions of live items should add a capped recent-items sorted set to the item
write. Only the fields the lexicon tools need are read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from api.store import keys
from api.store.connection import unavailable

_FIELDS = ("item_id", "data_id", "channel", "status", "request", "decision", "created_ms")
_SCAN_COUNT = 1000

# Read fields of many item hashes in one call, answered as ONE JSON string: parsing
# thousands of small replies costs redis-py far more than one json.loads.
# Arguments: `_hmget_many`.
HMGET_MANY_LUA = """
-- KEYS[i]  item hashes pm:item:{client}:{data_id}
-- ARGV     the field names
-- Returns the JSON array of each hash's values (false where a field is missing)
local out = {}
for i, key in ipairs(KEYS) do
  out[i] = redis.call('HMGET', key, unpack(ARGV))
end
return cjson.encode(out)
"""


@dataclass(frozen=True, slots=True)
class ItemText:
    """What re-moderating an item needs: its texts, channel and the stored decision."""

    item_id: str
    data_id: str
    channel: str
    status: str
    title: str | None
    content: str
    decision: dict[str, Any]
    created_ms: int


def _parse(values: list[Any]) -> ItemText | None:
    item_id, data_id, channel, status, request, decision, created = (
        v if isinstance(v, str) else None for v in values)
    if not item_id or not request or not decision:
        return None
    req = json.loads(request)
    if not isinstance(req.get("content"), str):
        return None
    return ItemText(item_id, data_id or "", channel or "", status or "", req.get("title"),
                    req["content"], json.loads(decision), int(created or 0))


async def _item_keys(r: aioredis.Redis) -> list[str]:
    pattern = keys.item("*", "*")
    out: list[str] = []
    async with unavailable():
        async for key in r.scan_iter(match=pattern, count=_SCAN_COUNT):
            out.append(key)
    return out


async def _hmget_many(r: aioredis.Redis, item_keys: list[str], fields: tuple[str, ...]
                      ) -> list[list[Any]]:
    script = r.register_script(HMGET_MANY_LUA)
    out: list[list[Any]] = []
    for i in range(0, len(item_keys), _SCAN_COUNT):
        chunk = item_keys[i:i + _SCAN_COUNT]
        async with unavailable():
            raw = await script(keys=chunk, args=list(fields))
        out.extend(json.loads(raw) if chunk else [])
    return out


async def _read(r: aioredis.Redis, item_keys: list[str]) -> list[ItemText]:
    rows = await _hmget_many(r, item_keys, _FIELDS)
    return [x for x in map(_parse, rows) if x is not None]


def _int(value: Any) -> int:
    return int(value) if isinstance(value, str) and value.isdigit() else 0


async def recent(r: aioredis.Redis, limit: int) -> list[ItemText]:
    """The `limit` most recently created items, newest first."""
    item_keys = await _item_keys(r)
    created = [row[0] for row in await _hmget_many(r, item_keys, ("created_ms",))]
    ranked = sorted(zip(created, item_keys, strict=True),
                    key=lambda p: _int(p[0]), reverse=True)[:limit]
    items = await _read(r, [k for _, k in ranked])
    return sorted(items, key=lambda x: x.created_ms, reverse=True)


async def with_status(r: aioredis.Redis, statuses: set[str]) -> list[ItemText]:
    """Every stored item whose status is one of `statuses`."""
    item_keys = await _item_keys(r)
    found = [row[0] for row in await _hmget_many(r, item_keys, ("status",))]
    return await _read(r, [k for s, k in zip(found, item_keys, strict=True) if s in statuses])
