"""The audit chain: events written with the change, sealed by one sealer under the audit
key, archived to JSONL, verified; a one-byte edit of a stored event (on disk or in Redis) is
caught. The tamper cases of hardening point 7 are in test_api_audit_tamper.py."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from api_test_support import bearer

from api import audit
from api.audit import files, keyfile
from api.audit.sealer import Sealer, segments
from api.audit.verify import export
from api.audit.verify import verify as verify_with_key
from api.store import keys

TEXTS = ["出售冰毒", "小区路灯坏了", "身份证110101199003074514", "代开发票", "我要投诉拆迁办"]


@pytest.fixture
def traffic(client, api_key):
    """Five items = one apikey.created event + two events per item."""
    for i, text in enumerate(TEXTS):
        r = client.post("/v1/moderate", headers=bearer(api_key),
                        json={"data_id": f"a-{i}", "channel": "comment", "content": text})
        assert r.status_code == 200
    return len(TEXTS) * 2 + 1


@pytest.fixture
def key(tmp_path_factory) -> bytes:
    """A fresh audit key per test, kept outside the audit directory (like the data dir)."""
    return keyfile.load_or_create(tmp_path_factory.mktemp("keys") / keyfile.KEY_FILE)


@pytest.fixture
def verify(key):
    """`verify` with the test's key."""
    return lambda r, audit_dir, **kw: verify_with_key(r, audit_dir, key, **kw)


@pytest.fixture
def seal(key):
    def run(call, state, audit_dir: Path, tail_keep: int) -> int:
        return seal_with(call, state, audit_dir, tail_keep, key)

    return run


def seal_with(call, state, audit_dir: Path, tail_keep: int, key: bytes) -> int:
    # Retention far away: a test's segments renamed to old days stay until it applies it.
    sealer = Sealer(state.redis, audit_dir, key, tail_keep=tail_keep, retention_days=10**5)

    async def once() -> int:
        n = await sealer.run_once()
        await sealer.release()
        return n

    return call(once)


def test_events_hold_digests_not_text(client, traffic, rdb):
    raw = [e[1]["e"] for e in rdb.xrange(keys.AUDIT_STREAM)]
    assert len(raw) == traffic
    joined = "".join(raw)
    for text in TEXTS:
        assert text not in joined
    assert "110101199003074514" not in joined
    created = [json.loads(e) for e in raw if '"item.created"' in e][0]
    assert created["details"]["content_sha256"] == audit.digest(TEXTS[0])
    assert created["actor"] == "client:portal-a" and created["versions"]["lexicon_hash"]
    assert all("hash" not in json.loads(e) for e in raw)  # the sealer chains them


def test_unsealed_events_are_counted_not_broken(call, state, traffic, tmp_path, verify):
    rep = call(verify, state.redis, tmp_path)
    assert rep.ok and rep.unsealed == traffic and rep.sealed_in_redis == 0
    assert 0 <= rep.oldest_unsealed_age_s < 30 and not rep.unsealed_too_old


@pytest.mark.parametrize("tail_keep", [0, 4, 10_000])
def test_sealed_chain_verifies_across_disk_and_redis(call, state, traffic, tmp_path, rdb,
                                                     tail_keep, seal, verify):
    assert seal(call, state, tmp_path, tail_keep) == traffic
    rep = call(verify, state.redis, tmp_path)
    assert rep.ok, rep.first_break
    assert rep.archived == max(0, traffic - tail_keep)
    assert rep.sealed_in_redis == min(traffic, tail_keep) and rep.unsealed == 0
    assert rep.head_seq == traffic and rep.first_seq == 1
    assert rdb.xlen(keys.AUDIT_STREAM) == min(traffic, tail_keep)
    # the chain continues over later events and passes
    assert seal(call, state, tmp_path, tail_keep) == 0
    out = tmp_path / "export.jsonl"
    assert call(export, state.redis, tmp_path, out) == traffic
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["event"]["action"] for r in rows][:3] == ["apikey.created", "item.created",
                                                        "item.decided"]
    assert [r["seq"] for r in rows] == list(range(1, traffic + 1))


def test_one_byte_edit_on_disk_is_named(call, state, traffic, tmp_path, seal, verify):
    seal(call, state, tmp_path, tail_keep=0)
    (seg,) = segments(tmp_path)
    lines = seg.read_text().splitlines()
    victim = json.loads(lines[5])
    lines[5] = lines[5].replace('"item.decided"', '"item.decidex"', 1).replace(
        '"item.created"', '"item.createx"', 1)
    assert lines[5] != json.dumps(victim)
    seg.write_text("\n".join(lines) + "\n")
    rep = call(verify, state.redis, tmp_path)
    assert not rep.ok
    assert rep.first_break.id == victim["id"] and "altered" in rep.first_break.reason
    assert rep.first_break.where.endswith(":6")


def test_deleted_line_on_disk_is_named(call, state, traffic, tmp_path, seal, verify):
    seal(call, state, tmp_path, tail_keep=0)
    (seg,) = segments(tmp_path)
    lines = seg.read_text().splitlines()
    after = json.loads(lines[4])["id"]
    del lines[3]
    seg.write_text("\n".join(lines) + "\n")
    rep = call(verify, state.redis, tmp_path)
    assert not rep.ok and rep.first_break.id == after and "missing" in rep.first_break.reason


def test_one_byte_edit_in_redis_tail_is_named(call, state, traffic, tmp_path, rdb, seal,
                                              verify):
    seal(call, state, tmp_path, tail_keep=10_000)
    entries = rdb.xrange(keys.AUDIT_STREAM)
    victim_id = entries[4][0]
    rdb.delete(keys.AUDIT_STREAM)  # a stream entry cannot be edited in place: rebuild it
    for sid, fields in entries:
        e = fields["e"]
        if sid == victim_id:
            i = e.index('"role":"') + len('"role":"')
            e = e[:i] + chr(ord(e[i]) ^ 1) + e[i + 1:]
        rdb.xadd(keys.AUDIT_STREAM, {"e": e}, id=sid)
    rep = call(verify, state.redis, tmp_path)
    assert not rep.ok and rep.first_break.id == victim_id


def test_removed_last_sealed_event_is_caught(call, state, traffic, tmp_path, rdb, seal,
                                             verify):
    seal(call, state, tmp_path, tail_keep=10_000)
    last = rdb.xrange(keys.AUDIT_STREAM)[-1][0]
    rdb.xdel(keys.AUDIT_STREAM, last)
    rep = call(verify, state.redis, tmp_path)
    assert not rep.ok


def test_only_one_sealer_holds_the_lock(call, state, traffic, tmp_path, key):
    a = Sealer(state.redis, tmp_path, key)
    b = Sealer(state.redis, tmp_path, key)
    assert call(a.lock.acquire) and not call(b.lock.acquire)
    assert call(b.run_once) == 0
    call(a.release)
    assert call(b.run_once) == traffic


def test_background_sealer_seals_within_a_second(settings_for, moderator, rdb, tmp_path,
                                                 new_app_client):
    settings = settings_for(sealer_enabled=True, sealer_interval_s=0.2, audit_dir=tmp_path,
                            audit_redis_tail=3)
    with new_app_client(settings) as c:
        key, _ = c.portal.call(lambda: c.app.state.app_state.apikeys.create("portal-s"))
        for i, text in enumerate(TEXTS):
            c.post("/v1/moderate", headers=bearer(key),
                   json={"data_id": f"s-{i}", "channel": "comment", "content": text})
        key = keyfile.load(settings.audit_key_path)  # created by the service at start
        assert key is not None and settings.audit_key_path.stat().st_mode & 0o777 == 0o600
        deadline = time.monotonic() + 10
        while True:
            rep = c.portal.call(verify_with_key, c.app.state.app_state.redis, tmp_path, key)
            if rep.unsealed == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
    assert rep.ok and rep.unsealed == 0
    assert rep.archived == 11 - 3 and rep.sealed_in_redis == 3


def add_events(rdb, n: int) -> None:
    for i in range(n):
        audit.append(rdb, "machine", "system", "item.decided", f"it_{i}", None)


def test_retention_removes_old_segments_but_never_the_newest(call, state, rdb, tmp_path, key,
                                                            verify):
    for day in ("20200101", "20200102", None):
        add_events(rdb, 3)
        assert seal_with(call, state, tmp_path, 0, key) == 3
        if day:
            segments(tmp_path)[-1].rename(tmp_path / f"segment-{day}.jsonl")
    assert len(segments(tmp_path)) == 3
    Sealer(state.redis, tmp_path, key, retention_days=180)._apply_retention()
    assert [p.name for p in segments(tmp_path)] == [segments(tmp_path)[-1].name]
    assert "2020" not in segments(tmp_path)[0].name
    # the retained chain starts after the signed checkpoint the sealer wrote
    (cp,) = files.read_checkpoints(tmp_path, key).values()
    assert cp["seq"] == 6 and len(cp["removed"]) == 2
    rep = call(verify, state.redis, tmp_path)
    assert rep.ok, rep.first_break
    assert rep.first_seq == 7 and rep.archived == 3 and "seq 7" in rep.notes[0]
    only = tmp_path / "only"
    add_events(rdb, 2)
    assert seal_with(call, state, only, 0, key) == 2
    segments(only)[0].rename(only / "segment-20200101.jsonl")
    Sealer(state.redis, only, key, retention_days=180)._apply_retention()
    assert [p.name for p in segments(only)] == ["segment-20200101.jsonl"]


def test_one_pass_seals_and_archives_a_backlog(call, state, rdb, tmp_path, seal, verify):
    pipe = rdb.pipeline(transaction=False)
    for i in range(1_234):
        pipe.xadd(keys.AUDIT_STREAM, {"e": audit.event_json("machine", "system", "item.decided",
                                                            f"it_{i}", None)})
    pipe.execute()
    assert seal(call, state, tmp_path, tail_keep=100) == 1_234
    rep = call(verify, state.redis, tmp_path)
    assert rep.ok and (rep.archived, rep.sealed_in_redis) == (1_134, 100)
    assert rdb.xlen(keys.AUDIT_STREAM) == 100 and rdb.hlen(keys.AUDIT_HASHES) == 100
