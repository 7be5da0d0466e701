"""API keys of portal clients: ≥ 32 random bytes, shown once, stored as SHA-256.

SHA-256 (not argon2) because a key is random and checked on every request; argon2 is for
people's passwords. Authentication and the per-key rate limit are one Lua call.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import redis.asyncio as aioredis

from api import audit
from api.store import keys
from api.store.connection import unavailable
from api.store.errors import BatchExceedsRateLimit, InvalidName, NotFound, RateLimited
from api.store.ratelimit import RATE_LIMIT_LUA

KEY_PREFIX = "pmk_"

# Authenticate an API key and count its items in the current one-second window.
# Arguments: `ApiKeyStore.authenticate`.
AUTH_AND_COUNT_LUA = RATE_LIMIT_LUA + """
-- KEYS[1]  key record        pm:apikey:{sha256 of the key} (absent: unknown, revoked, disabled)
-- KEYS[2]  rate window       pm:rl:{sha256}:{unix second}
-- ARGV[1]  items this request counts   ARGV[2] default limit per second
-- Returns nil (unknown, revoked or disabled key) | {client, key_id, verdict, limit}
-- verdict 0: counted; 1: over the limit this second; 2: more items than the limit allows
-- in any second (nothing counted: no retry can succeed, the batch must be split).
local rec = redis.call('HMGET', KEYS[1], 'client', 'id', 'rate_limit')
if not rec[1] then
  return nil
end
local cost = tonumber(ARGV[1])
local limit = tonumber(rec[3]) or tonumber(ARGV[2])
if cost > limit then
  return {rec[1], rec[2], 2, limit}
end
if over_limit(KEYS[2], cost, limit) then
  return {rec[1], rec[2], 1, limit}
end
return {rec[1], rec[2], 0, limit}
"""
CLIENT_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def key_rate_limited() -> RateLimited:
    """A key over its per-second limit (counted by `AUTH_AND_COUNT_LUA` or `CREATE_ITEM_LUA`)."""
    return RateLimited("Rate limit of this API key exceeded; retry after the header's seconds.",
                       retry_after=1)


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    """What is kept about a key (never the key itself)."""

    id: str
    client: str
    created_at: str
    prefix: str
    revoked_at: str | None = None
    rate_limit: int | None = None
    disabled: bool = False
    updated_at: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def _lookup(d: dict) -> dict[str, str]:
    """The fields of a live key's `keys.apikey` record (read by the Lua scripts), built from
    its index entry, so disabling and re-enabling a key loses nothing."""
    mapping = {"id": d["id"], "client": d["client"]}
    if d.get("rate_limit"):
        mapping["rate_limit"] = str(d["rate_limit"])
    return mapping


def _public(d: dict) -> ApiKeyRecord:
    return ApiKeyRecord(**{k: v for k, v in d.items() if k != "hash"})


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated portal client."""

    client: str
    key_id: str


class ApiKeyStore:
    def __init__(self, r: aioredis.Redis, *, default_rate: int) -> None:
        self.r = r
        self.default_rate = default_rate
        self._auth = r.register_script(AUTH_AND_COUNT_LUA)

    async def create(
        self, client: str, *, actor: str = "cli", role: str = "admin",
        rate_limit: int | None = None,
    ) -> tuple[str, ApiKeyRecord]:
        """A new key for `client`: returns (the key, shown once; its record)."""
        if not CLIENT_RE.match(client):
            raise InvalidName("A client name is 1-64 characters of letters, digits, '.', '_' "
                              "or '-'.")
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        key_hash = hash_key(key)
        rec = ApiKeyRecord(id="k_" + secrets.token_hex(6), client=client,
                           created_at=audit.now_iso(), prefix=key[:8], rate_limit=rate_limit)
        mapping = _lookup(rec.to_dict())
        stored = rec.to_dict() | {"hash": key_hash}
        async with self.r.pipeline(transaction=True) as pipe:
            pipe.hset(keys.apikey(key_hash), mapping=mapping)
            pipe.hset(keys.APIKEY_INDEX, rec.id, json.dumps(stored))
            audit.append(pipe, actor, role, "apikey.created", rec.id, None, client=client)
            await pipe.execute()
        return key, rec

    async def list(self) -> list[ApiKeyRecord]:
        raw = await self.r.hgetall(keys.APIKEY_INDEX)
        recs = [_public(json.loads(value)) for value in raw.values()]
        return sorted(recs, key=lambda x: (x.created_at, x.id))

    async def _change(self, key_id: str, change: Callable[[dict], str | None], *,
                      actor: str, role: str) -> ApiKeyRecord:
        """Apply `change` to a live key's index entry under WATCH (check and write are one
        transaction, so two concurrent revokes audit once), then rewrite its lookup record.

        `change` edits the entry in place and returns the audit action, or None when
        nothing changed (no write, no event). A revoked key is `NotFound`.
        """

        async def apply(pipe: Any) -> dict:
            raw = await pipe.hget(keys.APIKEY_INDEX, key_id)
            if raw is None:
                raise NotFound(f"No API key {key_id!r}.")
            d = json.loads(raw)
            if d.get("revoked_at") is not None:
                raise NotFound(f"API key {key_id!r} is already revoked.")
            before = dict(d)
            action = change(d)
            if action is None:
                return d
            d["updated_at"] = audit.now_iso()
            details = {k: d.get(k) for k in ("rate_limit", "disabled") if d.get(k) != before.get(k)}
            lookup = keys.apikey(d["hash"])
            pipe.multi()
            pipe.delete(lookup)
            if d.get("revoked_at") is None and not d.get("disabled"):
                pipe.hset(lookup, mapping=_lookup(d))
            pipe.hset(keys.APIKEY_INDEX, key_id, json.dumps(d))
            audit.append(pipe, actor, role, action, key_id, None, client=d["client"], **details)
            return d

        async with unavailable():
            d = await self.r.transaction(apply, keys.APIKEY_INDEX, value_from_callable=True)
        return _public(d)

    async def revoke(self, key_id: str, *, actor: str = "cli", role: str = "admin") -> ApiKeyRecord:
        """Revoke a key for good (its lookup record is deleted); a revoked key is `NotFound`
        and its second revocation writes no audit event."""

        def change(d: dict) -> str:
            d["revoked_at"] = audit.now_iso()
            return "apikey.revoked"

        return await self._change(key_id, change, actor=actor, role=role)

    async def update(self, key_id: str, *, rate_limit: int | None = None,
                     default_rate_limit: bool = False, disabled: bool | None = None,
                     actor: str = "cli", role: str = "admin") -> ApiKeyRecord:
        """Change a key's per-second limit (`default_rate_limit`: back to the service's) or
        disable / re-enable it. The Lua calls read both from Redis, so every process applies
        the change on the key's next request; a disabled key is refused (401) like a revoked
        one, but keeps its record and hash so it can be enabled again."""

        def change(d: dict) -> str | None:
            before = (d.get("rate_limit"), bool(d.get("disabled")))
            if default_rate_limit:
                d["rate_limit"] = None
            elif rate_limit is not None:
                d["rate_limit"] = rate_limit
            if disabled is not None:
                d["disabled"] = disabled
            return None if (d.get("rate_limit"), bool(d.get("disabled"))) == before \
                else "apikey.updated"

        return await self._change(key_id, change, actor=actor, role=role)

    async def authenticate(self, key_hash: str, *, cost: int = 1) -> Caller | None:
        """The caller for a key (by its `hash_key`), counting `cost` items against its rate
        limit.

        Returns None for an unknown, revoked or disabled key; raises `RateLimited` over the
        limit and `BatchExceedsRateLimit` (counting nothing) when `cost` alone is over it.
        """
        second = int(time.time())
        async with unavailable():
            reply = await self._auth(
                keys=[keys.apikey(key_hash), keys.rate_window(key_hash, second)],
                args=[cost, self.default_rate],
            )
        if reply is None:
            return None
        client, key_id, verdict, limit = reply
        if int(verdict) == 2:
            raise BatchExceedsRateLimit(
                f"This batch has {cost} items but the API key may send at most {limit} items "
                f"per second: split it into batches of at most {limit} items.")
        if int(verdict):
            raise key_rate_limited()
        return Caller(client=client, key_id=key_id)
