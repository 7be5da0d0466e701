"""Webhooks to the portal: `moderation webhook set`, signed deliveries through the Redis
outbox, retries with backoff, failing deliveries and the admin's retry, the address check
at delivery time and the callback_url origin rule. A real Redis, a real HTTP receiver on
127.0.0.1 (its origin allowed by `callback_allow_origins` where a test wants it called)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from api_test_support import bearer, cli
from webhook_receiver import Receiver

from api import signing
from api.store import keys
from api.store.connection import connect
from api.store.outbox import ENQUEUE_DELIVERY_LUA, delivery_keys
from api.store.statuses import Role
from api.workers.outbox import OutboxWorker, Refused, backoff_s, resolve_target

# Test-only: what a verdict script does (the review workflow's scripts include the same
# snippet), so deliveries exist before that workflow lands.
ENQUEUE_ONE_LUA = ENQUEUE_DELIVERY_LUA + """
enqueue_delivery(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5])
return 1
"""
REVIEW_TEXT = "我的身份证号是11010519491231002X，请帮忙查询办理进度。"  # a validated ID: review
PASSWORD = "长城-correct-horse-1"


def enqueue(rdb: redis.Redis, client: str, data_id: str, event: str = "item.decided") -> str:
    delivery_id = "dl_" + uuid.uuid4().hex
    rdb.eval(ENQUEUE_ONE_LUA, 2, *delivery_keys(delivery_id), delivery_id, client,
             keys.item(client, data_id), event, int(time.time() * 1000))
    return delivery_id


def moderate(c: Any, api_key: str, data_id: str, **extra: Any) -> Any:
    return c.post("/v1/moderate", headers=bearer(api_key), json={
        "data_id": data_id, "channel": "comment", "content": REVIEW_TEXT, **extra})


def review_item(c: Any, api_key: str, data_id: str = "post-1", **extra: Any) -> dict:
    r = moderate(c, api_key, data_id, **extra)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "pending"
    return r.json()


def checked(secret: str, got: Any, tolerance: int = 300) -> bool:
    """The portal's check, written out from the contract (not with api.signing)."""
    parts = dict(p.split("=", 1) for p in got.headers["x-signature"].split(","))
    mac = hmac.new(secret.encode(), parts["t"].encode() + b"." + got.body, hashlib.sha256)
    return (abs(time.time() - int(parts["t"])) <= tolerance
            and hmac.compare_digest(mac.hexdigest(), parts["v1"]))


def metric(text: str, name: str) -> float:
    m = re.search(rf"^{re.escape(name)} (\S+)$", text, re.M)
    return float(m.group(1)) if m else 0.0


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver().start()
    yield rec
    rec.stop()


@pytest.fixture
def worker_settings(settings_for: Any, receiver: Receiver) -> Any:
    """Settings of an app whose delivery worker runs, with quick retries for tests."""
    def make(**over: Any) -> Any:
        base = dict(webhook_worker_enabled=True, callback_allow_origins=receiver.origin,
                    webhook_backoff_base_s=0.2, webhook_poll_s=0.05, webhook_timeout_s=2)
        return settings_for(**{**base, **over})
    return make


def set_webhook(c: Any, client: str, url: str, allow: str = "") -> str:
    """Register through the app's own store (same secrets key as its worker)."""
    webhooks = c.app.state.app_state.webhooks
    secret, _ = c.portal.call(lambda: webhooks.set(client, url, allow_origins=allow))
    return secret


# -- signing -------------------------------------------------------------------------------


def test_signature_is_hmac_of_time_dot_body_and_checks_time():
    body = '{"event":"item.decided","x":"中文"}'.encode()
    header = signing.sign("whsec_test", body, t=1_700_000_000)
    expected = hmac.new(b"whsec_test", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert header == f"t=1700000000,v1={expected}"
    assert signing.verify("whsec_test", header, body, now=1_700_000_100)
    assert not signing.verify("whsec_test", header, body + b" ", now=1_700_000_100)
    assert not signing.verify("whsec_other", header, body, now=1_700_000_100)
    assert not signing.verify("whsec_test", header, body, now=1_700_000_000 + 301)
    assert not signing.verify("whsec_test", "garbage", body)


def test_backoff_doubles_with_jitter_up_to_the_cap():
    for attempts, nominal in [(1, 1), (2, 2), (3, 4), (10, 512), (13, 3600), (60, 3600)]:
        for _ in range(50):
            assert 0.75 * nominal <= backoff_s(attempts, 1, 3600) <= nominal


# -- the CLI and a signed delivery -----------------------------------------------------------


def test_secret_printed_by_cli_verifies_the_delivery(client, api_key, rdb, redis_server,
                                                     worker_settings, new_app_client,
                                                     receiver):
    settings = worker_settings()
    env = {"REDIS_URL": redis_server.url, "MODERATION_DATA_DIR": str(settings.data_dir),
           "MODERATION_CALLBACK_ALLOW_ORIGINS": receiver.origin}
    res = cli("webhook", "set", "portal-a", "--url", receiver.url(), env=env)
    assert res.returncode == 0, res.stderr
    secret = res.stdout.strip()
    assert res.stdout == secret + "\n" and secret.startswith("whsec_")
    assert "shown only once" in res.stderr
    stored = rdb.hgetall(keys.webhook("portal-a"))
    assert stored["origin"] == receiver.origin and secret not in json.dumps(stored)
    listed = cli("webhook", "list", env=env)
    assert listed.returncode == 0 and secret not in listed.stdout
    assert json.loads(listed.stdout)["url"] == receiver.url()

    with new_app_client(settings) as c:
        review_item(c, api_key)
        delivery_id = enqueue(rdb, "portal-a", "post-1")
        got = receiver.wait_for(1)[0]
        assert checked(secret, got)
        assert got.path == "/hook" and got.headers["x-delivery-id"] == delivery_id
        assert got.headers["content-type"] == "application/json"
        body = json.loads(got.body)
        assert body["event"] == "item.decided" and body["delivery_id"] == delivery_id
        assert body["attempt"] == 1
        assert body["item"] == c.get("/v1/items/post-1", headers=bearer(api_key)).json()
        deadline = time.monotonic() + 5
        while rdb.exists(keys.delivery(delivery_id)) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not rdb.exists(keys.delivery(delivery_id))
        assert rdb.zcard(keys.OUTBOX) == 0
    events = [json.loads(e[1]["e"]) for e in rdb.xrange(keys.AUDIT_STREAM)]
    assert [e["target"] for e in events if e["action"] == "webhook.set"] == ["portal-a"]
    delivered = [e for e in events if e["action"] == "webhook.delivered"]
    assert [e["target"] for e in delivered] == [delivery_id]
    assert REVIEW_TEXT not in json.dumps(events, ensure_ascii=False)
    time.sleep(0.3)
    assert len(receiver.requests) == 1  # delivered once


def test_cli_refuses_bad_urls_and_unknown_clients(rdb, redis_server, tmp_path):
    env = {"REDIS_URL": redis_server.url, "MODERATION_DATA_DIR": str(tmp_path)}
    for url, words in [("ftp://portal.example.cn/x", "not an http(s) URL"),
                       ("http://127.0.0.1:9/hook", "loopback"),
                       ("http://user:pw@portal.example.cn/", "no user, password")]:
        res = cli("webhook", "set", "portal-a", "--url", url, env=env)
        assert res.returncode == 2 and words in res.stderr, res.stderr
        assert res.stdout == ""
    res = cli("webhook", "remove", "nobody", env=env)
    assert res.returncode == 2 and "has no webhook" in res.stderr
    assert not rdb.exists(keys.webhook("portal-a"))


def test_rotate_and_remove(client, api_key, rdb, worker_settings, new_app_client, receiver):
    with new_app_client(worker_settings(webhook_worker_enabled=False)) as c:
        webhooks = c.app.state.app_state.webhooks
        old = set_webhook(c, "portal-a", receiver.url(), receiver.origin)
        new, hook = c.portal.call(lambda: webhooks.rotate("portal-a"))
        assert new != old and webhooks.secret(hook) == new
        c.portal.call(lambda: webhooks.remove("portal-a"))
        assert c.portal.call(webhooks.list) == []
    actions = [json.loads(e[1]["e"])["action"] for e in rdb.xrange(keys.AUDIT_STREAM)]
    assert actions[-3:] == ["webhook.set", "webhook.secret_rotated", "webhook.removed"]


# -- retries, failing, admin retry -------------------------------------------------------


def test_retried_after_two_500s_then_delivered_once(client, api_key, rdb, worker_settings,
                                                    new_app_client, receiver):
    receiver.statuses = [500, 500]
    with new_app_client(worker_settings(webhook_backoff_base_s=0.3)) as c:
        secret = set_webhook(c, "portal-a", receiver.url(), receiver.origin)
        review_item(c, api_key)
        delivery_id = enqueue(rdb, "portal-a", "post-1")
        got = receiver.wait_for(3)
        time.sleep(0.5)
    assert len(receiver.requests) == 3
    assert [json.loads(g.body)["attempt"] for g in got] == [1, 2, 3]
    assert {g.headers["x-delivery-id"] for g in got} == {delivery_id}
    assert all(checked(secret, g) for g in got)
    # backoff: ~0.3 s (0.225-0.3) then ~0.6 s (0.45-0.6), plus polling
    assert got[1].at - got[0].at >= 0.2 and got[2].at - got[1].at >= 0.4
    assert not rdb.exists(keys.delivery(delivery_id)) and rdb.scard(keys.OUTBOX_FAILING) == 0


def admin_token(c: Any) -> str:
    users = c.app.state.app_state.users
    c.portal.call(lambda: users.create("admin", Role.ADMIN, PASSWORD))
    c.portal.call(lambda: users.create("li.na", Role.REVIEWER, PASSWORD))
    r = c.post("/v1/auth/login", json={"username": "admin", "password": PASSWORD})
    return r.json()["token"]


def test_failing_delivery_is_listed_counted_and_retried_by_an_admin(
        client, api_key, rdb, worker_settings, new_app_client, receiver):
    receiver.default = 503
    settings = worker_settings(webhook_failing_after=2, webhook_backoff_base_s=0.1,
                               webhook_backoff_max_s=0.2)
    with new_app_client(settings) as c:
        token = admin_token(c)
        set_webhook(c, "portal-a", receiver.url(), receiver.origin)
        review_item(c, api_key)
        delivery_id = enqueue(rdb, "portal-a", "post-1")
        receiver.wait_for(2)
        deadline = time.monotonic() + 5
        while not rdb.sismember(keys.OUTBOX_FAILING, delivery_id):
            assert time.monotonic() < deadline
            time.sleep(0.02)
        # now park it far in the future, as a long backoff would
        rdb.zadd(keys.OUTBOX, {delivery_id: time.time() * 1000 + 3_600_000})
        time.sleep(0.3)
        r = c.get("/v1/admin/webhooks/deliveries?state=failing", headers=bearer(token))
        assert r.status_code == 200, r.text
        [listed] = r.json()["deliveries"]
        assert listed["id"] == delivery_id and listed["failing"] is True
        assert listed["attempts"] >= 2 and listed["last_error"] == "HTTP 503"
        assert listed["client"] == "portal-a"
        text = c.get("/metrics").text
        assert metric(text, "moderation_webhook_failing") == 1
        failed_before = metric(
            text, 'moderation_webhook_deliveries_total{outcome="failed"}')
        assert failed_before >= 2
        delivered_before = metric(
            text, 'moderation_webhook_deliveries_total{outcome="delivered"}')

        seen = len(receiver.requests)
        receiver.default = 200
        reviewer = c.post("/v1/auth/login", json={"username": "li.na", "password": PASSWORD})
        assert c.post(f"/v1/admin/webhooks/deliveries/{delivery_id}/retry",
                      headers=bearer(reviewer.json()["token"])).status_code == 403
        assert c.post("/v1/admin/webhooks/deliveries/dl_nope/retry",
                      headers=bearer(token)).json()["error"]["code"] == "not_found"
        r = c.post(f"/v1/admin/webhooks/deliveries/{delivery_id}/retry", headers=bearer(token))
        assert r.status_code == 202, r.text
        receiver.wait_for(seen + 1, timeout=5)
        deadline = time.monotonic() + 5
        while rdb.exists(keys.delivery(delivery_id)):
            assert time.monotonic() < deadline
            time.sleep(0.02)
        text = c.get("/metrics").text
        assert metric(text, "moderation_webhook_failing") == 0
        assert metric(text, 'moderation_webhook_deliveries_total{outcome="delivered"}') \
            == delivered_before + 1
        assert c.get("/v1/admin/webhooks/deliveries?state=failing",
                     headers=bearer(token)).json() == {"deliveries": []}
    actions = [json.loads(e[1]["e"])["action"] for e in rdb.xrange(keys.AUDIT_STREAM)]
    assert "webhook.retry" in actions and actions[-1] == "webhook.delivered"


def test_retry_of_a_delivery_being_sent_is_409(client, api_key, rdb, worker_settings,
                                               new_app_client, receiver):
    with new_app_client(worker_settings(webhook_worker_enabled=False)) as c:
        token = admin_token(c)
        review_item(c, api_key)
        delivery_id = enqueue(rdb, "portal-a", "post-1")
        outbox = OutboxWorker(c.app.state.app_state.redis, c.app.state.app_state.settings)
        [taken] = c.portal.call(lambda: outbox.outbox.take_due(10, 30))
        assert taken.id == delivery_id
        r = c.post(f"/v1/admin/webhooks/deliveries/{delivery_id}/retry", headers=bearer(token))
        assert r.status_code == 409 and r.json()["error"]["code"] == "delivery_in_flight"
        waiting = c.get("/v1/admin/webhooks/deliveries?state=waiting", headers=bearer(token))
        [listed] = waiting.json()["deliveries"]
        assert listed["id"] == delivery_id and listed["attempts"] == 1
        assert listed["failing"] is False and listed["due_at"] > listed["created_at"]
        assert c.get("/v1/admin/webhooks/deliveries?state=nope",
                     headers=bearer(token)).status_code == 422


# -- addresses and origins -----------------------------------------------------------------


@pytest.mark.parametrize("url, kind", [
    ("http://10.1.2.3/hook", "private"),
    ("http://169.254.169.254/latest/meta-data", "link-local"),
    ("http://[::1]:8080/hook", "loopback"),
    ("http://224.0.0.1/hook", "multicast"),
    ("http://[::ffff:127.0.0.1]/hook", "loopback"),
])
def test_non_public_addresses_are_refused_at_delivery(url, kind):
    with pytest.raises(Refused, match=kind):
        asyncio.run(resolve_target(url, frozenset()))


def test_a_public_address_is_pinned_with_its_name_kept():
    target = asyncio.run(resolve_target("https://93.184.216.34:8443/hooks?x=1", frozenset()))
    assert target.url == "https://93.184.216.34:8443/hooks?x=1"
    assert target.host_header == "93.184.216.34:8443" and target.sni == "93.184.216.34"


def test_a_host_resolving_to_loopback_is_never_called(client, api_key, rdb, worker_settings,
                                                      new_app_client, receiver):
    """The webhook was set while an admin allowed the origin; the worker runs without that
    permission, and `localhost` (a name, checked by what it resolves to) is refused."""
    url = f"http://localhost:{receiver.port}/hook"
    with new_app_client(worker_settings(callback_allow_origins="")) as c:
        set_webhook(c, "portal-a", url, f"http://localhost:{receiver.port}")
        review_item(c, api_key)
        delivery_id = enqueue(rdb, "portal-a", "post-1")
        deadline = time.monotonic() + 5
        while not rdb.sismember(keys.OUTBOX_FAILING, delivery_id):
            assert time.monotonic() < deadline
            time.sleep(0.02)
        error = rdb.hget(keys.delivery(delivery_id), "last_error")
        assert "resolves to" in error and "loopback" in error
        assert 'outcome="refused"' in c.get("/metrics").text
    assert receiver.requests == []


def test_callback_url_must_be_on_the_registered_origin(client, api_key, rdb, worker_settings,
                                                       new_app_client, receiver):
    with new_app_client(worker_settings(webhook_worker_enabled=False)) as c:
        # no webhook yet: any public callback_url is accepted, as before webhooks
        assert moderate(c, api_key, "a-1",
                        callback_url="https://evil.example.com/x").status_code == 200
        set_webhook(c, "portal-a", "https://portal.example.gov.cn/hooks/moderation")
        r = moderate(c, api_key, "a-2", callback_url="https://evil.example.com/x")
        assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_callback_url"
        assert "https://portal.example.gov.cn:443" in r.json()["error"]["message"]
        for other in ["http://portal.example.gov.cn/x", "https://portal.example.gov.cn:8443/x"]:
            assert moderate(c, api_key, "a-3", callback_url=other).status_code == 422
        assert moderate(c, api_key, "a-4", callback_url="https://portal.example.gov.cn/cb/"
                        "4").status_code == 200
        assert not rdb.exists(keys.item("portal-a", "a-2"))
        batch = c.post("/v1/moderate/batch", headers=bearer(api_key), json={"items": [
            {"data_id": "b-1", "channel": "comment", "content": REVIEW_TEXT,
             "callback_url": "https://evil.example.com/x"},
            {"data_id": "b-2", "channel": "comment", "content": REVIEW_TEXT,
             "callback_url": "https://portal.example.gov.cn/cb"}]}).json()["results"]
        assert batch[0]["error"]["code"] == "invalid_callback_url"
        assert batch[1]["status"] == "pending"


def test_callback_url_on_the_origin_is_where_it_goes(client, api_key, rdb, worker_settings,
                                                    new_app_client, receiver):
    with new_app_client(worker_settings()) as c:
        secret = set_webhook(c, "portal-a", receiver.url(), receiver.origin)
        review_item(c, api_key, callback_url=receiver.url("/items/post-1/verdict"))
        enqueue(rdb, "portal-a", "post-1")
        got = receiver.wait_for(1)[0]
    assert got.path == "/items/post-1/verdict" and checked(secret, got)


def test_a_client_without_webhook_has_its_deliveries_dropped(client, api_key, rdb,
                                                             worker_settings, new_app_client,
                                                             receiver):
    with new_app_client(worker_settings()) as c:
        review_item(c, api_key)
        delivery_id = enqueue(rdb, "portal-a", "post-1")
        deadline = time.monotonic() + 5
        while rdb.exists(keys.delivery(delivery_id)):
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert 'outcome="dropped"' in c.get("/metrics").text
    assert rdb.zcard(keys.OUTBOX) == 0 and receiver.requests == []


# -- two workers -------------------------------------------------------------------------


def test_two_workers_never_send_one_delivery_twice(client, api_key, rdb, worker_settings,
                                                   new_app_client, receiver):
    receiver.delay = 0.01
    settings = worker_settings(webhook_worker_enabled=False, webhook_concurrency=8)
    n = 120
    with new_app_client(settings) as c:
        set_webhook(c, "portal-a", receiver.url(), receiver.origin)
        review_item(c, api_key)
        ids = {enqueue(rdb, "portal-a", "post-1") for _ in range(n)}

    async def race() -> None:
        r = connect(settings.redis_url, timeout=2)
        workers = [OutboxWorker(r, settings) for _ in range(2)]
        try:
            deadline = time.monotonic() + 30
            while await r.zcard(keys.OUTBOX) and time.monotonic() < deadline:
                await asyncio.gather(*(w.run_round() for w in workers))
                await asyncio.sleep(0.001)
            for w in workers:
                await w.drain()
        finally:
            for w in workers:
                await w.stop()
            await r.aclose()

    asyncio.run(race())
    sent = Counter(g.headers["x-delivery-id"] for g in receiver.requests)
    assert set(sent) == ids and max(sent.values()) == 1
    assert rdb.zcard(keys.OUTBOX) == 0
