"""A Redis lock with a TTL, owned by a random token: the singleton tasks' election.

Whoever holds the key runs the task; a holder that dies stops renewing and the key
expires, so another process takes over within one TTL. Take, renew and release are Lua
scripts so that only the owner can renew or release; scripts that write on the lock's
behalf (the sealer's) check the token themselves.
"""

from __future__ import annotations

import secrets

import redis.asyncio as aioredis

# Take the lock when it is free, renew it when it is ours.
RENEW_LUA = """
-- KEYS[1]  lock key   ARGV[1] owner token   ARGV[2] TTL ms
-- Returns 1 when the lock is (now) ours and renewed, else 0.
local owner = redis.call('GET', KEYS[1])
if owner == false then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', tonumber(ARGV[2]))
  return 1
end
if owner == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
  return 1
end
return 0
"""

RELEASE_LUA = """
-- KEYS[1]  lock key   ARGV[1] owner token
-- Returns 1 when released, 0 when it was not ours.
local owner = redis.call('GET', KEYS[1])
if owner == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class RedisLock:
    """One process's claim on a lock key."""

    def __init__(self, r: aioredis.Redis, key: str, *, ttl_ms: int = 5000) -> None:
        self.r = r
        self.key = key
        self.ttl_ms = ttl_ms
        self.token = secrets.token_hex(16)
        self._renew = r.register_script(RENEW_LUA)
        self._release = r.register_script(RELEASE_LUA)

    async def acquire(self) -> bool:
        """Take or renew the lock; False while another process holds it."""
        return bool(await self._renew(keys=[self.key], args=[self.token, self.ttl_ms]))

    async def release(self) -> None:
        await self._release(keys=[self.key], args=[self.token])
