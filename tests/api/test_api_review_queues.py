"""The review queues under load and over time: concurrent claims never share an item,
expired leases come back (and the stale verdict is refused), claim order (severity,
deadline, age, overdue first), escalation at twice the SLA, the old single queue's
migration, and the QA sampling rate."""

from __future__ import annotations

import asyncio
import json
import random
import time

import pytest
import redis.asyncio as aioredis
from review_support import (
    AD,
    CLEAN,
    DRUGS,
    ID_CARD,
    Desk,
    assert_events_sealable,
    audit_actions,
    review_app,
    review_moderator,
)

from api.store import keys
from api.store.apikeys import ApiKeyStore, hash_key
from api.store.claims import ClaimStore
from api.store.items import ItemStore, NewItem
from api.store.queues import BAND


@pytest.fixture(scope="module")
def moderator(tmp_path_factory):
    return review_moderator(tmp_path_factory.mktemp("policy"))


@pytest.fixture
def desk(redis_server, rdb, moderator, tmp_path):
    with review_app(redis_server.url, tmp_path / "data", moderator) as c:
        yield Desk(c)
    assert_events_sealable(rdb)


def wait_for(check, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_1000_claims_from_50_clients_never_share_an_item(redis_server, rdb, moderator):
    """50 concurrent reviewers, each on its own connection, 20 claims each of 1-3 items,
    for 600 items: every item is handed out exactly once."""

    async def scenario() -> tuple[list[tuple[str, str]], int]:
        setup = aioredis.Redis.from_url(redis_server.url, decode_responses=True)
        key, _ = await ApiKeyStore(setup, default_rate=100_000).create("portal-a")
        items = ItemStore(setup, ttl_s=86400, policy=lambda: moderator.policy)
        decision = moderator.moderate(AD, channel="comment").to_dict()
        for start in range(0, 600, 100):
            await items.create_many(
                [NewItem("portal-a", f"c-{i}", "comment", None, AD, decision)
                 for i in range(start, start + 100)], key_hash=hash_key(key))
        await setup.aclose()
        handed: list[tuple[str, str]] = []
        attempts = 0

        async def reviewer(n: int) -> None:
            nonlocal attempts
            r = aioredis.Redis.from_url(redis_server.url, decode_responses=True)
            store = ClaimStore(r, lease_s=600)
            try:
                for _ in range(20):
                    attempts += 1
                    got = await store.claim("comment", random.randint(1, 3), f"r{n}",
                                            "reviewer")
                    handed.extend((c.id, f"r{n}") for c in got)
            finally:
                await r.aclose()

        await asyncio.gather(*(reviewer(n) for n in range(50)))
        return handed, attempts

    handed, attempts = asyncio.run(scenario())
    assert attempts == 1000
    ids = [i for i, _ in handed]
    assert len(ids) == 600 and len(set(ids)) == 600  # all handed out, none twice
    assert rdb.zcard(keys.review_queue("comment")) == 0 and rdb.zcard(keys.CLAIMS) == 600
    for item_id, who in random.sample(handed, 50):
        h = rdb.hgetall(rdb.get(keys.item_id(item_id)))
        assert h["holder"] == who and h["status"] == "claimed"


def test_expired_lease_returns_the_item_and_refuses_the_stale_verdict(
        redis_server, rdb, moderator, tmp_path):
    with review_app(redis_server.url, tmp_path / "data", moderator, lease_seconds=1) as c:
        desk = Desk(c)
        desk.moderate("l-1", ID_CARD, channel="message")
        (got,) = desk.claimed("li.na", "message")
        renewed = c.post(f"/v1/review/items/{got['id']}/renew", headers=desk.auth("li.na"))
        assert renewed.status_code == 200 and renewed.json()["version"] == got["version"]
        assert renewed.json()["lease_expires_at"] >= got["lease_expires_at"]
        other = c.post(f"/v1/review/items/{got['id']}/renew", headers=desk.auth("wang.fang"))
        assert other.status_code == 409 and other.json()["error"]["code"] == "not_claimed"
        wait_for(lambda: desk.portal_item("l-1")["status"] == "pending")
        assert rdb.zcard(keys.review_queue("message")) == 1 and rdb.zcard(keys.CLAIMS) == 0
        r = desk.verdict("li.na", got, "approve")
        assert r.status_code == 409 and r.json()["error"]["code"] == "lease_lost"
        late = c.post(f"/v1/review/items/{got['id']}/renew", headers=desk.auth("li.na"))
        assert late.json()["error"]["code"] == "lease_lost"
        assert "review.lease_expired" in audit_actions(rdb)
        (again,) = desk.claimed("wang.fang", "message")
        assert again["id"] == got["id"] and again["version"] == got["version"] + 2
        assert desk.verdict("li.na", {**got, "version": again["version"]},
                            "approve").json()["error"]["code"] == "lease_lost"


def _age(rdb, item_id: str, *, overdue: bool = False, escalate: bool = False) -> None:
    """Move an item's SLA times into the past, as if it had waited that long."""
    past = int(time.time() * 1000) - 1000
    key = rdb.get(keys.item_id(item_id))
    if overdue:
        rdb.hset(key, "deadline_ms", past)
        rdb.zadd(keys.REVIEW_DUE, {item_id: past})
    if escalate:
        rdb.zadd(keys.REVIEW_ESCALATE, {item_id: past})


def test_claim_order_is_severity_then_deadline_then_age_overdue_first(desk, rdb):
    desk.state.items.sample = lambda: 1.0  # no QA samples in this test
    ad1 = desk.moderate("o-ad1", AD, channel="comment")["item_id"]
    time.sleep(0.005)
    drugs1 = desk.moderate("o-drugs1", DRUGS, channel="comment")["item_id"]
    time.sleep(0.005)
    ad2 = desk.moderate("o-ad2", AD, channel="comment")["item_id"]
    time.sleep(0.005)
    drugs2 = desk.moderate("o-drugs2", DRUGS, channel="comment")["item_id"]
    order = rdb.zrange(keys.review_queue("comment"), 0, -1)
    assert order == [drugs1, drugs2, ad1, ad2]  # block-severity hits first, then by age
    _age(rdb, ad2, overdue=True)
    wait_for(lambda: rdb.zscore(keys.review_queue("comment"), ad2) < 2 * BAND)
    got = [x["id"] for x in desk.claimed("li.na", "comment", n=4)]
    assert got == [ad2, drugs1, drugs2, ad1]  # the overdue item jumps the queue
    view = desk.item("li.na", ad2)
    assert view["overdue"] is True
    # deadline before age: a comment (30 min SLA) escalated after a message (4 h) of
    # the same severity still comes first in the escalated queue
    msg = desk.moderate("o-msg", AD, channel="message")["item_id"]
    time.sleep(0.005)
    com = desk.moderate("o-com", AD, channel="comment")["item_id"]
    for queue in ("message", "comment"):
        (held,) = desk.claimed("wang.fang", queue)
        assert desk.escalate("wang.fang", held).status_code == 200
    assert [x["id"] for x in desk.claimed("zhao.lei", "escalated", n=2)] == [com, msg]


def test_undecided_at_twice_the_sla_escalates_by_itself(desk, rdb):
    late = desk.moderate("x-1", AD, channel="comment")["item_id"]
    held = desk.moderate("x-2", AD, channel="message")["item_id"]
    desk.moderate("x-3", AD, channel="comment")
    (claim,) = desk.claimed("li.na", "message")
    assert claim["id"] == held
    _age(rdb, late, overdue=True, escalate=True)
    _age(rdb, held, escalate=True)
    wait_for(lambda: desk.portal_item("x-1")["status"] == "escalated")
    assert rdb.zrange(keys.review_queue("escalated"), 0, -1) == [late]
    assert rdb.zcard(keys.review_queue("comment")) == 1
    events = [json.loads(e[1]["e"]) for e in rdb.xrange(keys.AUDIT_STREAM)]
    (auto,) = [e for e in events if e["action"] == "review.auto_escalated"]
    assert auto["target"] == late and auto["details"]["from_queue"] == "comment"
    assert auto["actor"] == "system"
    # a claimed item is left to its holder: looked at again when the lease ends
    assert desk.portal_item("x-2")["status"] == "claimed"
    assert rdb.zscore(keys.REVIEW_ESCALATE, held) > time.time() * 1000 + 500_000
    assert desk.verdict("li.na", claim, "approve").status_code == 200
    stats = desk.c.get("/v1/stats", headers=desk.auth("admin")).json()
    assert stats["queues"]["escalated"]["overdue"] == 1 and stats["overdue"] == 1


def test_items_of_the_old_single_queue_move_to_their_channel(desk, rdb):
    """Items queued before the review workflow (one zset, no queue fields) are moved at
    start by the singleton task; none is lost."""
    ids = [desk.moderate(f"old-{i}", ID_CARD, channel=ch)["item_id"]
           for i, ch in enumerate(["post", "message", "post"])]
    for item_id, ch in zip(ids, ["post", "message", "post"], strict=True):
        key = rdb.get(keys.item_id(item_id))
        created = rdb.hget(key, "created_ms")
        with rdb.pipeline() as p:  # back to how the previous version stored it
            p.zrem(keys.review_queue(ch), item_id).zrem(keys.review_queue_age(ch), item_id)
            p.zrem(keys.REVIEW_DUE, item_id).zrem(keys.REVIEW_ESCALATE, item_id)
            p.hdel(key, "kind", "queue", "sev", "deadline_ms", "queued_ms")
            p.zadd(keys.PENDING_QUEUE, {item_id: created})
            p.execute()
    wait_for(lambda: rdb.zcard(keys.PENDING_QUEUE) == 0)
    assert sorted(rdb.zrange(keys.review_queue("post"), 0, -1)) == sorted([ids[0], ids[2]])
    assert rdb.zrange(keys.review_queue("message"), 0, -1) == [ids[1]]
    assert all(rdb.zscore(keys.REVIEW_DUE, i) for i in ids)
    (got,) = desk.claimed("li.na", "message")
    assert desk.verdict("li.na", got, "approve").status_code == 200


def test_qa_sampling_rate_is_within_its_bounds(desk, rdb):
    """2,000 machine passes on a channel sampling 0.1: the count sampled lies within the
    99.9 % binomial interval (mean 200, sd 13.4: 156-244)."""
    for start in range(0, 2000, 100):
        r = desk.c.post("/v1/moderate/batch", headers={"Authorization": f"Bearer {desk.key}"},
                        json={"items": [{"data_id": f"qa-{i}", "channel": "comment",
                                         "content": CLEAN} for i in range(start, start + 100)]})
        assert r.status_code == 200
    sampled = rdb.zcard(keys.review_queue("qa"))
    assert 156 <= sampled <= 244, sampled
    for i in range(20):  # `post` samples nothing
        desk.moderate(f"qp-{i}", CLEAN, channel="post")
    assert rdb.zcard(keys.review_queue("qa")) == sampled
