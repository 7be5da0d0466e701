"""The audit sealer: chains events in stream order, archives them to JSONL, trims Redis.

One sealer at a time, across every API process and host: whoever holds the Redis lock
(`keys.AUDIT_LOCK`, a `RedisLock` with a TTL so a killed holder is replaced) seals; in the
service it is a singleton task of the workers' supervisor. Requests never wait for
hashing; a pass runs every `interval` (≤ 1 s behind). Each pass:

1. checks the sealer's state in Redis against its signed head copy on disk (`head.json`)
   and the stream's own counter of entries ever added: a state that is missing or rewound
   is restored from the head, and events removed before sealing are counted; either is
   sealed INTO the chain as a flag on the next event (`api.audit.chain`), never hidden;
2. reads the events after the state, refuses to chain a malformed event as if it were
   fine (it is sealed flagged `broken`), computes `hash = HMAC(key, prev ‖ canonical JSON)`
   and stores every hash with the new state in one Lua call (only if still the owner);
3. rewrites `head.json`; appends the oldest sealed events beyond the `tail_keep` newest to
   the day's JSONL segment, fsyncs, and only then removes them from Redis;
4. deletes segments older than `retention_days`, after writing a signed checkpoint naming
   the last removed event (the retained chain must start there).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from api import audit
from api.audit import chain, files, keyfile
from api.audit.files import segments
from api.store import keys
from api.store.errors import StoreUnavailable
from api.store.replicas import ReplicaAcks, confirmed
from api.workers.lock import RedisLock

__all__ = ["Sealer", "id_key", "sealer_lock", "segments"]

log = logging.getLogger("api.sealer")

# Record a sealed batch: each event's seq and hash plus the new state, only if still the
# owner and the state has not moved (another sealer would have sealed the same events).
SEAL_BATCH_LUA = """
-- KEYS[1]  audit hashes (hash)  KEYS[2] audit state (hash)  KEYS[3] sealer lock
-- ARGV[1]  owner token   ARGV[2] expected last_id ('' when none)  ARGV[3] expected seq
-- ARGV[4]  new last_id   ARGV[5] new last_hash  ARGV[6] new seq  ARGV[7] new lost
-- ARGV[8]  key_id
-- ARGV[9..] stream id, meta JSON {seq, hash, flags...}, stream id, meta ...
-- Returns 1 when written, 0 when the lock or the state moved.
if redis.call('GET', KEYS[3]) ~= ARGV[1] then
  return 0
end
local last = redis.call('HGET', KEYS[2], 'last_id') or ''
local seq = redis.call('HGET', KEYS[2], 'seq') or ''
if last ~= ARGV[2] or seq ~= ARGV[3] then
  return 0
end
redis.call('HSET', KEYS[1], unpack(ARGV, 9))
redis.call('HSET', KEYS[2], 'last_id', ARGV[4], 'last_hash', ARGV[5], 'seq', ARGV[6],
           'lost', ARGV[7], 'key_id', ARGV[8])
return 1
"""

# After archiving events to disk: drop them (and their hashes) from Redis, keep the anchor.
TRIM_ARCHIVED_LUA = """
-- KEYS[1]  audit stream  KEYS[2] audit hashes  KEYS[3] audit state  KEYS[4] sealer lock
-- ARGV[1]  owner token   ARGV[2] anchor id (last archived)  ARGV[3] anchor hash
-- ARGV[4]  anchor seq    ARGV[5..] the archived stream ids
-- Returns the number of events removed, or -1 when the lock is not ours.
if redis.call('GET', KEYS[4]) ~= ARGV[1] then
  return -1
end
local n = 0
for i = 5, #ARGV do
  n = n + redis.call('XDEL', KEYS[1], ARGV[i])
  redis.call('HDEL', KEYS[2], ARGV[i])
end
redis.call('HSET', KEYS[3], 'anchor_id', ARGV[2], 'anchor_hash', ARGV[3], 'anchor_seq', ARGV[4])
return n
"""


def id_key(stream_id: str) -> tuple[int, int]:
    ms, _, seq = stream_id.partition("-")
    return int(ms), int(seq or 0)


def sealer_lock(r: aioredis.Redis, ttl_ms: int = 5000) -> RedisLock:
    """The lock that elects the one sealer of a deployment."""
    return RedisLock(r, keys.AUDIT_LOCK, ttl_ms=ttl_ms)


@dataclass
class _Base:
    """Where the next batch continues the chain, and what to flag on its first event."""

    last_id: str
    prev: str
    seq: int
    lost: int
    flags: dict[str, Any]


def _head_of(last_id: str, last_hash: str, seq: int, lost: int) -> dict[str, Any]:
    return {"id": last_id, "hash": last_hash, "seq": seq, "lost": lost}


class Sealer:
    """Seal and archive the audit stream; safe to run in every process (one wins the lock)."""

    def __init__(
        self, r: aioredis.Redis, audit_dir: Path, key: bytes, *, tail_keep: int = 10_000,
        retention_days: float = 180, batch: int = 200, lock: RedisLock | None = None,
        acks: ReplicaAcks | None = None,
    ) -> None:
        self.r = r
        self.audit_dir = audit_dir
        self.key = key
        self.key_id = keyfile.key_id(key)
        self.tail_keep = tail_keep
        self.retention_days = retention_days
        self.batch = batch
        self.lock = lock or sealer_lock(r)
        self._seal = r.register_script(SEAL_BATCH_LUA)
        self._trim = r.register_script(TRIM_ARCHIVED_LUA)
        self._last_retention: float | None = None  # the first pass applies retention
        self._logged: dict[str, float] = {}
        self.refused: str | None = None  # why the last pass sealed nothing, if it refused
        # MODERATION_MIN_REPLICA_ACKS: nothing reaches disk (head.json, segments) before
        # that many replicas hold it, so a failover never takes back what disk records.
        self.acks = acks or ReplicaAcks()
        self.unconfirmed = False

    @property
    def token(self) -> str:
        return self.lock.token

    async def release(self) -> None:
        await self.lock.release()

    async def run_once(self) -> int:
        """Take the lock, then one pass; 0 when another process holds the lock."""
        if not await self.lock.acquire():
            return 0
        return await self.seal_pass()

    async def seal_pass(self) -> int:
        """One pass by the lock holder; returns how many events it sealed."""
        sealed = 0
        while True:
            n = await self._seal_batch()
            sealed += n
            if n < self.batch:
                break
            await asyncio.sleep(0)  # let requests run between batches
        if self.refused or self.unconfirmed:
            return sealed
        for _ in range(100):  # keep up with bursts, but yield to requests between batches
            if not await self._archive():
                break
            await asyncio.sleep(0)
        if self._last_retention is None or time.monotonic() - self._last_retention > 3600:
            self._apply_retention()
            self._last_retention = time.monotonic()
        return sealed

    def _warn(self, message: str) -> None:
        """Log a problem at most once a minute (the supervisor calls us twice a second)."""
        now = time.monotonic()
        if now - self._logged.get(message, -1e9) > 60:
            self._logged[message] = now
            log.error("audit sealer: %s", message)

    def _base(self, state: dict[str, str]) -> _Base:
        """Continue from the Redis state, unless it disagrees with the signed head on disk."""
        present = bool(state.get("last_id"))
        from_state = _Base(state.get("last_id", ""),
                           state.get("last_hash") or audit.GENESIS_HASH,
                           int(state.get("seq") or 0), int(state.get("lost") or 0), {})
        try:
            head = files.read_head(self.audit_dir, self.key)
        except files.ForgedFile:
            self._warn("head.json is not signed by this audit key; sealing on the Redis state")
            from_state.flags["repaired"] = "unchecked: head.json was not signed by this key"
            return from_state
        if head is None:
            if present or not self._archived_any():
                if present and from_state.seq > 0:
                    from_state.flags["repaired"] = "unchecked: head.json was missing"
                return from_state
            row = files.last_archived_row(self.audit_dir) or {}
            self._warn("the state in Redis and head.json are both missing; continuing from "
                       "the archive")
            return _Base(row.get("id", ""), row.get("hash", audit.GENESIS_HASH),
                         int(row.get("seq", 0)), 0,
                         {"repaired": "missing (deleted?) and head.json too; continued from "
                                      "the archive"})
        restored = _Base(head["id"], head["hash"], head["seq"], head["lost"], {})
        if not present:
            restored.flags["repaired"] = f"missing (deleted?); restored from head.json at " \
                                         f"seq {head['seq']}"
        elif from_state.seq < head["seq"]:
            restored.flags["repaired"] = (f"rewound to seq {from_state.seq} (head.json says "
                                          f"{head['seq']}); restored from head.json")
        elif from_state.seq == head["seq"] and (
                (from_state.last_id, from_state.prev, from_state.lost)
                != (head["id"], head["hash"], head["lost"])):
            restored.flags["repaired"] = "rewritten (differs from head.json at the same seq); " \
                                         "restored from head.json"
        else:
            return from_state  # equal, or ahead by a pass whose head write was cut short
        self._warn(f"the sealer's Redis state was {restored.flags['repaired']}")
        return restored

    def _archived_any(self) -> bool:
        return bool(segments(self.audit_dir)) or (self.audit_dir / files.CHECKPOINT_FILE).exists()

    async def _seal_batch(self) -> int:
        """Seal up to one batch, then rewrite head.json; returns how many it sealed."""
        async with self.r.pipeline(transaction=True) as pipe:
            pipe.hgetall(keys.AUDIT_STATE)
            pipe.xinfo_stream(keys.AUDIT_STREAM)
            pipe.xlen(keys.AUDIT_STREAM)
            pipe.hlen(keys.AUDIT_HASHES)
            state, info, xlen, hlen = await pipe.execute(raise_on_error=False)
        if isinstance(state, Exception):
            raise state
        if state.get("key_id") and state["key_id"] != self.key_id:
            self.refused = (f"the chain was sealed under another audit key (key_id "
                            f"{state['key_id']}, ours {self.key_id}); copy the deployment's "
                            "audit.key to this host")
            self._warn(self.refused)
            await self.lock.release()  # let a process with the right key seal
            return 0
        self.refused = None
        base = self._base(state)
        added = info.get("entries-added") if isinstance(info, dict) else None
        if added is not None and not base.flags:
            # Every entry ever added is sealed, counted lost, or still waiting.
            missing = int(added) - base.seq - base.lost - (int(xlen) - int(hlen))
            if missing > 0:
                base.flags["lost_before"] = missing
                self._warn(f"{missing} audit event(s) were removed before they were sealed")
            elif missing < 0:
                self._warn("the audit stream was recreated or its counter reset "
                           f"({-missing} fewer entries than sealed and waiting)")
        start = "(" + base.last_id if base.last_id else "-"
        entries = await self.r.xrange(keys.AUDIT_STREAM, min=start, max="+", count=self.batch)
        if not entries:
            return 0
        prev, seq, lost = base.prev, base.seq, base.lost + base.flags.get("lost_before", 0)
        pairs: list[str] = []
        for i, (stream_id, fields) in enumerate(entries):
            raw = fields.get(audit.EVENT_FIELD)
            flags = dict(base.flags) if i == 0 else {}
            reason = chain.malformed(raw, stream_id)
            if reason is not None:
                flags["broken"] = reason
                self._warn(f"audit event {stream_id} is malformed ({reason}); sealed as broken")
            seq += 1
            prev = chain.chain_hash(self.key, prev, stream_id, seq,
                                    chain.event_text(raw, reason is not None), flags)
            pairs += [stream_id, audit.canonical({"hash": prev, "seq": seq, **flags})]
        ok = await self._seal(
            keys=[keys.AUDIT_HASHES, keys.AUDIT_STATE, keys.AUDIT_LOCK],
            args=[self.token, state.get("last_id", ""), state.get("seq", ""),
                  entries[-1][0], prev, seq, lost, self.key_id, *pairs],
        )
        if not ok:
            return 0
        self.unconfirmed = not await self._replicated()
        if self.unconfirmed:  # sealed in Redis; head.json follows once replicas confirm
            return 0
        files.write_head(self.audit_dir, self.key, _head_of(entries[-1][0], prev, seq, lost))
        return len(entries)

    async def _archive(self) -> bool:
        """Move up to one batch of the sealed events beyond the newest `tail_keep` to disk,
        then trim them from Redis; True when it moved some."""
        excess = await self.r.hlen(keys.AUDIT_HASHES) - self.tail_keep
        if excess <= 0:
            return False
        state = await self.r.hgetall(keys.AUDIT_STATE)
        last_id = state.get("last_id")
        if not last_id:
            return False
        entries = await self.r.xrange(keys.AUDIT_STREAM, min="-", max=last_id,
                                      count=min(excess, self.batch))
        if not entries:
            return False
        ids = [e[0] for e in entries]
        metas = await self.r.hmget(keys.AUDIT_HASHES, ids)
        done = files.last_archived_row(self.audit_dir)
        prev = self._prev_of_archive(state, done, metas[0])
        lines = []
        for (stream_id, fields), raw_meta in zip(entries, metas, strict=True):
            meta = chain.parse_meta(raw_meta)
            if meta is None:
                self._warn(f"audit event {stream_id} has no sealed hash; not archiving")
                return False
            if done is None or id_key(stream_id) > id_key(done["id"]):
                flags = {k: meta[k] for k in chain.FLAGS if k in meta}
                event = (fields.get(audit.EVENT_FIELD) if "broken" in flags
                         else audit.stored_event(fields))
                lines.append(audit.canonical({"id": stream_id, "seq": meta["seq"],
                                              "prev_hash": prev, "hash": meta["hash"],
                                              "event": event, **flags}))
            prev = meta["hash"]
        if lines and not await self._replicated():
            return False
        if lines:
            day = datetime.now(UTC).strftime("%Y%m%d")
            files.append_lines(self.audit_dir / f"segment-{day}.jsonl", lines)
        last = chain.parse_meta(metas[-1]) or {}
        trimmed = await self._trim(
            keys=[keys.AUDIT_STREAM, keys.AUDIT_HASHES, keys.AUDIT_STATE, keys.AUDIT_LOCK],
            args=[self.token, ids[-1], prev, last.get("seq", ""), *ids],
        )
        return int(trimmed) >= 0  # -1: the lock moved to another sealer

    async def _replicated(self) -> bool:
        """Whether the replicas required (`acks`) hold all the primary holds now."""
        try:
            if await confirmed(self.r, self.acks):
                return True
        except StoreUnavailable:
            pass
        self._warn(f"fewer than {self.acks.replicas} replica(s) confirmed the sealed state; "
                   "head.json and the archive wait until they do")
        return False

    @staticmethod
    def _prev_of_archive(state: dict[str, str], done: dict[str, Any] | None,
                         first_meta: str | None) -> str:
        """The hash the first archived row follows: the last row on disk, else the anchor."""
        first = chain.parse_meta(first_meta) or {}
        if done is not None and done.get("seq") == first.get("seq", 0) - 1:
            return str(done.get("hash"))
        return state.get("anchor_hash") or audit.GENESIS_HASH

    def _apply_retention(self) -> None:
        cutoff = (datetime.now(UTC) - timedelta(days=self.retention_days)).strftime("%Y%m%d")
        old = [p for p in segments(self.audit_dir)[:-1]  # never the newest: it ends at the anchor
               if p.stem.removeprefix("segment-") < cutoff]
        if not old:
            return
        last = files.last_row(old[-1])
        if last is None or not isinstance(last.get("seq"), int):
            self._warn(f"{old[-1].name} has no sealed row at its end; not removing old segments")
            return
        files.add_checkpoint(self.audit_dir, self.key, {
            "id": last["id"], "seq": last["seq"], "hash": last.get("hash"),
            "removed": [p.name for p in old], "at": audit.now_iso()})
        for path in old:
            path.unlink(missing_ok=True)

