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
from dataclasses import asdict, dataclass

import redis.asyncio as aioredis

from api import audit
from api.store import keys
from api.store.connection import unavailable
from api.store.errors import InvalidName, NotFound, RateLimited
from api.store.ratelimit import RATE_LIMIT_LUA

KEY_PREFIX = "pmk_"

# Authenticate an API key and count its items in the current one-second window.
# Arguments: `ApiKeyStore.authenticate`.
AUTH_AND_COUNT_LUA = RATE_LIMIT_LUA + """
-- KEYS[1]  key record        pm:apikey:{sha256 of the key}
-- KEYS[2]  rate window       pm:rl:{sha256}:{unix second}
-- ARGV[1]  items this request counts   ARGV[2] default limit per second
-- Returns nil (unknown or revoked key) | {client, key_id, 0} | {client, key_id, retry_after}
local rec = redis.call('HMGET', KEYS[1], 'client', 'id', 'rate_limit')
if not rec[1] then
  return nil
end
if over_limit(KEYS[2], tonumber(ARGV[1]), tonumber(rec[3]) or tonumber(ARGV[2])) then
  return {rec[1], rec[2], 1}
end
return {rec[1], rec[2], 0}
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

    def to_dict(self) -> dict:
        return asdict(self)


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
        mapping = {"id": rec.id, "client": client}
        if rate_limit:
            mapping["rate_limit"] = str(rate_limit)
        stored = rec.to_dict() | {"hash": key_hash}
        async with self.r.pipeline(transaction=True) as pipe:
            pipe.hset(keys.apikey(key_hash), mapping=mapping)
            pipe.hset(keys.APIKEY_INDEX, rec.id, json.dumps(stored))
            audit.append(pipe, actor, role, "apikey.created", rec.id, None, client=client)
            await pipe.execute()
        return key, rec

    async def list(self) -> list[ApiKeyRecord]:
        raw = await self.r.hgetall(keys.APIKEY_INDEX)
        recs = []
        for value in raw.values():
            d = json.loads(value)
            d.pop("hash", None)
            recs.append(ApiKeyRecord(**d))
        return sorted(recs, key=lambda x: (x.created_at, x.id))

    async def revoke(self, key_id: str, *, actor: str = "cli", role: str = "admin") -> ApiKeyRecord:
        raw = await self.r.hget(keys.APIKEY_INDEX, key_id)
        if raw is None:
            raise NotFound(f"No API key {key_id!r}.")
        d = json.loads(raw)
        if d.get("revoked_at") is None:
            d["revoked_at"] = audit.now_iso()
        async with self.r.pipeline(transaction=True) as pipe:
            pipe.delete(keys.apikey(d["hash"]))
            pipe.hset(keys.APIKEY_INDEX, key_id, json.dumps(d))
            audit.append(pipe, actor, role, "apikey.revoked", key_id, None, client=d["client"])
            await pipe.execute()
        d.pop("hash")
        return ApiKeyRecord(**d)

    async def authenticate(self, key_hash: str, *, cost: int = 1) -> Caller | None:
        """The caller for a key (by its `hash_key`), counting `cost` items against its rate
        limit.

        Returns None for an unknown or revoked key; raises `RateLimited` over the limit.
        """
        second = int(time.time())
        async with unavailable():
            reply = await self._auth(
                keys=[keys.apikey(key_hash), keys.rate_window(key_hash, second)],
                args=[cost, self.default_rate],
            )
        if reply is None:
            return None
        client, key_id, limited = reply
        if int(limited):
            raise key_rate_limited()
        return Caller(client=client, key_id=key_id)
