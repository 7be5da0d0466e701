"""Degraded mode (CONTRACTS.md): Redis unreachable → a clean pass is 200 degraded and not
stored; anything else is 503 store_unavailable carrying the decision; /readyz not ready."""

from __future__ import annotations

import os
import signal
import time

import pytest
from api_test_support import RedisProc, bearer


@pytest.fixture
def outage(tmp_path, settings_for, new_app_client):
    """An app on its own redis-server; yields (client, key, server)."""
    server = RedisProc(tmp_path / "redis").start()
    with new_app_client(settings_for(redis_url=server.url)) as c:
        key, _ = c.portal.call(lambda: c.app.state.app_state.apikeys.create("portal-d"))
        ok = c.post("/v1/moderate", headers=bearer(key),
                    json={"data_id": "warm", "channel": "comment", "content": "路灯坏了"})
        assert ok.status_code == 200  # the key is now known to this process
        yield c, key, server
    server.stop()


CASES = [
    # (channel, content, status, decision)
    ("comment", "小区路灯坏了，请尽快修理", 200, "pass"),
    ("comment", "出售冰毒，量大从优", 503, "block"),
    ("post", "身份证110101199003074514", 503, "review"),
]


def test_redis_down(outage):
    c, key, server = outage
    server.stop(kill=True)
    for i, (channel, content, status, decision) in enumerate(CASES):
        r = c.post("/v1/moderate", headers=bearer(key),
                   json={"data_id": f"d-{i}", "channel": channel, "content": content})
        assert r.status_code == status, r.text
        body = r.json()
        d = body if status == 200 else body["decision"]
        if status == 503:
            assert body["error"]["code"] == "store_unavailable"
        assert d["decision"] == decision and d["degraded"] is True
        assert "store" in d["degraded_stages"]
        assert d["status"] == "not_stored" and d["item_id"] is None
    ready = c.get("/readyz")
    assert ready.status_code == 503 and ready.json()["ready"] is False
    assert c.get("/healthz").status_code == 200
    assert "moderation_store_up 0" in c.get("/metrics").text
    got = c.get("/v1/items/warm", headers=bearer(key))
    assert got.status_code == 503 and got.json()["error"]["code"] == "store_unavailable"
    unknown = c.post("/v1/moderate", headers=bearer("pmk_" + "x" * 43),
                     json={"data_id": "u", "channel": "comment", "content": "路灯"})
    assert unknown.status_code == 503
    batch = c.post("/v1/moderate/batch", headers=bearer(key), json={"items": [
        {"data_id": f"bd-{i}", "channel": ch, "content": t} for i, (ch, t, _, _) in
        enumerate(CASES)]}).json()["results"]
    assert batch[0]["decision"] == "pass" and batch[0]["degraded"] is True
    assert [x.get("error", {}).get("code") for x in batch[1:]] == ["store_unavailable"] * 2
    assert batch[1]["decision"]["decision"] == "block"

    server.start()  # same port: the service recovers by itself
    r = c.post("/v1/moderate", headers=bearer(key),
               json={"data_id": "d-9", "channel": "comment", "content": "出售冰毒"})
    assert r.status_code == 200 and r.json()["status"] == "blocked"
    assert c.get("/readyz").status_code == 200


def test_hung_redis_answers_within_the_socket_timeout(outage):
    c, key, server = outage
    os.kill(server.proc.pid, signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        r = c.post("/v1/moderate", headers=bearer(key),
                   json={"data_id": "h-1", "channel": "comment", "content": "出售冰毒"})
        took = time.monotonic() - t0
    finally:
        os.kill(server.proc.pid, signal.SIGCONT)
    assert r.status_code == 503 and r.json()["decision"]["decision"] == "block"
    assert took < 2.0
