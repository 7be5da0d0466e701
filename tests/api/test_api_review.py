"""The review workflow end to end over HTTP: claim, verdict, what the portal then sees,
versions, leases held by others, escalation, second review, appeals, QA, the reviewer's
view of an item, the audited reveal, queues and stats."""

from __future__ import annotations

import json

import pytest
from review_support import (
    AD,
    CLEAN,
    DRUGS,
    ID_CARD,
    Desk,
    assert_events_sealable,
    audit_actions,
    deliveries,
    review_app,
    review_moderator,
)

from api.store import keys


@pytest.fixture(scope="module")
def moderator(tmp_path_factory):
    return review_moderator(tmp_path_factory.mktemp("policy"))


@pytest.fixture
def desk(redis_server, rdb, moderator, tmp_path):
    with review_app(redis_server.url, tmp_path / "data", moderator) as c:
        yield Desk(c)
    assert_events_sealable(rdb)


def test_claim_verdict_and_the_portal_sees_the_final_verdict(desk, rdb):
    made = desk.moderate("m-1", ID_CARD, channel="message")
    assert made["status"] == "pending"
    (got,) = desk.claimed("li.na", "message", n=5)
    assert got["id"] == made["item_id"] and got["data_id"] == "m-1"
    assert got["status"] == "claimed" and got["version"] == 2 and got["lease_expires_at"]
    assert desk.portal_item("m-1")["status"] == "claimed"
    r = desk.verdict("li.na", got, "reject", "personal_info", note="li.na: 公开他人身份证号")
    assert r.status_code == 200, r.text
    assert r.json() == {"id": got["id"], "outcome": "final", "status": "rejected",
                        "version": 3, "final": True}
    seen = desk.portal_item("m-1")
    assert seen["status"] == "rejected" and seen["version"] == 3
    assert seen["verdict"]["verdict"] == "reject"
    assert seen["verdict"]["reason_code"] == "personal_info"
    assert seen["verdict"]["decided_at"].endswith("Z")
    assert "li.na" not in json.dumps(seen, ensure_ascii=False)  # never the reviewer's name
    (dl,) = deliveries(rdb)
    assert dl["event"] == "item.decided" and dl["client"] == "portal-a"
    assert dl["item"] == keys.item("portal-a", "m-1")
    ttl = rdb.ttl(keys.item("portal-a", "m-1"))
    assert 29 * 86400 < ttl <= 30 * 86400  # decided: expires like other final items
    assert rdb.zcard(keys.CLAIMS) == 0 and rdb.zcard(keys.review_queue("message")) == 0
    assert rdb.zscore(keys.REVIEW_DUE, got["id"]) is None
    assert audit_actions(rdb)[-2:] == ["review.claimed", "review.decided"]
    # the same verdict again: the lease is gone, nothing more is delivered
    again = desk.verdict("li.na", {**got, "version": 3}, "reject", "personal_info")
    assert again.status_code == 409 and again.json()["error"]["code"] == "not_claimed"
    assert len(deliveries(rdb)) == 1


def test_stale_version_is_409_and_changes_nothing(desk, rdb):
    desk.moderate("v-1", ID_CARD, channel="message")
    (got,) = desk.claimed("li.na", "message")
    r = desk.verdict("li.na", {**got, "version": got["version"] - 1}, "approve")
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "stale_version" and r.json()["version"] == 2
    esc = desk.escalate("li.na", {**got, "version": 1})
    assert esc.status_code == 409 and esc.json()["error"]["code"] == "stale_version"
    assert desk.portal_item("v-1")["status"] == "claimed" and deliveries(rdb) == []
    assert desk.verdict("li.na", got, "approve").status_code == 200
    assert desk.portal_item("v-1")["status"] == "approved"


def test_only_the_lease_holder_decides(desk, rdb):
    desk.moderate("h-1", ID_CARD, channel="message")
    (got,) = desk.claimed("li.na", "message")
    for who in ("wang.fang", "zhao.lei", "admin"):
        r = desk.verdict(who, got, "approve")
        assert r.status_code == 409 and r.json()["error"]["code"] == "not_claimed"
    assert desk.claimed("wang.fang", "message") == []  # no item is held by two people
    bad = desk.verdict("li.na", got, "approve", reason_code="spam")
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_reason_code"
    worse = desk.verdict("li.na", got, "maybe")
    assert worse.status_code == 422
    assert deliveries(rdb) == []


def test_queues_and_their_permissions(desk):
    r = desk.claim("li.na", "weibo")
    assert r.status_code == 422 and r.json()["error"]["code"] == "unknown_queue"
    r = desk.claim("li.na", "escalated")
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    assert desk.claim("zhao.lei", "escalated").status_code == 200
    assert desk.c.post("/v1/review/claim", json={"queue": "post"}).status_code == 401
    desk.moderate("q-1", DRUGS, channel="comment")
    names = [q["queue"] for q in desk.c.get("/v1/review/queues",
                                            headers=desk.auth("li.na")).json()["queues"]]
    assert names == ["comment", "post", "message", "profile", "appeals", "qa"]
    senior = desk.c.get("/v1/review/queues", headers=desk.auth("zhao.lei")).json()["queues"]
    assert "escalated" in [q["queue"] for q in senior]
    comment = next(q for q in senior if q["queue"] == "comment")
    assert comment["depth"] == 1 and comment["overdue"] == 0
    assert comment["oldest_age_s"] is not None and comment["oldest_age_s"] >= 0


def test_escalation_goes_to_senior_reviewers(desk, rdb):
    desk.moderate("e-1", AD, channel="message")
    (got,) = desk.claimed("li.na", "message")
    r = desk.escalate("li.na", got, "不确定是否广告")
    assert r.status_code == 200 and r.json()["status"] == "escalated"
    assert desk.portal_item("e-1")["status"] == "escalated"
    assert desk.claim("li.na", "escalated").status_code == 403
    assert desk.claimed("wang.fang", "message") == []
    (held,) = desk.claimed("zhao.lei", "escalated")
    assert held["id"] == got["id"] and held["queue"] == "escalated"
    assert desk.escalate("zhao.lei", held).json()["error"]["code"] == "cannot_escalate"
    assert desk.verdict("zhao.lei", held, "reject", "advertising").status_code == 200
    assert desk.portal_item("e-1")["status"] == "rejected"
    assert len(deliveries(rdb)) == 1
    assert "review.escalated" in audit_actions(rdb)


def test_second_review_needs_a_different_reviewer(desk, rdb):
    desk.moderate("s-1", ID_CARD, channel="post")  # post: second_review = true
    (first,) = desk.claimed("li.na", "post")
    r = desk.verdict("li.na", first, "reject", "personal_info")
    assert r.status_code == 200
    assert r.json()["outcome"] == "awaiting_second_review" and r.json()["final"] is False
    assert desk.portal_item("s-1")["status"] == "pending" and deliveries(rdb) == []
    assert desk.claimed("li.na", "post") == []  # the first reviewer cannot confirm
    behind = desk.moderate("s-0", ID_CARD, channel="post")["item_id"]
    (skip,) = desk.claimed("li.na", "post", n=3)  # passes over the excluded head item
    assert skip["id"] == behind
    assert desk.verdict("li.na", skip, "approve").status_code == 200
    (second,) = desk.claimed("wang.fang", "post")
    assert second["id"] == first["id"]
    r = desk.verdict("wang.fang", second, "reject", "personal_info")
    assert r.json()["outcome"] == "final" and r.json()["status"] == "rejected"
    assert [d["event"] for d in deliveries(rdb)] == ["item.decided"] * 2
    view = desk.item("zhao.lei", first["id"])
    assert view["first_reject"]["by"] == "li.na" and view["verdict"]["by"] == "wang.fang"
    # an approve needs no confirmation
    desk.moderate("s-2", ID_CARD, channel="post")
    (other,) = desk.claimed("li.na", "post")
    assert desk.verdict("li.na", other, "approve").json()["outcome"] == "final"
    assert len(deliveries(rdb)) == 3


def test_appeal_goes_to_a_reviewer_who_did_not_decide(desk, rdb):
    desk.moderate("a-1", ID_CARD, channel="post")
    (x,) = desk.claimed("li.na", "post")
    desk.verdict("li.na", x, "reject", "personal_info")
    (y,) = desk.claimed("wang.fang", "post")
    desk.verdict("wang.fang", y, "reject", "personal_info")
    pending = desk.appeal("a-1", version=1)
    assert pending.status_code == 409 and pending.json()["error"]["code"] == "stale_version"
    r = desk.appeal("a-1")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "appealed"
    assert rdb.ttl(keys.item("portal-a", "a-1")) == -1  # re-opened: never expires now
    assert desk.claimed("li.na", "appeals") == []
    assert desk.claimed("wang.fang", "appeals") == []
    (z,) = desk.claimed("chen.jie", "appeals")
    r = desk.verdict("chen.jie", z, "approve", "personal_info")
    assert r.json()["outcome"] == "appeal_decided" and r.json()["status"] == "approved"
    seen = desk.portal_item("a-1")
    assert seen["status"] == "approved" and seen["verdict"]["verdict"] == "approve"
    assert not any(n in json.dumps(seen) for n in ("li.na", "wang.fang", "chen.jie"))
    assert [d["event"] for d in deliveries(rdb)] == ["item.decided", "appeal.decided"]
    again = desk.appeal("a-1")
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_appealed"
    desk.moderate("a-2", ID_CARD, channel="message")
    early = desk.appeal("a-2")
    assert early.status_code == 409 and early.json()["error"]["code"] == "not_appealable"
    assert desk.appeal("nope").status_code == 404
    assert "item.appealed" in audit_actions(rdb)


def test_machine_block_can_be_appealed(desk):
    desk.moderate("b-1", DRUGS, channel="post")  # blocked by the machine
    assert desk.appeal("b-1").json()["status"] == "appealed"
    (got,) = desk.claimed("li.na", "appeals")  # nobody decided it: anyone may take it
    assert desk.verdict("li.na", got, "reject", "drugs").json()["status"] == "rejected"


def test_qa_verdict_is_recorded_as_agreement(desk, rdb):
    desk.state.items.sample = lambda: 0.0  # every machine pass/block on `comment` sampled
    try:
        desk.moderate("qa-1", CLEAN, channel="comment")
        desk.moderate("qa-2", CLEAN, channel="comment")
    finally:
        del desk.state.items.sample
    assert rdb.zcard(keys.review_queue("qa")) == 2
    first, second = desk.claimed("li.na", "qa", n=2)
    assert first["status"] == "passed"  # a QA claim does not change what the portal sees
    assert desk.verdict("li.na", first, "approve").json()["outcome"] == "qa_agree"
    assert desk.verdict("li.na", second, "reject", "abuse").json()["outcome"] == "qa_disagree"
    seen = desk.portal_item("qa-1")
    assert seen["status"] == "passed" and seen["verdict"] is None
    assert deliveries(rdb) == []  # no final verdict: nothing to deliver
    qa = desk.c.get("/v1/stats", headers=desk.auth("zhao.lei")).json()["qa"]
    assert (qa["n"], qa["agree"], qa["agreement"]) == (2, 1, 0.5)
    lo, hi = qa["agreement_interval95"]
    assert 0.09 < lo < 0.1 and 0.9 < hi < 0.91  # Wilson, n = 2
    assert qa["by_channel_decision"]["comment:pass"]["n"] == 2


def test_reviewer_view_has_evidence_and_masks_personal_data(desk, rdb):
    desk.moderate("old-1", AD, channel="comment", author_ref="u-77")
    desk.moderate("r-1", ID_CARD + "，" + AD, channel="message", author_ref="u-77")
    desk.moderate("other", AD, channel="comment", author_ref="u-78")
    (got,) = desk.claimed("li.na", "message")
    view = desk.item("li.na", got["id"])
    assert view["status"] == "claimed" and view["holder"] == "li.na"
    assert "110101199003074514" not in json.dumps(view)
    assert "*" in view["masked_text"]
    (hit,) = view["decision"]["hits"]
    assert (hit["term"], hit["start"], hit["end"]) == ("加微信", 22, 25)
    assert view["decision"]["pii"][0]["type"] == "cn_id_card"
    assert view["decision"]["reasons"] and view["deadline_at"] and not view["overdue"]
    assert [h["action"] for h in view["history"]] == ["decided", "claimed"]
    assert [a["data_id"] for a in view["author_history"]] == ["old-1"]
    assert desk.c.post(f"/v1/review/items/{got['id']}/reveal",
                       headers=desk.auth("li.na")).status_code == 403
    r = desk.c.post(f"/v1/review/items/{got['id']}/reveal", headers=desk.auth("zhao.lei"))
    assert r.status_code == 200 and r.json()["content"].startswith(ID_CARD)
    assert audit_actions(rdb)[-1] == "review.revealed"
    events = [e[1]["e"] for e in rdb.xrange(keys.AUDIT_STREAM)]
    assert not any("110101199003074514" in e for e in events)
    assert desk.c.get("/v1/review/items/it_" + "0" * 32,
                      headers=desk.auth("li.na")).status_code == 404
    assert desk.c.get("/v1/review/items/nope", headers=desk.auth("li.na")).status_code == 422


def test_stats_for_senior_reviewers(desk, rdb):
    for i in range(3):
        desk.moderate(f"st-{i}", ID_CARD, channel="message")
    a, b = desk.claimed("li.na", "message", n=2)
    desk.verdict("li.na", a, "approve")
    desk.verdict("li.na", b, "reject", "personal_info")
    assert desk.c.get("/v1/stats", headers=desk.auth("li.na")).status_code == 403
    s = desk.c.get("/v1/stats", headers=desk.auth("zhao.lei")).json()
    assert s["by_status"]["approved"] == 1 and s["by_status"]["rejected"] == 1
    assert s["by_status"]["pending"] == 1 and s["queues"]["message"]["depth"] == 1
    (day,) = s["verdicts_per_reviewer_per_day"].values()
    assert day == {"li.na": 2}
    assert s["median_time_to_verdict_s"] >= 0 and s["time_to_verdict_sample"] == 2
    assert s["webhooks"] == {"waiting": 2, "failing": 0}
    assert s["overdue"] == 0 and s["qa"]["n"] == 0 and s["qa"]["agreement"] is None


def test_metrics_show_queues(desk):
    desk.moderate("mx-1", AD, channel="comment")
    text = desk.c.get("/metrics").text
    assert 'moderation_review_queue_depth{queue="comment"} 1' in text
    assert 'moderation_review_overdue_items{queue="comment"} 0' in text
    assert "moderation_pending_items 1" in text


def test_a_verdict_sent_twice_at_once_is_delivered_once(desk, rdb):
    """Two concurrent copies of one verdict (a double click, a retry): one is final, the
    other 409, and exactly one outbox delivery exists."""
    from concurrent.futures import ThreadPoolExecutor

    desk.moderate("d-1", ID_CARD, channel="message")
    (got,) = desk.claimed("li.na", "message")
    with ThreadPoolExecutor(8) as pool:
        codes = sorted(pool.map(lambda _: desk.verdict("li.na", got, "approve").status_code,
                                range(8)))
    assert codes == [200] + [409] * 7
    (dl,) = deliveries(rdb)
    assert dl["item"] == keys.item("portal-a", "d-1")
    assert rdb.hget(keys.REVIEW_COUNTS, "approved") == "1"
