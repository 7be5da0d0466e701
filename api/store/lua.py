"""Lua scripts: every check-then-write of the service, each atomic on the Redis server.

Each script documents its KEYS and ARGV (rq's habit). They are registered per client with
`register_script`, so a NOSCRIPT after a server restart reloads them transparently.
"""

from __future__ import annotations

# Check the API key and its rate limit, claim the data_id and store the item, queue it,
# and audit it: all or nothing, in one round trip.
CREATE_ITEM = """
-- KEYS[1]  item hash                  pm:item:{client}:{data_id}
-- KEYS[2]  item id index              pm:itemid:{item_id}
-- KEYS[3]  pending review queue       pm:queue:pending (zset item_id -> created ms)
-- KEYS[4]  audit stream               pm:audit
-- KEYS[5]  API key record             pm:apikey:{sha256 of the key}
-- KEYS[6]  rate window of the key     pm:rl:{sha256}:{unix second}
-- ARGV[1]  item id      ARGV[2] content digest   ARGV[3] status
-- ARGV[4]  TTL seconds for a final item (0: never expires)
-- ARGV[5]  created_at ms
-- ARGV[6]  audit event "item.created" (canonical JSON)
-- ARGV[7]  audit event "item.decided" (canonical JSON)
-- ARGV[8]  client the key must belong to   ARGV[9] items to count (0: counted already)
-- ARGV[10] default rate limit per second
-- ARGV[11] the item hash's fields as one JSON object of strings (fewer arguments to pack)
-- Returns {"created", item_id} | {"exists", HGETALL...} | {"conflict", item_id}
--       | {"unauthorized"} (key revoked) | {"limited"} (over the key's rate limit)
local rec = redis.call('HMGET', KEYS[5], 'client', 'rate_limit')
if rec[1] ~= ARGV[8] then
  return {'unauthorized'}
end
local cost = tonumber(ARGV[9])
if cost > 0 then
  local used = redis.call('INCRBY', KEYS[6], cost)
  if used == cost then
    redis.call('EXPIRE', KEYS[6], 2)
  end
  if used > (tonumber(rec[2]) or tonumber(ARGV[10])) then
    return {'limited'}
  end
end
local digest = redis.call('HGET', KEYS[1], 'digest')
if digest then
  if digest == ARGV[2] then
    return {'exists', redis.call('HGETALL', KEYS[1])}
  end
  return {'conflict', redis.call('HGET', KEYS[1], 'item_id')}
end
local fields = cjson.decode(ARGV[11])
local flat = {}
for k, v in pairs(fields) do
  flat[#flat + 1] = k
  flat[#flat + 1] = v
end
redis.call('HSET', KEYS[1], unpack(flat))
redis.call('SET', KEYS[2], KEYS[1])
if ARGV[3] == 'pending' then
  redis.call('ZADD', KEYS[3], tonumber(ARGV[5]), ARGV[1])
end
local ttl = tonumber(ARGV[4])
if ttl > 0 then
  redis.call('EXPIRE', KEYS[1], ttl)
  redis.call('EXPIRE', KEYS[2], ttl)
end
redis.call('XADD', KEYS[4], '*', 'e', ARGV[6])
redis.call('XADD', KEYS[4], '*', 'e', ARGV[7])
return {'created', ARGV[1]}
"""

# Authenticate an API key and count its items in the current one-second window.
AUTH_AND_COUNT = """
-- KEYS[1]  key record        pm:apikey:{sha256 of the key}
-- KEYS[2]  rate window       pm:rl:{sha256}:{unix second}
-- ARGV[1]  items this request counts   ARGV[2] default limit per second
-- Returns nil (unknown or revoked key) | {client, key_id, 0} | {client, key_id, retry_after}
local rec = redis.call('HMGET', KEYS[1], 'client', 'id', 'rate_limit')
if not rec[1] then
  return nil
end
local limit = tonumber(rec[3]) or tonumber(ARGV[2])
local used = redis.call('INCRBY', KEYS[2], tonumber(ARGV[1]))
if used == tonumber(ARGV[1]) then
  redis.call('EXPIRE', KEYS[2], 2)
end
if used > limit then
  return {rec[1], rec[2], 1}
end
return {rec[1], rec[2], 0}
"""

# Take, renew or release the sealer lock only when we hold it.
LOCK_RENEW = """
-- KEYS[1]  lock key   ARGV[1] owner token   ARGV[2] TTL ms
-- Returns 1 when the lock is (still) ours and renewed, else 0.
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

LOCK_RELEASE = """
-- KEYS[1]  lock key   ARGV[1] owner token
local owner = redis.call('GET', KEYS[1])
if owner == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

# Record a sealed batch: hashes of each event plus the checkpoint, only if still the owner
# and the checkpoint has not moved (another sealer would have sealed the same events).
SEAL_BATCH = """
-- KEYS[1]  audit hashes (hash)  KEYS[2] audit state (hash)  KEYS[3] sealer lock
-- ARGV[1]  owner token   ARGV[2] expected last_id ('' when none)
-- ARGV[3]  new last_id   ARGV[4] new last_hash
-- ARGV[5..] stream id, hash, stream id, hash ...
-- Returns 1 when written, 0 when the lock or checkpoint moved.
if redis.call('GET', KEYS[3]) ~= ARGV[1] then
  return 0
end
local last = redis.call('HGET', KEYS[2], 'last_id') or ''
if last ~= ARGV[2] then
  return 0
end
redis.call('HSET', KEYS[1], unpack(ARGV, 5))
redis.call('HSET', KEYS[2], 'last_id', ARGV[3], 'last_hash', ARGV[4])
return 1
"""

# After archiving events to disk: drop them (and their hashes) from Redis, keep the anchor.
TRIM_ARCHIVED = """
-- KEYS[1]  audit stream  KEYS[2] audit hashes  KEYS[3] audit state  KEYS[4] sealer lock
-- ARGV[1]  owner token   ARGV[2] anchor id (last archived)  ARGV[3] anchor hash
-- ARGV[4..] the archived stream ids
-- Returns the number of events removed, or -1 when the lock is not ours.
if redis.call('GET', KEYS[4]) ~= ARGV[1] then
  return -1
end
local n = 0
for i = 4, #ARGV do
  n = n + redis.call('XDEL', KEYS[1], ARGV[i])
  redis.call('HDEL', KEYS[2], ARGV[i])
end
redis.call('HSET', KEYS[3], 'anchor_id', ARGV[2], 'anchor_hash', ARGV[3])
return n
"""
