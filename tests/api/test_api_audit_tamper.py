"""Hardening point 7: every way of tampering with the audit log that `audit verify` used to
pass now fails it (exit 1) with the place named, checked through the real CLI against the
session redis-server. Events are written as the service writes them (`audit.append`), and
sealed by a real `Sealer` under the data directory's key, as the service does."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from pathlib import Path

import pytest
import redis
import redis.asyncio as aioredis
from api_test_support import cli

from api import audit
from api.audit import chain, files, keyfile
from api.audit.sealer import Sealer, segments
from api.store import keys


class Deployment:
    """One data directory (key, audit archive) on the test Redis, driven like the service."""

    def __init__(self, url: str, rdb: redis.Redis, data: Path) -> None:
        self.url, self.rdb, self.data = url, rdb, data
        self.audit_dir = data / "audit"
        self.key = keyfile.load_or_create(data / keyfile.KEY_FILE)

    def add(self, n: int, action: str = "item.decided") -> None:
        for i in range(n):
            audit.append(self.rdb, "machine", "system", action, f"it_{i}", None)

    def seal(self, tail_keep: int = 10_000) -> int:
        async def go() -> int:
            r = aioredis.from_url(self.url, decode_responses=True)
            # Retention far away: segments a test renamed to old days stay until it applies it.
            sealer = Sealer(r, self.audit_dir, self.key, tail_keep=tail_keep,
                            retention_days=10**5)
            try:
                return await sealer.run_once()
            finally:
                await sealer.release()
                await r.aclose()

        return asyncio.run(go())

    def audit(self, *args: str) -> tuple[int, str, str]:
        proc = cli("audit", *args, "--data-dir", str(self.data), env={"REDIS_URL": self.url})
        return proc.returncode, proc.stdout, proc.stderr

    def verify(self, *args: str) -> tuple[int, dict, str]:
        rc, out, err = self.audit("verify", *args)
        return rc, (json.loads(out) if out.strip() else {}), err

    def tail(self) -> list[tuple[str, dict, dict]]:
        """(stream id, fields, sealed meta) of the events in Redis."""
        metas = self.rdb.hgetall(keys.AUDIT_HASHES)
        return [(sid, f, json.loads(metas[sid]) if sid in metas else {})
                for sid, f in self.rdb.xrange(keys.AUDIT_STREAM)]

    def drop(self, sid: str) -> None:
        """Remove an event from Redis as someone with write access would."""
        self.rdb.xdel(keys.AUDIT_STREAM, sid)
        self.rdb.hdel(keys.AUDIT_HASHES, sid)


@pytest.fixture
def dep(redis_server, rdb, tmp_path) -> Deployment:
    return Deployment(redis_server.url, rdb, tmp_path / "data")


def broken(dep: Deployment, *args: str) -> tuple[dict, str]:
    rc, report, err = dep.verify(*args)
    assert rc == 1, (report, err)
    assert report.get("ok") is False and "audit chain broken" in err
    return report["first_break"], err


def test_happy_path_and_anchor_round_trip(dep, redis_server):
    env = {"REDIS_URL": redis_server.url}
    for name in ("portal-x", "portal-y"):  # real audited actions
        assert cli("apikey", "create", name, "--data-dir", str(dep.data), env=env).returncode == 0
    assert cli("audit", "seal", "--data-dir", str(dep.data), env=env).returncode == 0
    key_file = dep.data / keyfile.KEY_FILE
    assert key_file.stat().st_mode & 0o777 == 0o600 and key_file.read_text().strip()
    rc, report, err = dep.verify()
    assert rc == 0 and report["ok"] and report["head_seq"] == 2, err
    rc, out, err = dep.audit("anchor")
    assert rc == 0, err
    anchor = out.strip()
    assert anchor == f"2:{report['head_hash']}" and "record" in err
    dep.add(3)
    assert dep.seal(tail_keep=1) == 3  # 4 archived, 1 in Redis
    rc, report, err = dep.verify("--anchor", anchor)
    assert rc == 0 and report["anchor"] == "found" and report["archived"] == 4, err
    rc, out, _ = dep.audit("anchor")
    assert out.startswith("5:")
    rc, _, err = dep.verify("--anchor", "2:xyz")
    assert rc == 2 and "SEQ:HASH" in err
    assert keyfile.load(key_file) == dep.key  # created once, never replaced


def test_delete_first_unsealed_events_in_redis(dep):
    dep.add(6)
    first = dep.tail()
    for sid, _f, _m in first[:2]:
        dep.drop(sid)
    brk, _ = broken(dep)  # before the sealer: the stream's counter says 2 are gone
    assert brk["where"] == f"redis {keys.AUDIT_STREAM}" and "2 event(s)" in brk["reason"]
    assert dep.seal() == 4
    brk, err = broken(dep)  # after: the sealer sealed the loss into the chain
    assert brk["id"] == first[2][0] and "removed from the stream before" in brk["reason"]
    assert first[2][0] in err


def test_delete_first_sealed_events_in_redis_before_archiving(dep):
    dep.add(6)
    assert dep.seal() == 6
    tail = dep.tail()
    for sid, _f, _m in tail[:2]:
        dep.drop(sid)
    # what the old scheme trusted: the anchor hash in Redis, set to the last deleted event's
    dep.rdb.hset(keys.AUDIT_STATE, "anchor_hash", tail[1][2]["hash"])
    brk, _ = broken(dep)
    assert brk["id"] == tail[2][0] and brk["where"] == f"redis {keys.AUDIT_STREAM}"
    assert "oldest retained event (seq 3)" in brk["reason"]


def test_delete_first_segment_file(dep):
    dep.add(3)
    dep.seal(tail_keep=0)
    segments(dep.audit_dir)[0].rename(dep.audit_dir / "segment-20200101.jsonl")
    dep.add(3)
    dep.seal(tail_keep=0)
    first, second = segments(dep.audit_dir)
    assert dep.verify()[0] == 0
    first.unlink()
    brk, _ = broken(dep)
    assert brk["where"] == f"{second.name}:1" and "retention checkpoint" in brk["reason"]
    # a checkpoint not signed with the key does not help
    (dep.audit_dir / files.CHECKPOINT_FILE).write_text(json.dumps(
        {"id": "0-1", "seq": 3, "hash": json.loads(second.read_text().splitlines()[0])[
            "prev_hash"], "mac": "0" * 64}) + "\n")
    brk, _ = broken(dep)
    assert brk["where"] == f"{files.CHECKPOINT_FILE}:1" and "not signed" in brk["reason"]


def test_delete_the_state_key(dep):
    dep.add(4)
    dep.seal()
    dep.rdb.delete(keys.AUDIT_STATE)
    brk, _ = broken(dep)
    assert brk["where"] == f"redis {keys.AUDIT_STATE}" or "after the sealer's state" in \
        brk["reason"]
    assert "deleted" in brk["reason"]
    dep.add(1)  # the sealer restores its state from head.json but seals the fact in
    assert dep.seal() == 1
    brk, _ = broken(dep)
    assert brk["id"] == dep.tail()[-1][0] and "missing (deleted?)" in brk["reason"]


def test_rewind_the_state(dep):
    dep.add(5)
    dep.seal()
    dep.add(3)
    dep.seal()
    tail = dep.tail()
    sid5, _f, meta5 = tail[4]
    for sid, _f, _m in tail[5:]:  # hide the last three sealed events and rewind the state
        dep.drop(sid)
    dep.rdb.hset(keys.AUDIT_STATE, mapping={"last_id": sid5, "last_hash": meta5["hash"],
                                            "seq": 5})
    brk, _ = broken(dep)
    assert brk["where"] == files.HEAD_FILE and "seq 8" in brk["reason"]
    # the state alone moved back (events kept): named at the first event beyond it
    dep.rdb.flushall()
    for p in dep.audit_dir.iterdir():
        p.unlink()
    dep.add(5)
    dep.seal()
    sid2, _f, meta2 = dep.tail()[1]
    dep.rdb.hset(keys.AUDIT_STATE, mapping={"last_id": sid2, "last_hash": meta2["hash"],
                                            "seq": 2})
    brk, _ = broken(dep)
    assert brk["id"] == dep.tail()[2][0] and "rewound" in brk["reason"]
    dep.add(1)
    assert dep.seal() == 1  # restored from head.json, and the rewind is sealed in
    brk, _ = broken(dep)
    assert brk["id"] == dep.tail()[-1][0] and "rewound to seq 2" in brk["reason"]


def rebuild_stream(dep: Deployment, edit) -> None:
    """A stream entry cannot be edited in place: recreate the stream with the same ids."""
    entries = dep.rdb.xrange(keys.AUDIT_STREAM)
    dep.rdb.delete(keys.AUDIT_STREAM)
    for sid, fields in entries:
        dep.rdb.xadd(keys.AUDIT_STREAM, {"e": edit(sid, fields["e"])}, id=sid)


@pytest.mark.parametrize(("edit", "reason"), [
    (lambda e: e.replace('"actor":"machine"', '"actor": "nobody"'), "not canonical"),
    (lambda e: audit.canonical({**json.loads(e), "note": "x"}), "fields differ"),
    (lambda e: audit.canonical({**json.loads(e), "role": 7}), "must be strings"),
    (lambda e: audit.canonical({**json.loads(e), "ts": "2019-01-01T00:00:00.000Z"}),
     "older than its stream id"),
    (lambda e: e[:20], "not JSON"),
])
def test_edit_an_unsealed_event_then_seal(dep, edit, reason):
    dep.add(4)
    victim = dep.rdb.xrange(keys.AUDIT_STREAM)[2][0]
    rebuild_stream(dep, lambda sid, e: edit(e) if sid == victim else e)
    assert dep.seal() == 4
    brk, err = broken(dep)
    assert brk["id"] == victim and brk["where"] == f"redis {keys.AUDIT_STREAM}"
    assert reason in brk["reason"] and "edited before sealing" in brk["reason"]
    dep.seal(tail_keep=0)  # and the same on disk once archived
    brk, _ = broken(dep)
    assert brk["id"] == victim and brk["where"].endswith(".jsonl:3")


def test_well_formed_edit_of_an_unsealed_event_is_caught_by_the_stream_counter(dep):
    """Recreating the stream to edit an event resets its counter of entries ever added
    below what the sealer has sealed (once events were archived, as in any running
    service). A well-formed edit inside the ≤ 1 s sealing window is the one thing no check
    here can see; that is why events are sealed within a second."""
    dep.add(3)
    dep.seal(tail_keep=0)
    dep.add(2)
    victim = dep.rdb.xrange(keys.AUDIT_STREAM)[-1][0]
    rebuild_stream(dep, lambda sid, e: e.replace('"it_1"', '"it_9"') if sid == victim else e)
    dep.seal()
    brk, _ = broken(dep)
    assert brk["where"] == f"redis {keys.AUDIT_STREAM}" and "recreated" in brk["reason"]


def test_unsealed_events_older_than_a_minute_fail(dep):
    old_ms = int(time.time() * 1000) - 120_000
    dep.rdb.xadd(keys.AUDIT_STREAM, {"e": audit.event_json("machine", "system", "x", None)},
                 id=f"{old_ms}-0")
    rc, report, err = dep.verify()
    assert rc == 1 and report["unsealed_too_old"] and report["oldest_unsealed_age_s"] >= 119
    assert f"{old_ms}-0" in err and "sealer running" in err


def rehash(dep: Deployment, digest) -> None:
    """Rewrite the whole chain (disk, Redis tail, state) with another hash function, after
    editing the first event, as someone with write access to Redis and the disk could."""
    prev, seq = audit.GENESIS_HASH, 0
    for path in segments(dep.audit_dir):
        rows = [json.loads(x) for x in path.read_text().splitlines()]
        for row in rows:
            if row["seq"] == 1:
                row["event"]["target"] = "forged"
            seq = row["seq"]
            row["prev_hash"] = prev
            row["hash"] = prev = digest(prev, chain.body(row["id"], seq,
                                                         audit.canonical(row["event"])))
        path.write_text("".join(audit.canonical(r) + "\n" for r in rows))
    for sid, fields, meta in dep.tail():
        seq = meta["seq"]
        prev = digest(prev, chain.body(sid, seq, fields["e"]))
        dep.rdb.hset(keys.AUDIT_HASHES, sid, audit.canonical({"hash": prev, "seq": seq}))
    dep.rdb.hset(keys.AUDIT_STATE, mapping={"last_hash": prev})


def _sha256(prev: str, body: str) -> str:
    return hashlib.sha256((prev + body).encode()).hexdigest()


WRONG_KEY = b"k" * 32


def _wrong_key(prev: str, body: str) -> str:
    import hmac

    return hmac.new(WRONG_KEY, (prev + body).encode(), hashlib.sha256).hexdigest()


@pytest.mark.parametrize("digest", [_sha256, _wrong_key], ids=["plain-sha256", "wrong-key"])
def test_rewrite_and_rehash_the_whole_chain(dep, digest):
    dep.add(6)
    dep.seal(tail_keep=3)
    first = json.loads(segments(dep.audit_dir)[0].read_text().splitlines()[0])["id"]
    rehash(dep, digest)
    brk, _ = broken(dep)
    assert brk["id"] == first and brk["where"].endswith(".jsonl:1")
    assert "without the audit key" in brk["reason"]
    # claiming the wrong key in the state is named as such
    dep.rdb.hset(keys.AUDIT_STATE, "key_id", keyfile.key_id(WRONG_KEY))
    brk, _ = broken(dep)
    assert brk["where"] == f"redis {keys.AUDIT_STATE}" and "another audit key" in brk["reason"]


def test_delete_a_sealed_event_in_the_middle(dep):
    dep.add(6)
    dep.seal()
    tail = dep.tail()
    dep.drop(tail[2][0])  # and re-link the rest as the old scheme allowed
    prev = tail[1][2]["hash"]
    for sid, fields, meta in tail[3:]:
        prev = _sha256(prev, chain.body(sid, meta["seq"], fields["e"]))
        dep.rdb.hset(keys.AUDIT_HASHES, sid, audit.canonical({"hash": prev, "seq": meta["seq"]}))
    dep.rdb.hset(keys.AUDIT_STATE, "last_hash", prev)
    brk, _ = broken(dep)
    assert brk["id"] == tail[3][0] and "1 sealed event(s) missing" in brk["reason"]
    # on disk too
    dep.seal(tail_keep=0)
    seg = segments(dep.audit_dir)[0]
    lines = seg.read_text().splitlines()
    assert len(lines) == 5
    del lines[1]
    seg.write_text("\n".join(lines) + "\n")
    brk, _ = broken(dep)
    assert brk["where"] == f"{seg.name}:2" and "missing" in brk["reason"]


def test_anchor_mismatch_and_full_rewind_with_an_old_head(dep):
    dep.add(4)
    dep.seal()
    old_head = (dep.audit_dir / files.HEAD_FILE).read_text()  # an attacker keeps a copy
    dep.add(2)
    dep.seal()
    rc, out, _ = dep.audit("anchor")
    assert rc == 0
    anchor = out.strip()
    seq, digest = anchor.split(":")
    wrong = f"{seq}:{'0' * 64}"
    brk, err = broken(dep, "--anchor", wrong)
    assert brk["where"] == "anchor" and wrong in brk["reason"] and "another hash" in err
    # roll everything back to seq 4 consistently: events, state, stream counter, head.json
    tail = dep.tail()
    for sid, _f, _m in tail[4:]:
        dep.drop(sid)
    sid4, _f, meta4 = tail[3]
    dep.rdb.hset(keys.AUDIT_STATE, mapping={"last_id": sid4, "last_hash": meta4["hash"],
                                            "seq": 4})
    dep.rdb.execute_command("XSETID", keys.AUDIT_STREAM, tail[-1][0], "ENTRIESADDED", 4)
    (dep.audit_dir / files.HEAD_FILE).write_text(old_head)
    assert dep.verify()[0] == 0  # nothing on this host can tell...
    brk, _ = broken(dep, "--anchor", anchor)  # ...but the anchor recorded elsewhere can
    assert brk["where"] == "anchor" and "beyond the chain's last sealed event" in brk["reason"]


def test_anchor_older_than_retention_is_reported_as_such(dep):
    dep.add(3)
    dep.seal(tail_keep=0)
    anchor = dep.audit("anchor")[1].strip()
    segments(dep.audit_dir)[0].rename(dep.audit_dir / "segment-20200101.jsonl")
    dep.add(3)
    dep.seal(tail_keep=0)

    async def retention() -> None:
        r = aioredis.from_url(dep.url, decode_responses=True)
        Sealer(r, dep.audit_dir, dep.key, retention_days=1)._apply_retention()
        await r.aclose()

    asyncio.run(retention())
    rc, report, err = dep.verify("--anchor", anchor)
    assert rc == 0 and report["anchor"] == "older than retention", err
    assert "older than the retained chain" in err
    brk, _ = broken(dep, "--anchor", anchor.split(":")[0] + ":" + "f" * 64)
    assert brk["where"] == files.CHECKPOINT_FILE


def test_verify_without_the_key_fails_naming_it(dep):
    dep.add(2)
    dep.seal()
    (dep.data / keyfile.KEY_FILE).unlink()
    brk, _ = broken(dep)
    assert brk["where"] == keyfile.KEY_FILE and "missing" in brk["reason"]
