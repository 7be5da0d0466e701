"""One Lua snippet for scripts that write a hash from a JSON object passed as an ARGV.

Packing a record's fields as one JSON argument keeps ARGV short and its order free; each
script that does so prepends `HSET_JSON_LUA` and calls `hset_json(key, argv)` instead of
writing the decode-and-flatten loop again.
"""

from __future__ import annotations

HSET_JSON_LUA = """
-- hset_json(hash key, JSON object of strings): HSET every field of the object at once
local function hset_json(key, json)
  local flat = {}
  for k, v in pairs(cjson.decode(json)) do
    flat[#flat + 1] = k
    flat[#flat + 1] = v
  end
  redis.call('HSET', key, unpack(flat))
end
"""
