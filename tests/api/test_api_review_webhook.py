"""The two halves of the review workflow together: a reviewer's final verdict (and an
appeal's) reaches the portal's registered webhook, signed, with the item as the portal sees
it and no reviewer's name; a first reject under second review sends nothing yet."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

from review_support import AD, Desk, review_app, review_moderator
from webhook_receiver import Receiver


def signed_by(secret: str, got: Any) -> bool:
    parts = dict(p.split("=", 1) for p in got.headers["x-signature"].split(","))
    mac = hmac.new(secret.encode(), parts["t"].encode() + b"." + got.body, hashlib.sha256)
    return hmac.compare_digest(mac.hexdigest(), parts["v1"]) and \
        abs(time.time() - int(parts["t"])) < 300


def test_verdicts_and_appeals_reach_the_portal_webhook(redis_server, rdb, tmp_path):
    receiver = Receiver().start()
    try:
        with review_app(redis_server.url, tmp_path / "data", review_moderator(tmp_path),
                        webhook_worker_enabled=True, webhook_poll_s=0.05,
                        callback_allow_origins=receiver.origin) as c:
            desk = Desk(c)
            hooks = desk.state.webhooks
            secret, _ = desk.call(hooks.set, "portal-a", receiver.url(),
                                  allow_origins=receiver.origin)

            # post: second review is on, so a first reject is not final and sends nothing
            desk.moderate("p-1", AD, channel="post")
            (item,) = desk.claimed("li.na", "post")
            first = desk.verdict("li.na", item, "reject", "advertising", note="私下联系")
            assert first.status_code == 200 and first.json()["outcome"] == \
                "awaiting_second_review", first.text
            time.sleep(0.5)
            assert receiver.requests == []
            (again,) = desk.claimed("wang.fang", "post")
            final = desk.verdict("wang.fang", again, "reject", "advertising")
            assert final.status_code == 200, final.text

            (got,) = receiver.wait_for(1)
            assert signed_by(secret, got)
            body = json.loads(got.body)
            assert body["event"] == "item.decided" and body["attempt"] == 1
            assert body["delivery_id"] == got.headers["x-delivery-id"]
            assert body["item"] == desk.portal_item("p-1")  # exactly what the portal can read
            assert body["item"]["status"] == "rejected"
            assert body["item"]["verdict"]["reason_code"] == "advertising"
            raw = got.body.decode()
            for name in ("li.na", "wang.fang", "私下联系"):
                assert name not in raw

            # the portal appeals; a third reviewer approves; the portal hears of it
            assert desk.appeal("p-1").status_code == 200
            (appealed,) = desk.claimed("chen.jie", "appeals")
            assert desk.verdict("chen.jie", appealed, "approve").status_code == 200
            second = receiver.wait_for(2)[1]
            assert signed_by(secret, second)
            decided = json.loads(second.body)
            assert decided["event"] == "appeal.decided"
            assert decided["item"]["status"] == "approved"
            assert "chen.jie" not in second.body.decode()
    finally:
        receiver.stop()
