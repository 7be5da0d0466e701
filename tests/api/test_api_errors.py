"""Every 4xx path of /v1/moderate and friends: a clear JSON code, never a 500."""

from __future__ import annotations

import json

import pytest
from api_test_support import bearer

OK = {"data_id": "e-1", "channel": "comment", "content": "小区路灯坏了"}

BAD_BODIES = [
    # (body, status, code)
    ({**OK, "content": ""}, 422, "empty_content"),
    ({**OK, "content": "   "}, 422, "empty_content"),
    ({**OK, "content": "政" * 10_001}, 422, "field_too_long"),
    ({**OK, "title": "标" * 10_001}, 422, "field_too_long"),
    ({**OK, "channel": "weibo"}, 422, "unknown_channel"),
    ({**OK, "data_id": ""}, 422, "invalid_data_id"),
    ({**OK, "data_id": "a" * 129}, 422, "invalid_data_id"),
    ({**OK, "data_id": "帖子-1"}, 422, "invalid_data_id"),
    ({**OK, "data_id": "a/b"}, 422, "invalid_data_id"),
    ({**OK, "data_id": 12}, 422, "invalid_data_id"),
    ({**OK, "content": 12}, 422, "invalid_type"),
    ({**OK, "content": ["出售冰毒"]}, 422, "invalid_type"),
    ({**OK, "title": {"a": 1}}, 422, "invalid_type"),
    ({"data_id": "e-1", "channel": "comment"}, 422, "missing_field"),
    ({"content": "路灯坏了", "channel": "comment"}, 422, "missing_field"),
    ({**OK, "ip": "999.1.1.1"}, 422, "invalid_field"),
    ({**OK, "callback_url": "ftp://portal.example.cn/hook"}, 422, "invalid_field"),
    ({**OK, "callback_url": "不是网址"}, 422, "invalid_field"),
    ({**OK, "author_ref": "u" * 257}, 422, "field_too_long"),
    ([OK], 422, "invalid_request"),
    ("出售冰毒", 422, "invalid_request"),
    (None, 400, "invalid_json"),  # no body at all
]


@pytest.mark.parametrize(("payload", "status", "code"), BAD_BODIES)
def test_bad_body_is_a_clear_4xx(client, api_key, payload, status, code):
    r = client.post("/v1/moderate", headers=bearer(api_key), json=payload)
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code
    assert r.json()["error"]["message"]


@pytest.mark.parametrize("raw", [b"{", b'{"data_id": "x",}', b"\xff\xfe", b"", b"null"])
def test_malformed_json_is_400_or_422(client, api_key, raw):
    r = client.post("/v1/moderate", headers={**bearer(api_key),
                                             "Content-Type": "application/json"}, content=raw)
    assert r.status_code in (400, 422), r.text
    assert r.json()["error"]["code"] in {"invalid_json", "invalid_request"}


def test_good_callback_url_and_ip_are_stored(client, api_key, rdb):
    r = client.post("/v1/moderate", headers=bearer(api_key), json={
        **OK, "ip": "2001:db8::1", "callback_url": "https://portal.example.gov.cn/hook?id=1",
        "author_ref": "u-42"})
    assert r.status_code == 200
    stored = json.loads(rdb.hget("pm:item:portal-a:e-1", "request"))
    assert stored["callback_url"] == "https://portal.example.gov.cn/hook?id=1"
    assert stored["ip"] == "2001:db8::1"


def test_exactly_10000_characters_is_accepted(client, api_key):
    r = client.post("/v1/moderate", headers=bearer(api_key),
                    json={**OK, "content": "路" * 10_000, "title": "灯" * 10_000})
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("headers", [
    {}, {"Authorization": "Bearer pmk_not-a-real-key"}, {"Authorization": "Basic abc"},
    {"Authorization": "Bearer "}, {"Authorization": "pmk_x"},
])
def test_missing_or_wrong_key_is_401(client, headers):
    r = client.post("/v1/moderate", headers=headers, json=OK)
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
    assert client.get("/v1/items/e-1", headers=headers).status_code == 401
    assert client.post("/v1/moderate/batch", headers=headers,
                       json={"items": [OK]}).status_code == 401


def test_body_over_the_cap_is_413(client, api_key, state):
    cap = state.settings.max_body_bytes
    big = {**OK, "content": "a" * 9000, "author_ref": "x" * 256, "pad": "p" * cap}
    r = client.post("/v1/moderate", headers=bearer(api_key), json=big)
    assert r.status_code == 413 and r.json()["error"]["code"] == "body_too_large"


def test_chunked_body_over_the_cap_is_413(client, api_key, state):
    cap = state.settings.max_body_bytes
    payload = json.dumps({**OK, "pad": "p" * cap}).encode()

    def chunks():
        for i in range(0, len(payload), 4096):
            yield payload[i:i + 4096]

    r = client.post("/v1/moderate", headers={**bearer(api_key),
                                             "Content-Type": "application/json"},
                    content=chunks())
    assert r.status_code == 413 and r.json()["error"]["code"] == "body_too_large"


@pytest.mark.parametrize(("method", "path", "status", "code"), [
    ("GET", "/v1/nothing", 404, "not_found"),
    ("GET", "/v1/moderate", 405, "method_not_allowed"),
    ("DELETE", "/v1/items/x", 405, "method_not_allowed"),
])
def test_unknown_routes_answer_json(client, method, path, status, code):
    r = client.request(method, path)
    assert r.status_code == status and r.json()["error"]["code"] == code


@pytest.mark.parametrize("data_id", ["a" * 129, "a b", "帖子"])
def test_get_item_with_bad_data_id_is_422(client, api_key, data_id):
    r = client.get(f"/v1/items/{data_id}", headers=bearer(api_key))
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_data_id"


def test_rate_limit_per_key_is_429_with_retry_after(client, new_key, state):
    limited = new_key("portal-slow", rate_limit=3)
    other = new_key("portal-fast")
    codes = [client.post("/v1/moderate", headers=bearer(limited),
                         json={**OK, "data_id": f"r-{i}"}).status_code for i in range(6)]
    assert codes.count(200) <= 3 and 429 in codes
    r = client.post("/v1/moderate", headers=bearer(limited), json={**OK, "data_id": "r-9"})
    if r.status_code == 429:
        assert r.headers["Retry-After"] == "1"
        assert r.json()["error"]["code"] == "rate_limited"
    assert client.post("/v1/moderate", headers=bearer(other), json=OK).status_code == 200


def test_a_batch_counts_its_items_against_the_rate_limit(client, new_key):
    key = new_key("portal-batch", rate_limit=5)
    # 3 + 3 > 5: at most one of these batches fits in each one-second window
    codes = [client.post("/v1/moderate/batch", headers=bearer(key), json={"items": [
        {**OK, "data_id": f"b-{n}-{i}"} for i in range(3)]}).status_code for n in range(4)]
    assert 200 in codes and 429 in codes


@pytest.mark.parametrize(("raw", "status"), [
    (rb'{"data_id":"n1","channel":"comment","content":"\ud800abc"}', 400),  # lone surrogate
    (rb'{"data_id":"n2","channel":"comment","content":"x","title":"\udfff"}', 400),
    (b"[" * 5000 + b"]" * 5000, 400),  # deep nesting
    (rb'{"data_id":"n3","channel":"comment","content":"x","ip":1e400}', 422),
    (rb'{"data_id":"n4","channel":"comment","content":"abc\u0000def"}', 200),
    ('{"data_id":"n5","channel":"comment","content":"\u202e出售冰毒"}'.encode(), 200),
])
def test_hostile_json_never_500(client, api_key, raw, status):
    headers = {**bearer(api_key), "Content-Type": "application/json"}
    r = client.post("/v1/moderate", headers=headers, content=raw)
    assert r.status_code == status, r.text
    wrapped = b'{"items":[' + raw + b"]}" if raw.startswith(b"{") else raw
    rb = client.post("/v1/moderate/batch", headers=headers, content=wrapped)
    assert rb.status_code < 500, rb.text
