"""Checking and exporting the audit chain: JSONL segments on disk, then the Redis tail.

`verify` recomputes every link and names the first broken event. Events not yet sealed
are counted, not treated as breaks. The Redis side is read in one MULTI snapshot first, so
a sealer archiving at the same moment cannot create a false break (events present in both
places are checked once, on disk).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from api import audit
from api.audit.sealer import id_key, segments
from api.store import keys


@dataclass
class Break:
    """The first link that does not hold: where it is and why."""

    id: str | None
    where: str
    reason: str


@dataclass
class VerifyReport:
    archived: int = 0
    sealed_in_redis: int = 0
    unsealed: int = 0
    head_hash: str | None = None
    first_break: Break | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.first_break is None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["ok"] = self.ok
        return d


@dataclass
class _Snapshot:
    entries: list[tuple[str, dict[str, str]]]
    hashes: dict[str, str]
    state: dict[str, str]


async def _snapshot(r: aioredis.Redis) -> _Snapshot:
    async with r.pipeline(transaction=True) as pipe:
        pipe.xrange(keys.AUDIT_STREAM, "-", "+")
        pipe.hgetall(keys.AUDIT_HASHES)
        pipe.hgetall(keys.AUDIT_STATE)
        entries, hashes, state = await pipe.execute()
    return _Snapshot(entries, hashes, state)


def _segment_lines(audit_dir: Path) -> Iterator[tuple[str, int, str]]:
    for path in segments(audit_dir):
        with path.open(encoding="utf-8", errors="replace") as f:
            for n, line in enumerate(f, 1):
                if line.strip():
                    yield path.name, n, line


async def verify(r: aioredis.Redis, audit_dir: Path) -> VerifyReport:
    """Recompute the whole chain; the report's `first_break` names the first bad event."""
    snap = await _snapshot(r)
    rep = VerifyReport()
    prev: str | None = None
    last_id: str | None = None
    anchor_id = snap.state.get("anchor_id")
    anchor_seen = False
    for name, n, line in _segment_lines(audit_dir):
        where = f"{name}:{n}"
        try:
            row = json.loads(line)
            sid, event, stored = row["id"], row["event"], row["hash"]
            row_prev = row["prev_hash"]
        except (ValueError, KeyError, TypeError):
            rep.first_break = Break(None, where, "line is not a sealed audit event (JSON)")
            return rep
        if prev is None:
            prev = row_prev  # retention may have removed older segments
            if prev != audit.GENESIS_HASH:
                rep.notes.append(f"chain starts at {sid} (older segments removed)")
        if last_id is not None and id_key(sid) <= id_key(last_id):
            rep.first_break = Break(sid, where, "event out of order or duplicated")
            return rep
        if row_prev != prev:
            rep.first_break = Break(sid, where, "prev_hash does not match the previous event")
            return rep
        computed = audit.chain_hash(prev, sid, audit.canonical(event))
        if computed != stored:
            rep.first_break = Break(sid, where, "hash does not match the event (altered)")
            return rep
        if sid == anchor_id:
            anchor_seen = True
            if stored != snap.state.get("anchor_hash"):
                rep.first_break = Break(sid, where, "archive does not match the Redis anchor")
                return rep
        prev, last_id = computed, sid
        rep.archived += 1
    if anchor_id and not anchor_seen and (last_id is None or id_key(last_id) < id_key(anchor_id)):
        rep.first_break = Break(anchor_id, "segments",
                                "archived events up to the anchor are missing from disk")
        return rep
    if prev is None:
        prev = snap.state.get("anchor_hash") or audit.GENESIS_HASH
    sealed_to = snap.state.get("last_id")
    for sid, fields in snap.entries:
        if last_id is not None and id_key(sid) <= id_key(last_id):
            continue  # archived while we read; checked on disk
        if not sealed_to or id_key(sid) > id_key(sealed_to):
            rep.unsealed += 1
            continue
        where = f"redis {keys.AUDIT_STREAM}"
        stored = snap.hashes.get(sid)
        if stored is None:
            rep.first_break = Break(sid, where, "sealed event has no stored hash")
            return rep
        computed = audit.chain_hash(prev, sid, fields.get(audit.EVENT_FIELD, ""))
        if computed != stored:
            rep.first_break = Break(sid, where, "hash does not match the event (altered, or "
                                    "an earlier event was removed)")
            return rep
        prev = computed
        rep.sealed_in_redis += 1
    tail_expected = sealed_to and (last_id is None or id_key(last_id) < id_key(sealed_to))
    if tail_expected and prev != snap.state.get("last_hash"):
        rep.first_break = Break(sealed_to, f"redis {keys.AUDIT_STATE}",
                                "the last sealed event is missing or altered")
        return rep
    rep.head_hash = prev
    return rep


async def export(r: aioredis.Redis, audit_dir: Path, out_path: Path) -> int:
    """Write every event (archived, sealed in Redis, unsealed) as JSONL; returns the count."""
    snap = await _snapshot(r)
    n = 0
    last_id: str | None = None
    with out_path.open("w", encoding="utf-8") as out:
        for _name, _n, line in _segment_lines(audit_dir):
            out.write(line if line.endswith("\n") else line + "\n")
            with contextlib.suppress(ValueError, KeyError):
                last_id = json.loads(line)["id"]
            n += 1
        sealed_to = snap.state.get("last_id")
        for sid, fields in snap.entries:
            if last_id is not None and id_key(sid) <= id_key(last_id):
                continue
            sealed = bool(sealed_to) and id_key(sid) <= id_key(sealed_to)
            row = {"id": sid, "event": audit.stored_event(fields),
                   "hash": snap.hashes.get(sid) if sealed else None}
            out.write(audit.canonical(row) + "\n")
            n += 1
    return n
