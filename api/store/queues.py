"""Review queues: their names, the claim order, and the Lua helpers every review script shares.

A queue is a zset whose score IS the claim order, so a claim is one ZRANGE from the head:

    score = overdue_band * 2e13 + severity * 1e13 + deadline_ms

`overdue_band` is 0 once the SLA deadline has passed (overdue items first), else 1;
`severity` is 0 when a block-severity lexicon term was hit, else 1; then the SLA deadline;
equal scores fall back to the member, and item ids start with their creation time in
hex (`items.new_item_id`), so ties go to the oldest. Deadlines in ms stay below 1e13 until
the year 2286 and every score stays an exact double (< 2^53). Items without a deadline
(`qa`) score 0 there: severity, then age. An item becomes overdue while it waits, so the
SLA task re-scores it then (`sla.py`); a script that puts an item back computes the score
with the time of that call.

Which queues a person may claim: every channel's, `appeals` and `qa`; `escalated` only
senior and admin.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from api.store import keys
from api.store.statuses import Role

ESCALATED = "escalated"
APPEALS = "appeals"
QA = "qa"
SPECIAL_QUEUES = (ESCALATED, APPEALS, QA)
BAND = 10_000_000_000_000  # 1e13 ms: above every deadline until 2286


def queue_score(severity: int, deadline_ms: int, now_ms: int) -> int:
    """The claim-order score (same formula as `queue_score` in `QUEUE_LUA`)."""
    overdue = 0 if 0 < deadline_ms <= now_ms else 1
    return overdue * 2 * BAND + severity * BAND + deadline_ms


def severity_of(decision: dict[str, Any]) -> int:
    """0 when the machine saw a block-severity term (it comes first), else 1."""
    return 0 if any(h.get("severity") == "block" for h in decision.get("hits", ())) else 1


def claimable(channels: tuple[str, ...] | list[str], role: Role) -> list[str]:
    """The queues a person with `role` may claim, in display order."""
    out = [*channels, APPEALS, QA]
    if role.allows(Role.SENIOR):
        out.insert(len(channels), ESCALATED)
    return out


@dataclass(frozen=True, slots=True)
class QueueStat:
    name: str
    depth: int
    overdue: int
    oldest_age_s: float | None

    def to_dict(self) -> dict[str, Any]:
        return {"queue": self.name, "depth": self.depth, "overdue": self.overdue,
                "oldest_age_s": self.oldest_age_s}


async def queue_stats(r: Any, names: list[str], now_ms: int) -> list[QueueStat]:
    """Depth, overdue items and the oldest waiting age of each queue, in one round trip."""
    pipe = r.pipeline(transaction=False)
    for name in names:
        pipe.zcard(keys.review_queue(name))
        pipe.zcount(keys.review_queue(name), "-inf", 2 * BAND - 1)
        pipe.zrange(keys.review_queue_age(name), 0, 0, withscores=True)
    res = await pipe.execute()
    out = []
    for i, name in enumerate(names):
        depth, overdue, oldest = res[3 * i: 3 * i + 3]
        age = round((now_ms - oldest[0][1]) / 1000, 3) if oldest else None
        out.append(QueueStat(name, int(depth), int(overdue), age))
    return out


# Shared by the review scripts (claims, verdicts, reaper, SLA): ARGV-free helpers.
QUEUE_LUA = """
local BAND = 10000000000000
-- The claim-order score (queues.queue_score).
local function queue_score(sev, deadline, now)
  local overdue = 1
  if deadline > 0 and deadline <= now then overdue = 0 end
  return overdue * 2 * BAND + sev * BAND + deadline
end
-- Put an item in a queue (and its age zset) / take it out.
local function enqueue(qprefix, aprefix, queue, id, score, queued_ms)
  redis.call('ZADD', qprefix .. queue, score, id)
  redis.call('ZADD', aprefix .. queue, queued_ms, id)
end
local function dequeue(qprefix, aprefix, queue, id)
  redis.call('ZREM', qprefix .. queue, id)
  redis.call('ZREM', aprefix .. queue, id)
end
-- Append one JSON entry to the item's history (a JSON array kept as text).
local function add_history(key, entry)
  local h = redis.call('HGET', key, 'history')
  if not h or h == '' or h == '[]' then
    h = '[' .. entry .. ']'
  else
    h = string.sub(h, 1, -2) .. ',' .. entry .. ']'
  end
  redis.call('HSET', key, 'history', h)
end
-- Fill @name@ markers of a template built by Python (audit events, history entries): the
-- values are ids, usernames and status words, never user text, so the JSON stays canonical.
local function fill(template, values)
  return (string.gsub(template, '@(%l+)@', values))
end
-- Whether a comma list ("a,b") holds a name.
local function listed(list, name)
  if not list or list == '' then return false end
  return string.find(',' .. list .. ',', ',' .. name .. ',', 1, true) ~= nil
end
local function add_to_list(list, name)
  if not list or list == '' then return name end
  if listed(list, name) then return list end
  return list .. ',' .. name
end
"""
