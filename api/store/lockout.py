"""The login lockout: at most `max_failures` password checks per username per window.

A login first RESERVES a slot (`RESERVE_SLOT_LUA`, one atomic call): when the username's
counter has reached the limit the attempt is refused with the counter's TTL, otherwise the
counter is incremented (its window starts with the first slot) and the password may be
checked. Counting before the (slow, argon2) check is what makes the limit hold when many
guesses arrive at once: reading the counter before and incrementing it after the check let
120 parallel guesses all be checked.

A slot that ends in a failed check stays counted. A successful login releases the slots up
to and including its own (`RELEASE_SLOTS_LUA`, run inside the script that opens the
session): the failures before it are forgiven, guesses that reserved a slot after it, while
its password was being checked, stay counted. A correct password that got a slot succeeds
even when racing guesses fill the window meanwhile; after the window is full, the right
password is refused too (429) until the window ends.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis.asyncio as aioredis

from api.store import keys
from api.store.errors import RateLimited

# Arguments: `LoginLockout.reserve`.
RESERVE_SLOT_LUA = """
-- KEYS[1]  failure counter of the username   pm:loginfail:{username}
-- ARGV[1]  slots per window (max failures)   ARGV[2] window seconds
-- Returns {1, slot number} (check the password) | {0, seconds until the window ends}
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
if used >= tonumber(ARGV[1]) then
  local ttl = redis.call('TTL', KEYS[1])
  if ttl < 0 then  -- a counter without a window (never written so): give it one
    redis.call('EXPIRE', KEYS[1], ARGV[2])
    ttl = tonumber(ARGV[2])
  end
  return {0, ttl}
end
local slot = redis.call('INCR', KEYS[1])
if slot == 1 then
  redis.call('EXPIRE', KEYS[1], ARGV[2])
end
return {1, slot}
"""

# A snippet for the script that opens a session after a correct password.
RELEASE_SLOTS_LUA = """
-- release_slots(counter key, slot number of the successful attempt)
local function release_slots(counter, slot)
  local left = tonumber(redis.call('GET', counter) or '0') - slot
  if left <= 0 then
    redis.call('DEL', counter)
  else
    redis.call('SET', counter, left, 'KEEPTTL')
  end
end
"""


def counter_key(username: str) -> str:
    """The counter of a username as typed (unknown names are counted the same way)."""
    return keys.login_failures(username[:64])


@dataclass(frozen=True, slots=True)
class Slot:
    """A reserved password check: the counter's key and this attempt's place in it."""

    key: str
    number: int


class LoginLockout:
    def __init__(self, r: aioredis.Redis, *, max_failures: int, window_s: int) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self._reserve = r.register_script(RESERVE_SLOT_LUA)

    async def reserve(self, username: str) -> Slot:
        """A slot for one password check, or `RateLimited` with the window's remaining TTL."""
        key = counter_key(username)
        granted, value = await self._reserve(keys=[key], args=[self.max_failures,
                                                                 self.window_s])
        if not granted:
            raise RateLimited("Too many failed logins for this user; try again later.",
                              retry_after=int(value))
        return Slot(key, int(value))
