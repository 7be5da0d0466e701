"""Checking and exporting the audit chain: JSONL segments on disk, then the Redis tail.

`verify` recomputes every keyed link and names the first place that does not hold: an
altered or re-hashed event, a gap in the sequence, an oldest retained event that follows
neither GENESIS nor a signed retention checkpoint, a sealer state in Redis that is missing
or rewound (checked against the chain, the signed `head.json` and the stream's counter of
entries ever added), events removed before sealing, events the sealer flagged, and an
operator's anchor that the chain no longer holds. Events not yet sealed are counted with
the age of the oldest; they are not breaks unless older than `max_unsealed_age_s`.

Reads are ordered so that a sealer working at the same moment cannot cause a false break:
head.json first, then Redis in one MULTI snapshot, then the segments (events present in
both places are checked once, on disk).
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
from api.audit import chain, files, keyfile
from api.audit.sealer import id_key, segments
from api.store import keys

STATE_WHERE = f"redis {keys.AUDIT_STATE}"
STREAM_WHERE = f"redis {keys.AUDIT_STREAM}"


@dataclass
class Break:
    """The first link that does not hold: where it is and why."""

    id: str | None
    where: str
    reason: str


@dataclass(frozen=True)
class Anchor:
    """`SEQ:HASH` of a sealed event, recorded by an operator outside the service."""

    seq: int
    hash: str

    @classmethod
    def parse(cls, text: str) -> Anchor:
        seq, _, digest = text.strip().partition(":")
        if not seq.isdigit() or int(seq) < 1 or len(digest) != 64 or any(
                c not in "0123456789abcdef" for c in digest):
            raise ValueError(f"--anchor must be SEQ:HASH as printed by `moderation audit "
                             f"anchor` (a number, a colon, 64 hex digits), not {text!r}")
        return cls(int(seq), digest)

    def __str__(self) -> str:
        return f"{self.seq}:{self.hash}"


@dataclass
class VerifyReport:
    archived: int = 0
    sealed_in_redis: int = 0
    unsealed: int = 0
    oldest_unsealed_age_s: float | None = None
    unsealed_too_old: bool = False
    first_seq: int | None = None
    head_seq: int = 0
    head_hash: str | None = None
    anchor: str | None = None  # "found" or "older than retention" when one was given
    first_break: Break | None = None
    notes: list[str] = field(default_factory=list)
    # The segment files read, in chain order: on several hosts, proof that this run saw the
    # shared audit directory (README "Running on several machines"), not a host's own.
    segments: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.first_break is None and not self.unsealed_too_old

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["ok"] = self.ok
        return d


@dataclass
class _Snapshot:
    entries: list[tuple[str, dict[str, str]]]
    hashes: dict[str, str]
    state: dict[str, str]
    added: int | None  # XINFO STREAM entries-added (None: no stream, or Redis < 7)
    now_ms: int


async def _snapshot(r: aioredis.Redis) -> _Snapshot:
    async with r.pipeline(transaction=True) as pipe:
        pipe.xrange(keys.AUDIT_STREAM, "-", "+")
        pipe.hgetall(keys.AUDIT_HASHES)
        pipe.hgetall(keys.AUDIT_STATE)
        pipe.xinfo_stream(keys.AUDIT_STREAM)
        pipe.time()
        entries, hashes, state, info, now = await pipe.execute(raise_on_error=False)
    for value in (entries, hashes, state, now):
        if isinstance(value, Exception):
            raise value
    added = info.get("entries-added") if isinstance(info, dict) else None
    if added is None and not entries:
        added = 0 if isinstance(info, Exception) else None  # no stream yet: nothing added
    return _Snapshot(entries, hashes, state, None if added is None else int(added),
                     int(now[0]) * 1000 + int(now[1]) // 1000)


def _segment_lines(audit_dir: Path) -> Iterator[tuple[str, int, str]]:
    for path in segments(audit_dir):
        try:
            f = path.open(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            continue  # removed by retention while we listed (its checkpoint is written first)
        with f:
            for n, line in enumerate(f, 1):
                if line.strip():
                    yield path.name, n, line


class _Walk:
    """The chain as it is walked: the last link, and the (seq, hash) pairs it must pass."""

    def __init__(self, key: bytes, audit_dir: Path) -> None:
        self.key = key
        self.audit_dir = audit_dir
        self.prev = audit.GENESIS_HASH
        self.seq = 0
        self.last_id: str | None = None
        self.first_seq: int | None = None
        self.checkpoints: dict[int, dict[str, Any]] = {}
        self.marks: dict[int, list[tuple[str, str, str]]] = {}  # seq -> (hash, where, what)

    def mark(self, seq: int, digest: str, where: str, what: str) -> None:
        self.marks.setdefault(seq, []).append((digest, where, what))

    def _start(self, sid: str, seq: int, row_prev: str | None, where: str) -> Break | None:
        """The oldest retained event follows GENESIS or a checkpoint written by the sealer."""
        try:
            self.checkpoints = files.read_checkpoints(self.audit_dir, self.key)
        except files.ForgedFile as bad:
            return Break(None, bad.where, "retention checkpoint not signed by the audit key "
                         "(forged or altered)")
        for cp in self.checkpoints.values():
            self.mark(cp["seq"], str(cp.get("hash")), files.CHECKPOINT_FILE,
                      f"the retention checkpoint names seq {cp['seq']} with another hash")
        if seq == 1:
            expected: str | None = audit.GENESIS_HASH
        else:
            cp = self.checkpoints.get(seq - 1)
            expected = str(cp.get("hash")) if cp else None
        if expected is None or (row_prev is not None and row_prev != expected):
            return Break(sid, where, f"the oldest retained event (seq {seq}) follows neither "
                         "GENESIS nor a retention checkpoint written by the sealer: earlier "
                         "events or segments were deleted")
        self.prev, self.seq, self.first_seq = expected, seq - 1, seq
        return None

    def step(self, sid: str, seq: int, row_prev: str | None, stored: str, text: str,
             flags: dict[str, Any], where: str) -> Break | None:
        if self.first_seq is None:
            started = self._start(sid, seq, row_prev, where)
            if started is not None:
                return started
        elif self.last_id is not None and id_key(sid) <= id_key(self.last_id):
            return Break(sid, where, "event out of order or duplicated")
        if seq <= self.seq:
            return Break(sid, where, f"sequence goes back (seq {seq} after {self.seq}): "
                         "reordered or duplicated")
        if seq != self.seq + 1:
            return Break(sid, where, f"{seq - self.seq - 1} sealed event(s) missing before "
                         f"this one (seq {self.seq} is followed by {seq})")
        if row_prev is not None and row_prev != self.prev:
            return Break(sid, where, "prev_hash does not match the previous event")
        computed = chain.chain_hash(self.key, self.prev, sid, seq, text, flags)
        if computed != stored:
            return Break(sid, where, "hash does not match the event (altered, or re-hashed "
                         "without the audit key)")
        for digest, mark_where, message in self.marks.get(seq, []):
            if digest != stored:
                return Break(sid, mark_where, message)
        if flags:
            return Break(sid, where, chain.describe(flags))
        self.prev, self.seq, self.last_id = computed, seq, sid
        return None


def _disk_row(line: str) -> tuple[str, int, str, str, str, dict[str, Any]]:
    row = json.loads(line)
    sid, seq, stored, row_prev = row["id"], row["seq"], row["hash"], row["prev_hash"]
    if not isinstance(seq, int) or not isinstance(sid, str):
        raise TypeError("seq/id")
    flags = {k: row[k] for k in chain.FLAGS if k in row}
    event = row["event"]
    text = audit.canonical(event)  # a broken event is stored as its raw string
    return sid, seq, row_prev, stored, text, flags


async def verify(r: aioredis.Redis, audit_dir: Path, key: bytes | None, *,
                 max_unsealed_age_s: float = 60, anchor: Anchor | None = None) -> VerifyReport:
    """Recompute the whole chain; the report's `first_break` names the first bad place."""
    rep = VerifyReport()
    head: dict[str, Any] | None = None
    head_error: str | None = None
    if key is not None:
        try:
            head = files.read_head(audit_dir, key)
        except files.ForgedFile:
            head_error = "head.json is not signed by the audit key (forged or altered)"
    snap = await _snapshot(r)
    rep.first_break = await _check(r, snap, audit_dir, key, rep, head, head_error, anchor)
    _unsealed_age(snap, rep, max_unsealed_age_s)
    return rep


async def _check(r: aioredis.Redis, snap: _Snapshot, audit_dir: Path, key: bytes | None,
                 rep: VerifyReport, head: dict[str, Any] | None, head_error: str | None,
                 anchor: Anchor | None) -> Break | None:
    state = snap.state
    sealed_to = state.get("last_id")
    if key is None:
        rep.unsealed = sum(1 for sid, _ in snap.entries
                           if not sealed_to or id_key(sid) > id_key(sealed_to))
        if state or snap.hashes or segments(audit_dir) or (audit_dir / files.HEAD_FILE).exists():
            return Break(None, keyfile.KEY_FILE, "the audit key is missing, so the chain "
                         "cannot be checked: restore audit.key to the data directory")
        return None
    kid = keyfile.key_id(key)
    if state.get("key_id") and state["key_id"] != kid:
        return Break(None, STATE_WHERE, f"the chain was sealed under another audit key (key_id "
                     f"{state['key_id']}; this data directory's key is {kid})")
    if head_error:
        return Break(None, files.HEAD_FILE, head_error)
    walk = _Walk(key, audit_dir)
    state_seq = int(state.get("seq") or 0)
    if sealed_to:
        walk.mark(state_seq, state.get("last_hash", ""), STATE_WHERE, f"the sealer's state "
                  f"names seq {state_seq} with another hash (rewritten)")
    if head is not None:
        walk.mark(head["seq"], head["hash"], files.HEAD_FILE, f"head.json names seq "
                  f"{head['seq']} with another hash (the chain was rewritten)")
    if anchor is not None:
        walk.mark(anchor.seq, anchor.hash, "anchor", f"the chain does not hold anchor {anchor}: "
                  f"its event at seq {anchor.seq} has another hash")
    anchor_id = state.get("anchor_id")
    anchor_seen = False
    for name, n, line in _segment_lines(audit_dir):
        if not rep.segments or rep.segments[-1] != name:
            rep.segments.append(name)
        where = f"{name}:{n}"
        try:
            sid, seq, row_prev, stored, text, flags = _disk_row(line)
        except (ValueError, KeyError, TypeError):
            return Break(None, where, "line is not a sealed audit event (JSON with id, seq, "
                         "prev_hash, hash, event)")
        broke = walk.step(sid, seq, row_prev, stored, text, flags, where)
        if broke is not None:
            return broke
        if sid == anchor_id:
            anchor_seen = True
            if stored != state.get("anchor_hash"):
                return Break(sid, where, "archive does not match the Redis anchor")
        rep.archived += 1
    if anchor_id and not anchor_seen and (
            walk.last_id is None or id_key(walk.last_id) < id_key(anchor_id)):
        return Break(anchor_id, "segments", "archived events up to the anchor are missing "
                     "from disk")
    disk_last = walk.last_id
    for sid, fields in snap.entries:
        if disk_last is not None and id_key(sid) <= id_key(disk_last):
            continue  # archived while we read; checked on disk
        meta = chain.parse_meta(snap.hashes.get(sid))
        if not sealed_to or id_key(sid) > id_key(sealed_to):
            if meta is not None:
                return Break(sid, STREAM_WHERE, f"the event has a sealed hash (seq "
                             f"{meta['seq']}) but lies after the sealer's state: the state "
                             "was rewound or deleted")
            rep.unsealed += 1
            continue
        if meta is None:
            return Break(sid, STREAM_WHERE, "sealed event has no stored hash")
        flags = {k: meta[k] for k in chain.FLAGS if k in meta}
        raw = fields.get(audit.EVENT_FIELD)
        broke = walk.step(sid, meta["seq"], None, str(meta["hash"]),
                          chain.event_text(raw, "broken" in flags), flags, STREAM_WHERE)
        if broke is not None:
            return broke
        rep.sealed_in_redis += 1
    rep.first_seq, rep.head_seq = walk.first_seq, walk.seq
    rep.head_hash = walk.prev if walk.seq else None
    if walk.first_seq is not None and walk.first_seq > 1:
        rep.notes.append(f"chain starts at seq {walk.first_seq} (older segments removed by "
                         "retention)")
    return (_check_state(snap, walk, head) or await _check_race(r, walk, state_seq)
            or _check_added(snap, rep, state_seq) or _check_anchor(walk, rep, anchor))


def _check_state(snap: _Snapshot, walk: _Walk, head: dict[str, Any] | None) -> Break | None:
    """The sealer's state and head copy must agree with the chain that was walked."""
    state, last = snap.state, walk.seq
    if not state.get("last_id"):
        if last or head is not None:
            held = max(last, head["seq"] if head else 0)
            return Break(None, STATE_WHERE, f"the sealer's state is missing (deleted?) while "
                         f"sealed events up to seq {held} exist")
        return None
    state_seq = int(state.get("seq") or 0)
    if state_seq > last:
        return Break(state["last_id"], STATE_WHERE, f"the sealer's state says seq {state_seq} "
                     f"but the chain ends at seq {last}: sealed events are missing")
    if head is None and last:
        return Break(None, files.HEAD_FILE, "the sealer's head copy is missing (deleted?)")
    if head is not None and head["seq"] > last:
        return Break(head["id"], files.HEAD_FILE, f"head.json says seq {head['seq']} but the "
                     f"chain ends at seq {last}: sealed events are missing or the sealer's "
                     "state was rewound")
    return None


async def _check_race(r: aioredis.Redis, walk: _Walk, state_seq: int) -> Break | None:
    """Disk beyond the snapshot's state: the sealer moved on while we read, or a rewind."""
    if walk.seq <= state_seq:
        return None
    fresh = int(await r.hget(keys.AUDIT_STATE, "seq") or 0)
    if fresh >= walk.seq:
        return None
    return Break(walk.last_id, STATE_WHERE, f"the sealer's state was rewound: it says seq "
                 f"{fresh} but the archive holds seq {walk.seq}")


def _check_added(snap: _Snapshot, rep: VerifyReport, state_seq: int) -> Break | None:
    """Every entry ever added to the stream is sealed, recorded lost, or waiting."""
    if snap.added is None:
        return None
    expected = state_seq + int(snap.state.get("lost") or 0) + rep.unsealed
    if snap.added > expected:
        return Break(None, STREAM_WHERE, f"{snap.added - expected} event(s) were removed from "
                     f"the stream before they were sealed (entries-added {snap.added}, sealed "
                     f"{state_seq}, waiting {rep.unsealed})")
    if snap.added < expected:
        return Break(None, STREAM_WHERE, f"the stream was recreated or its counter reset "
                     f"(entries-added {snap.added} < {expected} sealed and waiting)")
    return None


def _check_anchor(walk: _Walk, rep: VerifyReport, anchor: Anchor | None) -> Break | None:
    if anchor is None:
        return None
    if anchor.seq > walk.seq:
        return Break(None, "anchor", f"anchor {anchor} is beyond the chain's last sealed event "
                     f"(seq {walk.seq}): sealed events were removed or the chain rewound")
    if walk.first_seq is not None and anchor.seq >= walk.first_seq:
        rep.anchor = "found"
        return None
    cp = walk.checkpoints.get(anchor.seq)
    if cp is not None and cp.get("hash") != anchor.hash:
        return Break(cp.get("id"), files.CHECKPOINT_FILE, f"the retention checkpoint at seq "
                     f"{anchor.seq} does not match anchor {anchor}")
    rep.anchor = "older than retention"
    rep.notes.append(f"anchor seq {anchor.seq} is older than the retained chain (starts at "
                     f"seq {walk.first_seq}): removed by retention, cannot be checked")
    return None


def _unsealed_age(snap: _Snapshot, rep: VerifyReport, max_age_s: float) -> None:
    sealed_to = snap.state.get("last_id")
    for sid, _fields in snap.entries:
        if not sealed_to or id_key(sid) > id_key(sealed_to):
            age = max(0.0, (snap.now_ms - chain.stream_ms(sid)) / 1000)
            rep.oldest_unsealed_age_s = round(age, 3)
            rep.unsealed_too_old = age > max_age_s
            if rep.unsealed_too_old:
                rep.notes.append(f"the oldest unsealed event {sid} is {age:.0f} s old (over "
                                 f"{max_age_s:g} s): is the sealer running?")
            return


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
            meta = chain.parse_meta(snap.hashes.get(sid)) if sealed else None
            row: dict[str, Any] = {"id": sid, "event": audit.stored_event(fields),
                                   "seq": meta["seq"] if meta else None,
                                   "hash": meta["hash"] if meta else None}
            out.write(audit.canonical(row) + "\n")
            n += 1
    return n
