"""Redis out of memory (`maxmemory` reached, `noeviction`) is a store failure like an
unreachable Redis: the decision with 503 `store_full` (never a 500), login, logout and
admin calls 503 `store_full`, /readyz not ready with that reason, and the metrics say so.
A real redis-server of its own, its maxmemory set just above what it uses."""

from __future__ import annotations

import re
from collections import Counter

import pytest
import redis
from api_test_support import RedisProc, bearer

from api.store import keys
from api.store.statuses import Role

PASSWORD = "长城-correct-horse-1"
BLOCK = "出售冰毒，量大从优"


def metric(text: str, name: str) -> float:
    m = re.search(rf"^{re.escape(name)} (\S+)$", text, re.M)
    return float(m.group(1)) if m else 0.0


@pytest.fixture
def full(tmp_path, settings_for, new_app_client):
    """An app on its own redis-server with a known key and an admin session; yields
    (client, key, admin token, plain redis client)."""
    server = RedisProc(tmp_path / "redis").start()
    plain = redis.Redis(port=server.port, decode_responses=True)
    try:
        with new_app_client(settings_for(redis_url=server.url)) as c:
            st = c.app.state.app_state
            key, _ = c.portal.call(lambda: st.apikeys.create("portal-f"))
            c.portal.call(lambda: st.users.create("admin", Role.ADMIN, PASSWORD))
            admin = c.post("/v1/auth/login", json={"username": "admin", "password": PASSWORD})
            assert admin.status_code == 200
            warm = c.post("/v1/moderate", headers=bearer(key),
                          json={"data_id": "warm", "channel": "comment", "content": "路灯坏了"})
            assert warm.status_code == 200  # the key is now known to this process
            c.cookies.clear()
            yield c, key, admin.json()["token"], plain
    finally:
        plain.close()
        server.stop()


def fill(plain: redis.Redis) -> None:
    """maxmemory just above what Redis uses now: the next writes fill it."""
    used = int(plain.info("memory")["used_memory"])
    plain.config_set("maxmemory", used + 256 * 1024)


def test_thousands_of_requests_on_a_full_redis_give_decisions_never_500(full):
    c, key, _, plain = full
    before = c.get("/metrics").text
    fill(plain)
    statuses: Counter[tuple[int, str | None]] = Counter()
    stored, refused = [], []
    for i in range(2000):
        r = c.post("/v1/moderate", headers=bearer(key),
                   json={"data_id": f"oom-{i}", "channel": "comment", "content": BLOCK})
        body = r.json()
        code = body.get("error", {}).get("code")
        statuses[(r.status_code, code)] += 1
        if r.status_code == 503:
            assert code == "store_full", body
            d = body["decision"]
            assert d["decision"] == "block" and d["publish"] is False, d
            assert d["degraded"] is True and "store" in d["degraded_stages"]
            assert d["status"] == "not_stored" and d["item_id"] is None
            assert d["data_id"] == f"oom-{i}"
            refused.append(f"oom-{i}")
        else:
            assert r.status_code == 200 and body["status"] == "blocked", body
            stored.append(f"oom-{i}")
    assert set(statuses) <= {(200, None), (503, "store_full")}, statuses
    assert len(refused) >= 1000, statuses  # Redis filled up early
    # every item answered 200 is stored (nothing accepted is lost); no refused one is
    pipe = plain.pipeline(transaction=False)
    for data_id in stored + refused:
        pipe.exists(keys.item("portal-f", data_id))
    there = pipe.execute()
    assert there == [1] * len(stored) + [0] * len(refused)

    # a clean pass is answered like an unreachable Redis: 200, degraded, not stored
    ok = c.post("/v1/moderate", headers=bearer(key),
                json={"data_id": "oom-pass", "channel": "comment", "content": "路灯坏了"})
    assert ok.status_code == 200 and ok.json()["status"] == "not_stored"
    assert ok.json()["degraded"] is True
    # a batch: each item carries its decision and store_full
    batch = c.post("/v1/moderate/batch", headers=bearer(key), json={"items": [
        {"data_id": f"oom-b{i}", "channel": "post", "content": t} for i, t in
        enumerate([BLOCK, "身份证110101199003074514"])]})
    assert batch.status_code == 200, batch.text
    results = batch.json()["results"]
    assert [x["error"]["code"] for x in results] == ["store_full"] * 2
    assert [x["decision"]["decision"] for x in results] == ["block", "review"]
    # an unknown key is still refused (reading the key needs no memory)
    unknown = c.post("/v1/moderate", headers=bearer("pmk_" + "x" * 43),
                     json={"data_id": "u", "channel": "comment", "content": BLOCK})
    assert unknown.status_code == 401

    ready = c.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["ready"] is False and ready.json()["reason"] == "store_full"
    assert c.get("/healthz").status_code == 200
    after = c.get("/metrics").text
    assert metric(after, "moderation_store_up") == 0
    assert metric(after, "moderation_store_full_total") - metric(
        before, "moderation_store_full_total") >= len(refused) + 2 + 1

    plain.config_set("maxmemory", 0)  # the operator adds memory: served again, no restart
    assert c.get("/readyz").status_code == 200
    assert "moderation_store_up 1" in c.get("/metrics").text
    again = c.post("/v1/moderate", headers=bearer(key),
                   json={"data_id": refused[0], "channel": "comment", "content": BLOCK})
    assert again.status_code == 200 and again.json()["duplicate"] is False


@pytest.mark.parametrize("method, path, payload, as_admin", [
    ("POST", "/v1/auth/login", {"username": "admin", "password": PASSWORD}, False),
    ("POST", "/v1/auth/login", {"username": "admin", "password": "wrong-password"}, False),
    ("POST", "/v1/auth/logout", None, True),
    ("POST", "/v1/admin/users", {"username": "new.user", "role": "reviewer",
                                 "password": PASSWORD}, True),
    ("POST", "/v1/admin/apikeys", {"client": "portal-z"}, True),
])
def test_login_logout_and_admin_calls_are_503_store_full(full, method, path, payload,
                                                         as_admin):
    c, _, token, plain = full
    plain.config_set("maxmemory", 1)  # below what Redis uses: every write is refused
    headers = bearer(token) if as_admin else {}
    r = c.request(method, path, headers=headers, json=payload)
    assert r.status_code == 503, r.text
    assert r.json()["error"]["code"] == "store_full"
    plain.config_set("maxmemory", 0)
    assert c.get("/v1/admin/users", headers=bearer(token)).status_code == 200
