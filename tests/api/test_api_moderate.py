"""POST /v1/moderate end to end against the real Redis fixture: decisions, items,
idempotency on data_id, publication per channel."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from api_test_support import bearer

from api.store import keys

CASES = [
    # (channel, content, decision, status, publish)
    ("comment", "小区门口的路灯坏了好几天，希望有关部门尽快修理。", "pass", "passed", True),
    ("comment", "我要投诉拆迁办，补偿款三年没有到位，强烈要求上访。", "pass", "passed", True),
    ("comment", "出售冰毒，量大从优", "block", "blocked", False),
    ("post", "代开发票，各种普票专票", "block", "blocked", False),
    ("comment", "我的身份证号是110101199003074514，请帮我查询", "review", "pending", True),
    ("post", "我的身份证号是110101199003074514，请帮我查询", "review", "pending", False),
]


@pytest.mark.parametrize(("channel", "content", "decision", "status", "publish"), CASES)
def test_decision_is_stored_as_item(client, api_key, rdb, channel, content, decision, status,
                                    publish):
    r = client.post("/v1/moderate", headers=bearer(api_key),
                    json={"data_id": "d-1", "channel": channel, "content": content})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["decision"], body["status"], body["publish"]) == (decision, status, publish)
    assert body["item_id"].startswith("it_") and body["request_id"]
    assert body["duplicate"] is False and body["degraded"] is False
    stored = rdb.hgetall(keys.item("portal-a", "d-1"))
    assert stored["status"] == status and stored["item_id"] == body["item_id"]
    assert json.loads(stored["request"])["content"] == content
    pending = rdb.zrange(keys.review_queue(channel), 0, -1)
    assert pending == ([body["item_id"]] if status == "pending" else [])
    ttl = rdb.ttl(keys.item("portal-a", "d-1"))
    assert (ttl == -1) if status == "pending" else (29 * 86400 < ttl <= 30 * 86400)


def test_pii_is_masked_in_the_answer(client, api_key):
    r = client.post("/v1/moderate", headers=bearer(api_key), json={
        "data_id": "pii-1", "channel": "comment", "title": "联系我",
        "content": "有事打我电话13912345678"})
    body = r.json()
    assert body["masked_text"] == "有事打我电话139****5678"
    assert [(p["type"], p["start"], p["end"]) for p in body["pii"]] == [("mobile", 6, 17)]


def test_same_data_id_same_content_returns_the_stored_decision(client, api_key, rdb):
    req = {"data_id": "same-1", "channel": "comment", "content": "出售冰毒", "title": "标题"}
    first = client.post("/v1/moderate", headers=bearer(api_key), json=req).json()
    second = client.post("/v1/moderate", headers=bearer(api_key), json=req).json()
    assert second["item_id"] == first["item_id"] and second["duplicate"] is True
    assert second["decision"] == first["decision"] == "block"
    assert second["request_id"] != first["request_id"]
    events = [json.loads(e[1]["e"])["action"] for e in rdb.xrange(keys.AUDIT_STREAM)]
    assert events == ["apikey.created", "item.created", "item.decided"]


@pytest.mark.parametrize("change", [
    {"content": "出售冰毒！"}, {"title": "另一个标题"}, {"title": None}, {"channel": "post"},
])
def test_same_data_id_other_content_is_409(client, api_key, change):
    req = {"data_id": "conf-1", "channel": "comment", "content": "出售冰毒", "title": "标题"}
    assert client.post("/v1/moderate", headers=bearer(api_key), json=req).status_code == 200
    r = client.post("/v1/moderate", headers=bearer(api_key), json={**req, **change})
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "data_id_conflict"


def test_data_id_is_scoped_per_client(client, new_key):
    a, b = new_key("portal-a"), new_key("portal-b")
    ra = client.post("/v1/moderate", headers=bearer(a),
                     json={"data_id": "x", "channel": "comment", "content": "出售冰毒"})
    rb = client.post("/v1/moderate", headers=bearer(b),
                     json={"data_id": "x", "channel": "comment", "content": "路灯坏了"})
    assert ra.status_code == rb.status_code == 200
    assert ra.json()["item_id"] != rb.json()["item_id"]
    assert client.get("/v1/items/x", headers=bearer(a)).json()["decision"]["decision"] == "block"
    assert client.get("/v1/items/x", headers=bearer(b)).json()["decision"]["decision"] == "pass"


def test_concurrent_requests_with_one_data_id_give_one_item(client, api_key, rdb):
    req = {"data_id": "race-1", "channel": "post", "content": "身份证110101199003074514"}

    def send(_: int) -> dict:
        return client.post("/v1/moderate", headers=bearer(api_key), json=req).json()

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(send, range(16)))
    assert len({a["item_id"] for a in answers}) == 1
    assert sum(not a["duplicate"] for a in answers) == 1
    assert rdb.zcard(keys.review_queue("post")) == 1


def test_get_item_shows_status_and_history(client, api_key):
    client.post("/v1/moderate", headers=bearer(api_key),
                json={"data_id": "g-1", "channel": "post", "content": "身份证110101199003074514"})
    r = client.get("/v1/items/g-1", headers=bearer(api_key))
    assert r.status_code == 200
    item = r.json()
    assert item["status"] == "pending" and item["verdict"] is None
    assert item["decision"]["decision"] == "review"
    assert [h["status"] for h in item["history"]] == ["pending"]
    assert "content" not in item


def test_get_item_of_unknown_data_id_is_404(client, api_key):
    r = client.get("/v1/items/nope", headers=bearer(api_key))
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


def test_expired_item_frees_its_data_id(client, api_key, rdb):
    req = {"data_id": "exp-1", "channel": "comment", "content": "路灯坏了"}
    client.post("/v1/moderate", headers=bearer(api_key), json=req)
    rdb.delete(keys.item("portal-a", "exp-1"))  # what EXPIRE does after item_ttl_days
    r = client.post("/v1/moderate", headers=bearer(api_key), json={**req, "content": "新内容"})
    assert r.status_code == 200 and r.json()["duplicate"] is False


def test_logs_hold_no_raw_text_or_secrets(client, api_key, caplog):
    import logging

    caplog.set_level(logging.DEBUG)
    secret_text = "出售冰毒，联系13912345678"
    client.post("/v1/moderate", headers=bearer(api_key),
                json={"data_id": "log-1", "channel": "comment", "content": secret_text})
    client.post("/v1/auth/login", json={"username": "ghost", "password": "hunter2-secret"})
    logged = caplog.text
    for needle in (secret_text, "13912345678", api_key, "hunter2-secret"):
        assert needle not in logged


def test_api_key_is_stored_only_as_its_sha256(client, api_key, rdb):
    import hashlib

    digest = hashlib.sha256(api_key.encode()).hexdigest()
    assert rdb.hget(keys.apikey(digest), "client") == "portal-a"
    dump = json.dumps({k: rdb.type(k) for k in rdb.keys("*")}) + json.dumps(
        rdb.hgetall(keys.APIKEY_INDEX))
    assert api_key not in dump and len(api_key) - len("pmk_") >= 43  # 32 random bytes


@pytest.mark.parametrize(("sent", "echoed"), [("portal-req-42", True), ("bad id!", False),
                                               ("x" * 200, False)])
def test_request_id_is_echoed_and_audited(client, api_key, rdb, sent, echoed):
    r = client.post("/v1/moderate", headers={**bearer(api_key), "X-Request-ID": sent},
                    json={"data_id": "rid-1", "channel": "comment", "content": "路灯坏了"})
    rid = r.json()["request_id"]
    assert r.headers["X-Request-ID"] == rid and (rid == sent) is echoed
    created = [json.loads(e[1]["e"]) for e in rdb.xrange(keys.AUDIT_STREAM)][-2]
    assert created["action"] == "item.created" and created["details"]["request_id"] == rid
