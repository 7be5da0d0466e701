"""POST /v1/moderate/batch: up to 100 items, one result each in order, per-item errors."""

from __future__ import annotations

import pytest
from api_test_support import bearer

from api.store import keys


def item(i: int, content: str, channel: str = "comment", **kw) -> dict:
    return {"data_id": f"b-{i}", "channel": channel, "content": content, **kw}


def test_one_bad_item_does_not_fail_the_others(client, api_key, rdb):
    items = [
        item(0, "小区路灯坏了，请尽快修理"),
        item(1, ""),                                   # empty
        item(2, "出售冰毒", channel="post"),
        {"channel": "comment", "content": "缺 data_id"},
        item(4, "路灯", channel="微博"),                # unknown channel
        item(5, "身份证110101199003074514", channel="post"),
        "not an object",
        item(7, "政" * 10_001),
        item(8, 42),
    ]
    r = client.post("/v1/moderate/batch", headers=bearer(api_key), json={"items": items})
    assert r.status_code == 200, r.text
    res = r.json()["results"]
    assert [x["index"] for x in res] == list(range(len(items)))
    summary = [x.get("decision") or x["error"]["code"] for x in res]
    assert summary == ["pass", "empty_content", "block", "missing_field", "unknown_channel",
                       "review", "invalid_request", "field_too_long", "invalid_type"]
    assert [x["status"] for x in res if "status" in x] == ["passed", "blocked", "pending"]
    assert res[2]["data_id"] == "b-2" and res[1]["data_id"] == "b-1"
    assert rdb.zcard(keys.review_queue("post")) == 1
    assert len(rdb.keys(keys.item("portal-a", "*"))) == 3


def test_repeat_and_conflict_inside_a_batch(client, api_key):
    items = [item(0, "出售冰毒"), item(0, "出售冰毒"), item(0, "别的内容")]
    res = client.post("/v1/moderate/batch", headers=bearer(api_key),
                      json={"items": items}).json()["results"]
    assert res[0]["duplicate"] is False and res[1]["duplicate"] is True
    assert res[0]["item_id"] == res[1]["item_id"]
    assert res[2]["error"]["code"] == "data_id_conflict"


def test_batch_matches_single_requests(client, api_key):
    texts = ["出售冰毒", "代开发票", "我要投诉拆迁办", "有事打我电话13912345678"]
    batch = client.post("/v1/moderate/batch", headers=bearer(api_key), json={
        "items": [item(i, t) for i, t in enumerate(texts)]}).json()["results"]
    for i, t in enumerate(texts):
        single = client.post("/v1/moderate", headers=bearer(api_key),
                             json=item(100 + i, t)).json()
        for field in ("decision", "publish", "hits", "pii", "masked_text", "reasons"):
            assert batch[i][field] == single[field]


@pytest.mark.parametrize(("payload", "code"), [
    ({"items": []}, "empty_batch"),
    ({"items": [item(i, "路灯") for i in range(101)]}, "batch_too_large"),
    ({"items": "x"}, "invalid_type"),
    ({}, "missing_field"),
    ([], "invalid_request"),
])
def test_bad_batch_is_422(client, api_key, payload, code):
    r = client.post("/v1/moderate/batch", headers=bearer(api_key), json=payload)
    assert r.status_code == 422 and r.json()["error"]["code"] == code


def test_hundred_items_are_accepted(client, api_key, rdb):
    r = client.post("/v1/moderate/batch", headers=bearer(api_key),
                    json={"items": [item(i, f"第{i}条留言：路灯坏了") for i in range(100)]})
    assert r.status_code == 200 and len(r.json()["results"]) == 100
    assert len(rdb.keys(keys.item("portal-a", "*"))) == 100
