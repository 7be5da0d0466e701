"""The audit chain: events written with the change, sealed by one sealer, archived to
JSONL, verified; a one-byte edit of a stored event (on disk or in Redis) is caught."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from api_test_support import bearer

from api import audit
from api.audit.sealer import Sealer, segments
from api.audit.verify import export, verify
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


def seal(call, state, audit_dir: Path, tail_keep: int) -> int:
    sealer = Sealer(state.redis, audit_dir, tail_keep=tail_keep)

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


def test_unsealed_events_are_counted_not_broken(call, state, traffic, tmp_path):
    rep = call(verify, state.redis, tmp_path)
    assert rep.ok and rep.unsealed == traffic and rep.sealed_in_redis == 0


@pytest.mark.parametrize("tail_keep", [0, 4, 10_000])
def test_sealed_chain_verifies_across_disk_and_redis(call, state, traffic, tmp_path, rdb,
                                                     tail_keep):
    assert seal(call, state, tmp_path, tail_keep) == traffic
    rep = call(verify, state.redis, tmp_path)
    assert rep.ok, rep.first_break
    assert rep.archived == max(0, traffic - tail_keep)
    assert rep.sealed_in_redis == min(traffic, tail_keep) and rep.unsealed == 0
    assert rdb.xlen(keys.AUDIT_STREAM) == min(traffic, tail_keep)
    # the chain continues over later events and passes
    assert seal(call, state, tmp_path, tail_keep) == 0
    out = tmp_path / "export.jsonl"
    assert call(export, state.redis, tmp_path, out) == traffic
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["event"]["action"] for r in rows][:3] == ["apikey.created", "item.created",
                                                        "item.decided"]


def test_one_byte_edit_on_disk_is_named(call, state, traffic, tmp_path):
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


def test_deleted_line_on_disk_is_named(call, state, traffic, tmp_path):
    seal(call, state, tmp_path, tail_keep=0)
    (seg,) = segments(tmp_path)
    lines = seg.read_text().splitlines()
    after = json.loads(lines[4])["id"]
    del lines[3]
    seg.write_text("\n".join(lines) + "\n")
    rep = call(verify, state.redis, tmp_path)
    assert not rep.ok and rep.first_break.id == after


def test_one_byte_edit_in_redis_tail_is_named(call, state, traffic, tmp_path, rdb):
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


def test_removed_last_sealed_event_is_caught(call, state, traffic, tmp_path, rdb):
    seal(call, state, tmp_path, tail_keep=10_000)
    last = rdb.xrange(keys.AUDIT_STREAM)[-1][0]
    rdb.xdel(keys.AUDIT_STREAM, last)
    rep = call(verify, state.redis, tmp_path)
    assert not rep.ok


def test_only_one_sealer_holds_the_lock(call, state, traffic, tmp_path):
    a = Sealer(state.redis, tmp_path)
    b = Sealer(state.redis, tmp_path)
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
        deadline = time.monotonic() + 10
        while True:
            rep = c.portal.call(verify, c.app.state.app_state.redis, tmp_path)
            if rep.unsealed == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
    assert rep.ok and rep.unsealed == 0
    assert rep.archived == 11 - 3 and rep.sealed_in_redis == 3


def test_retention_removes_old_segments_but_never_the_newest(tmp_path, state):
    for day in ("20200101", "20200102", "20991231"):
        (tmp_path / f"segment-{day}.jsonl").write_text("{}\n")
    sealer = Sealer(state.redis, tmp_path, retention_days=180)
    sealer._apply_retention()
    assert [p.name for p in segments(tmp_path)] == ["segment-20991231.jsonl"]
    only = tmp_path / "only"
    only.mkdir()
    (only / "segment-20200101.jsonl").write_text("{}\n")
    Sealer(state.redis, only, retention_days=180)._apply_retention()
    assert [p.name for p in segments(only)] == ["segment-20200101.jsonl"]


def test_one_pass_seals_and_archives_a_backlog(call, state, rdb, tmp_path):
    pipe = rdb.pipeline(transaction=False)
    for i in range(1_234):
        pipe.xadd(keys.AUDIT_STREAM, {"e": audit.event_json("machine", "system", "item.decided",
                                                            f"it_{i}", None)})
    pipe.execute()
    assert seal(call, state, tmp_path, tail_keep=100) == 1_234
    rep = call(verify, state.redis, tmp_path)
    assert rep.ok and (rep.archived, rep.sealed_in_redis) == (1_134, 100)
    assert rdb.xlen(keys.AUDIT_STREAM) == 100 and rdb.hlen(keys.AUDIT_HASHES) == 100
