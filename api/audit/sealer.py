"""The audit sealer: chains events in stream order, archives them to JSONL, trims Redis.

One sealer at a time, across every API process and host: whoever holds the Redis lock
(`keys.AUDIT_LOCK`, a `RedisLock` with a TTL so a killed holder is replaced) seals; in the
service it is a singleton task of the workers' supervisor. Requests never wait for
hashing; a pass runs every `interval` (≤ 1 s behind). Each pass:

1. reads the events after the checkpoint, computes `hash = SHA-256(prev ‖ canonical JSON)`,
   and stores every hash plus the new checkpoint in one Lua call (only if still the owner);
2. appends the oldest sealed events beyond the `tail_keep` newest to the day's JSONL segment
   in the audit directory, fsyncs, and only then removes them from Redis, keeping the last
   archived hash as the anchor;
3. deletes segments older than `retention_days`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import redis.asyncio as aioredis

from api import audit
from api.store import keys
from api.workers.lock import RedisLock

log = logging.getLogger("api.sealer")
SEGMENT_GLOB = "segment-*.jsonl"

# Record a sealed batch: hashes of each event plus the checkpoint, only if still the owner
# and the checkpoint has not moved (another sealer would have sealed the same events).
SEAL_BATCH_LUA = """
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
TRIM_ARCHIVED_LUA = """
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


def id_key(stream_id: str) -> tuple[int, int]:
    ms, _, seq = stream_id.partition("-")
    return int(ms), int(seq or 0)


def segments(audit_dir: Path) -> list[Path]:
    """Segment files in chain order (their names sort by date)."""
    return sorted(audit_dir.glob(SEGMENT_GLOB))


def last_archived_id(audit_dir: Path) -> str | None:
    """The stream id of the last line of the newest segment (to skip re-archiving)."""
    for path in reversed(segments(audit_dir)):
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 65536))
            lines = [ln for ln in f.read().splitlines() if ln.strip()]
        for ln in reversed(lines):
            try:
                return json.loads(ln)["id"]
            except (ValueError, KeyError):
                continue
    return None


def sealer_lock(r: aioredis.Redis, ttl_ms: int = 5000) -> RedisLock:
    """The lock that elects the one sealer of a deployment."""
    return RedisLock(r, keys.AUDIT_LOCK, ttl_ms=ttl_ms)


class Sealer:
    """Seal and archive the audit stream; safe to run in every process (one wins the lock)."""

    def __init__(
        self, r: aioredis.Redis, audit_dir: Path, *, tail_keep: int = 10_000,
        retention_days: float = 180, batch: int = 200, lock: RedisLock | None = None,
    ) -> None:
        self.r = r
        self.audit_dir = audit_dir
        self.tail_keep = tail_keep
        self.retention_days = retention_days
        self.batch = batch
        self.lock = lock or sealer_lock(r)
        self._seal = r.register_script(SEAL_BATCH_LUA)
        self._trim = r.register_script(TRIM_ARCHIVED_LUA)
        self._last_retention = 0.0

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
        for _ in range(100):  # keep up with bursts, but yield to requests between batches
            if not await self._archive():
                break
            await asyncio.sleep(0)
        if time.monotonic() - self._last_retention > 3600:
            self._apply_retention()
            self._last_retention = time.monotonic()
        return sealed

    async def _seal_batch(self) -> int:
        state = await self.r.hgetall(keys.AUDIT_STATE)
        last_id = state.get("last_id", "")
        prev = state.get("last_hash") or state.get("anchor_hash") or audit.GENESIS_HASH
        start = "(" + last_id if last_id else "-"
        entries = await self.r.xrange(keys.AUDIT_STREAM, min=start, max="+", count=self.batch)
        if not entries:
            return 0
        pairs: list[str] = []
        for stream_id, fields in entries:
            prev = audit.chain_hash(prev, stream_id, fields.get(audit.EVENT_FIELD, ""))
            pairs += [stream_id, prev]
        ok = await self._seal(
            keys=[keys.AUDIT_HASHES, keys.AUDIT_STATE, keys.AUDIT_LOCK],
            args=[self.token, last_id, entries[-1][0], prev, *pairs],
        )
        return len(entries) if ok else 0

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
        hashes = await self.r.hmget(keys.AUDIT_HASHES, ids)
        prev = state.get("anchor_hash") or audit.GENESIS_HASH
        done = last_archived_id(self.audit_dir)
        lines = []
        for (stream_id, fields), h in zip(entries, hashes, strict=True):
            if h is None:
                log.error("audit event %s has no sealed hash; not archiving", stream_id)
                return False
            if done is None or id_key(stream_id) > id_key(done):
                lines.append(audit.canonical({"id": stream_id, "prev_hash": prev, "hash": h,
                                              "event": audit.stored_event(fields)}))
            prev = h
        if lines:
            self._write_segment(lines)
        trimmed = await self._trim(
            keys=[keys.AUDIT_STREAM, keys.AUDIT_HASHES, keys.AUDIT_STATE, keys.AUDIT_LOCK],
            args=[self.token, ids[-1], prev, *ids],
        )
        return int(trimmed) >= 0  # -1: the lock moved to another sealer

    def _write_segment(self, lines: list[str]) -> None:
        self.audit_dir.mkdir(parents=True, exist_ok=True)
        day = datetime.now(UTC).strftime("%Y%m%d")
        path = self.audit_dir / f"segment-{day}.jsonl"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, ("\n".join(lines) + "\n").encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
        dfd = os.open(self.audit_dir, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)

    def _apply_retention(self) -> None:
        cutoff = (datetime.now(UTC) - timedelta(days=self.retention_days)).strftime("%Y%m%d")
        for path in segments(self.audit_dir)[:-1]:  # never the newest: it ends at the anchor
            if path.stem.removeprefix("segment-") < cutoff:
                path.unlink(missing_ok=True)
