"""The per-key rate limit as one Lua snippet, shared by every script that counts items.

A fixed one-second window per API key (`keys.rate_window`): INCRBY the items a request
counts, expire the window after 2 s, and compare with the key's limit. Each script that
authenticates a key prepends `RATE_LIMIT_LUA` and calls `over_limit(...)`, so the rule
is written once.
"""

from __future__ import annotations

RATE_LIMIT_LUA = """
-- over_limit(window key, items to count, limit per second) -> true when over the limit
local function over_limit(window, cost, limit)
  local used = redis.call('INCRBY', window, cost)
  if used == cost then
    redis.call('EXPIRE', window, 2)
  end
  return used > limit
end
"""
