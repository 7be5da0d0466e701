"""Edges of the API (issue 11, points 10 and 12): a batch over its key's limit, changing and
disabling keys, revoking twice, invisible content, non-JSON bodies, callback URLs into the
operator's network, and decisions counted once."""

from __future__ import annotations

import asyncio
import json

import pytest
from api_test_support import RedisProc, bearer, cli
from prometheus_client import REGISTRY
from pydantic import ValidationError

from api.settings import Settings
from api.store import keys
from api.store.errors import NotFound
from api.store.statuses import Role

PASSWORD = "长城-correct-horse-1"
OK = {"data_id": "x-1", "channel": "comment", "content": "小区路灯坏了"}


def items(n: int, prefix: str = "b") -> dict:
    return {"items": [{**OK, "data_id": f"{prefix}-{i}"} for i in range(n)]}


def actions(rdb, action: str) -> list[dict]:
    events = [json.loads(e[1]["e"]) for e in rdb.xrange(keys.AUDIT_STREAM)]
    return [e for e in events if e["action"] == action]


@pytest.fixture
def admin(client, call, state) -> dict[str, str]:
    """The headers of a logged-in admin session."""
    call(state.users.create, "admin", Role.ADMIN, PASSWORD)
    r = client.post("/v1/auth/login", json={"username": "admin", "password": PASSWORD})
    assert r.status_code == 200, r.text
    return bearer(r.json()["token"])


def key_id(call, state, client_name: str) -> str:
    (rec,) = [k for k in call(state.apikeys.list) if k.client == client_name]
    return rec.id


# -- 1. a batch over the key's limit; changing, disabling and revoking keys -------------


def test_batch_over_the_keys_limit_is_422_and_counts_nothing(client, new_key, rdb):
    key = new_key("portal-small", rate_limit=5)
    r = client.post("/v1/moderate/batch", headers=bearer(key), json=items(6))
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["code"] == "batch_exceeds_rate_limit" and "5" in err["message"]
    assert "Retry-After" not in r.headers
    assert rdb.keys(keys.rate_window("*", 0).replace(":0", ":*")) == []  # nothing was counted
    assert not rdb.keys(keys.item("portal-small", "*"))
    ok = client.post("/v1/moderate/batch", headers=bearer(key), json=items(5))
    assert ok.status_code == 200 and all("error" not in x for x in ok.json()["results"])


def test_the_service_default_limit_applies_to_keys_without_their_own(
        settings_for, new_app_client):
    with new_app_client(settings_for(rate_limit_per_s=3)) as c:
        st = c.app.state.app_state
        key, _ = c.portal.call(lambda: st.apikeys.create("portal-default"))
        r = c.post("/v1/moderate/batch", headers=bearer(key), json=items(4))
        assert r.status_code == 422 and r.json()["error"]["code"] == "batch_exceeds_rate_limit"
        own, _ = c.portal.call(lambda: st.apikeys.create("portal-own", rate_limit=10))
        assert c.post("/v1/moderate/batch", headers=bearer(own),
                      json=items(4)).status_code == 200


def test_patch_rate_limit_applies_on_the_next_request_in_every_process(
        client, admin, new_key, call, state, rdb, settings_for, new_app_client):
    key = new_key("portal-p", rate_limit=50)
    kid = key_id(call, state, "portal-p")
    with new_app_client(settings_for()) as other:  # a second process on the same Redis
        assert other.post("/v1/moderate/batch", headers=bearer(key),
                          json=items(3, "o")).status_code == 200
        r = client.patch(f"/v1/admin/apikeys/{kid}", headers=admin, json={"rate_limit": 2})
        assert r.status_code == 200, r.text
        assert r.json()["rate_limit"] == 2 and r.json()["disabled"] is False
        r = other.post("/v1/moderate/batch", headers=bearer(key), json=items(3, "p"))
        assert r.status_code == 422 and r.json()["error"]["code"] == "batch_exceeds_rate_limit"
        # null: back to the service's default limit (10,000)
        r = client.patch(f"/v1/admin/apikeys/{kid}", headers=admin, json={"rate_limit": None})
        assert r.status_code == 200 and r.json()["rate_limit"] is None
        assert other.post("/v1/moderate/batch", headers=bearer(key),
                          json=items(3, "q")).status_code == 200
    updates = actions(rdb, "apikey.updated")
    assert [(e["target"], e["actor"]) for e in updates] == [(kid, "user:admin")] * 2
    assert [e["details"]["rate_limit"] for e in updates] == [2, None]


def test_a_disabled_key_is_401_until_enabled_and_is_not_revoked(
        client, admin, new_key, call, state, rdb, settings_for, new_app_client):
    key = new_key("portal-off")
    kid = key_id(call, state, "portal-off")
    with new_app_client(settings_for()) as other:
        # `other` has seen the key, so its next /v1/moderate skips the lookup (lazy path)
        assert other.post("/v1/moderate", headers=bearer(key), json=OK).status_code == 200
        r = client.patch(f"/v1/admin/apikeys/{kid}", headers=admin, json={"disabled": True})
        assert r.status_code == 200 and r.json()["disabled"] is True
        assert r.json()["revoked_at"] is None
        for c in (client, other):
            assert c.post("/v1/moderate", headers=bearer(key),
                          json={**OK, "data_id": "x-2"}).status_code == 401
            assert c.post("/v1/moderate/batch", headers=bearer(key),
                          json=items(1)).status_code == 401
            assert c.get("/v1/items/x-1", headers=bearer(key)).status_code == 401
        listed = client.get("/v1/admin/apikeys", headers=admin).json()["apikeys"]
        assert [(k["id"], k["disabled"], k["revoked_at"]) for k in listed] == [
            (kid, True, None)]
        r = client.patch(f"/v1/admin/apikeys/{kid}", headers=admin, json={"disabled": False})
        assert r.status_code == 200 and r.json()["disabled"] is False
        assert other.post("/v1/moderate", headers=bearer(key),
                          json={**OK, "data_id": "x-3"}).status_code == 200
        assert client.get("/v1/items/x-1", headers=bearer(key)).status_code == 200
    assert [e["details"]["disabled"] for e in actions(rdb, "apikey.updated")] == [True, False]


def test_patch_that_changes_nothing_writes_no_audit_event(client, admin, new_key, call, state,
                                                          rdb):
    new_key("portal-same", rate_limit=7)
    kid = key_id(call, state, "portal-same")
    r = client.patch(f"/v1/admin/apikeys/{kid}", headers=admin,
                     json={"rate_limit": 7, "disabled": False})
    assert r.status_code == 200 and r.json()["rate_limit"] == 7
    assert actions(rdb, "apikey.updated") == []


@pytest.mark.parametrize(("body", "status", "code"), [
    ({}, 422, "invalid_request"),
    ({"rate_limit": 0}, 422, "invalid_field"),
    ({"rate_limit": "many"}, 422, "invalid_type"),
    ({"disabled": "perhaps"}, 422, "invalid_type"),
    ({"rate_limt": 5}, 422, "invalid_field"),
])
def test_bad_patch_bodies_are_clear_4xx(client, admin, new_key, call, state, body, status,
                                        code):
    new_key("portal-bad")
    r = client.patch(f"/v1/admin/apikeys/{key_id(call, state, 'portal-bad')}", headers=admin,
                     json=body)
    assert r.status_code == status and r.json()["error"]["code"] == code, r.text


def test_patch_needs_an_admin_and_a_live_key(client, admin, new_key, call, state):
    new_key("portal-x")
    kid = key_id(call, state, "portal-x")
    assert client.patch("/v1/admin/apikeys/k_nope", headers=admin,
                        json={"disabled": True}).status_code == 404
    call(state.users.create, "li.na", Role.REVIEWER, PASSWORD)
    t = client.post("/v1/auth/login", json={"username": "li.na", "password": PASSWORD})
    reviewer = bearer(t.json()["token"])
    assert client.patch(f"/v1/admin/apikeys/{kid}", headers=reviewer,
                        json={"disabled": True}).status_code == 403
    assert client.delete(f"/v1/admin/apikeys/{kid}", headers=admin).status_code == 200
    r = client.patch(f"/v1/admin/apikeys/{kid}", headers=admin, json={"disabled": False})
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


def test_revoking_a_revoked_key_is_404_and_audited_once(client, admin, new_key, call, state,
                                                        rdb):
    key = new_key("portal-r")
    kid = key_id(call, state, "portal-r")
    first = client.delete(f"/v1/admin/apikeys/{kid}", headers=admin)
    assert first.status_code == 200 and first.json()["revoked_at"]
    again = client.delete(f"/v1/admin/apikeys/{kid}", headers=admin)
    assert again.status_code == 404 and again.json()["error"]["code"] == "not_found"
    assert "revoked" in again.json()["error"]["message"]
    assert len(actions(rdb, "apikey.revoked")) == 1
    assert client.post("/v1/moderate", headers=bearer(key), json=OK).status_code == 401


def test_concurrent_revokes_audit_once(client, new_key, call, state, rdb):
    new_key("portal-race")
    kid = key_id(call, state, "portal-race")

    async def race() -> list[object]:
        return await asyncio.gather(*(state.apikeys.revoke(kid) for _ in range(8)),
                                    return_exceptions=True)

    out = call(race)
    assert sum(not isinstance(x, Exception) for x in out) == 1
    assert all(isinstance(x, NotFound) for x in out if isinstance(x, Exception))
    assert len(actions(rdb, "apikey.revoked")) == 1


@pytest.fixture
def on_redis(redis_server, rdb, tmp_path) -> dict[str, str]:
    return {"REDIS_URL": redis_server.url, "MODERATION_DATA_DIR": str(tmp_path)}


def test_cli_apikey_update_and_revoke_twice(client, on_redis, rdb):
    key = cli("apikey", "create", "portal-cli", "--rate-limit", "50", env=on_redis).stdout.strip()
    (rec,) = [json.loads(x) for x in cli("apikey", "list", env=on_redis).stdout.splitlines()]
    proc = cli("apikey", "update", rec["id"], "--rate-limit", "2", "--disable", env=on_redis)
    assert proc.returncode == 0, proc.stderr
    shown = json.loads(proc.stdout)
    assert shown["rate_limit"] == 2 and shown["disabled"] is True
    assert client.post("/v1/moderate", headers=bearer(key), json=OK).status_code == 401
    assert cli("apikey", "update", rec["id"], "--enable", env=on_redis).returncode == 0
    r = client.post("/v1/moderate/batch", headers=bearer(key), json=items(3))
    assert r.status_code == 422 and r.json()["error"]["code"] == "batch_exceeds_rate_limit"
    for args, fragment in [((), "--rate-limit"), (("--rate-limit", "0"), "--rate-limit"),
                           (("--rate-limit", "lots"), "--rate-limit")]:
        bad = cli("apikey", "update", rec["id"], *args, env=on_redis)
        assert bad.returncode == 2 and fragment in bad.stderr and bad.stdout == ""
    assert cli("apikey", "revoke", rec["id"], env=on_redis).returncode == 0
    again = cli("apikey", "revoke", rec["id"], env=on_redis)
    assert again.returncode == 2 and "already revoked" in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1
    assert len(actions(rdb, "apikey.revoked")) == 1


# -- 2. content that shows nothing -----------------------------------------------------


@pytest.mark.parametrize("content", ["\u200b\u200b", "\x00", "\u3164", "\ufeff\u2060 \u00ad",
                                     "\u115f\u1160\u200d\n"])
def test_invisible_content_is_empty_content(client, api_key, content):
    r = client.post("/v1/moderate", headers=bearer(api_key), json={**OK, "content": content})
    assert r.status_code == 422 and r.json()["error"]["code"] == "empty_content", r.text
    batch = client.post("/v1/moderate/batch", headers=bearer(api_key), json={"items": [
        {**OK, "content": content}, {**OK, "data_id": "x-2"}]}).json()["results"]
    assert batch[0]["error"]["code"] == "empty_content" and batch[1]["status"] == "passed"


def test_cli_check_refuses_invisible_content():
    proc = cli("check", "--no-model", "\u200b\u3164")
    assert proc.returncode == 2 and "empty" in proc.stderr and proc.stdout == ""


# -- 3. bodies that are not JSON -------------------------------------------------------


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x", "application/jsonx",
                                          "text/json"])
def test_a_body_that_is_not_json_is_415(client, api_key, admin, content_type):
    headers = {**bearer(api_key)}
    if content_type is not None:
        headers["Content-Type"] = content_type
    raw = json.dumps(OK).encode()
    for path in ("/v1/moderate", "/v1/moderate/batch"):
        r = client.post(path, headers=headers, content=raw)
        assert r.status_code == 415, r.text
        err = r.json()["error"]
        assert err["code"] == "unsupported_media_type" and "application/json" in err["message"]
    admin_headers = {**admin, **({} if content_type is None else {"Content-Type": content_type})}
    assert client.patch("/v1/admin/apikeys/k_x", headers=admin_headers,
                        content=b'{"disabled": true}').status_code == 415
    plain = {} if content_type is None else {"Content-Type": content_type}
    login = client.post("/v1/auth/login", headers=plain,
                        content=json.dumps({"username": "admin", "password": PASSWORD}).encode())
    assert login.status_code == 415


def test_json_with_parameters_and_bodyless_posts_pass_the_check(client, api_key, admin):
    for n, content_type in enumerate(["application/json", "application/json; charset=utf-8",
                                      "Application/JSON;charset=UTF-8", "text/plain"]):
        r = client.post("/v1/moderate", headers={**bearer(api_key),
                                                 "Content-Type": content_type},
                        content=json.dumps({**OK, "data_id": f"ct-{n}"}).encode())
        assert r.status_code == (415 if content_type == "text/plain" else 200), r.text
    assert client.post("/v1/auth/logout", headers=admin).status_code == 200  # no body


# -- 4. callback URLs into the operator's network --------------------------------------

REFUSED = [
    "http://169.254.169.254/latest/meta-data",  # cloud metadata (link-local)
    "http://127.0.0.1:6379/", "http://0x7f.1/hook", "http://2130706433/hook",  # loopback
    "http://localhost:8000/hook", "http://LOCALHOST./hook", "https://api.localhost/hook",
    "http://[::1]/hook", "http://[::ffff:127.0.0.1]/hook",
    "http://10.1.2.3/hook", "http://172.16.0.9/hook", "http://192.168.1.10:8080/hook",
    "http://[fd12::1]/hook", "http://[fe80::1]/hook", "http://169.254.1.1/hook",
    "http://224.0.0.251/hook", "http://[ff02::1]/hook",  # multicast
    "http://0.0.0.0/hook", "http://[::]/hook",  # unspecified
    "http://240.0.0.1/hook", "http://100.64.0.1/hook",  # reserved, shared address space
]


@pytest.mark.parametrize("url", REFUSED)
def test_callback_url_into_the_network_is_422(client, api_key, rdb, url):
    r = client.post("/v1/moderate", headers=bearer(api_key), json={**OK, "callback_url": url})
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["code"] == "invalid_callback_url" and "MODERATION_CALLBACK_ALLOW" in err["message"]
    assert not rdb.exists(keys.item("portal-a", OK["data_id"]))
    (res,) = client.post("/v1/moderate/batch", headers=bearer(api_key), json={"items": [
        {**OK, "callback_url": url}]}).json()["results"]
    assert res["error"]["code"] == "invalid_callback_url" and res["data_id"] == OK["data_id"]


def test_an_admin_allowed_origin_may_be_private(settings_for, new_app_client):
    allow = "http://10.0.0.5:8080, https://[fd00::5], http://localhost"
    with new_app_client(settings_for(callback_allow_origins=allow)) as c:
        key, _ = c.portal.call(lambda: c.app.state.app_state.apikeys.create("portal-in"))
        for n, (url, status) in enumerate([
            ("http://10.0.0.5:8080/hooks/moderation", 200), ("https://[fd00::5]/h", 200),
            ("https://[FD00::5]:443/h", 200), ("http://localhost:80/x", 200),
            ("http://10.0.0.5:8081/hooks", 422), ("https://10.0.0.5:8080/hooks", 422),
            ("http://10.0.0.6:8080/hooks", 422), ("http://[fd00::5]/h", 422),
            # public hosts need no allowing (a name is never resolved at request time)
            ("https://portal.example.gov.cn/hook?id=1", 200), ("http://8.8.8.8/h", 200),
            ("https://[2400:3200::1]:8443/h", 200), ("http://intranet-gw/hook", 200),
        ]):
            r = c.post("/v1/moderate", headers=bearer(key),
                       json={**OK, "data_id": f"cb-{n}", "callback_url": url})
            assert r.status_code == status, (url, r.text)


@pytest.mark.parametrize("value", ["ftp://10.0.0.5", "http://10.0.0.5/path", "not a url",
                                   "http://u:p@10.0.0.5"])
def test_a_bad_allow_list_entry_is_a_settings_error(value):
    with pytest.raises(ValidationError, match="callback_allow_origins"):
        Settings(redis_url="redis://x", callback_allow_origins=value)


# -- 5. decisions counted once ---------------------------------------------------------


def decisions(decision: str, channel: str = "comment") -> float:
    return REGISTRY.get_sample_value("moderation_decisions_total",
                                     {"decision": decision, "channel": channel}) or 0.0


def test_a_duplicate_replay_is_not_counted_as_a_decision(client, api_key):
    before = decisions("block")
    body = {**OK, "data_id": "dup-1", "content": "出售冰毒"}
    first = client.post("/v1/moderate", headers=bearer(api_key), json=body)
    again = client.post("/v1/moderate", headers=bearer(api_key), json=body)
    assert first.json()["duplicate"] is False and again.json()["duplicate"] is True
    assert decisions("block") == before + 1
    batch = {"items": [body, {**body, "data_id": "dup-2"}]}
    out = client.post("/v1/moderate/batch", headers=bearer(api_key), json=batch).json()
    assert [x["duplicate"] for x in out["results"]] == [True, False]
    assert decisions("block") == before + 2


def test_degraded_503_answers_count_and_replays_do_not(tmp_path, settings_for,
                                                        new_app_client):
    server = RedisProc(tmp_path / "redis").start()
    try:
        with new_app_client(settings_for(redis_url=server.url)) as c:
            key, _ = c.portal.call(lambda: c.app.state.app_state.apikeys.create("portal-d"))
            before = decisions("block")
            body = {**OK, "data_id": "deg-0", "content": "出售冰毒"}
            for _ in range(3):
                assert c.post("/v1/moderate", headers=bearer(key), json=body).status_code == 200
            assert decisions("block") == before + 1
            server.stop(kill=True)
            r = c.post("/v1/moderate", headers=bearer(key), json={**body, "data_id": "deg-1"})
            assert r.status_code == 503 and r.json()["decision"]["decision"] == "block"
            assert decisions("block") == before + 2
    finally:
        server.stop()
