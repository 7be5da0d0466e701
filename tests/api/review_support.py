"""Helpers of the review workflow tests: an app on the session Redis with a test policy
(second review on `post`, QA sampling on `comment`, drugs sent to review on `comment` so a
review item can carry a block-severity hit), people of each role, and thin HTTP helpers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from api_test_support import bearer
from fastapi.testclient import TestClient

from api.main import create_app
from api.settings import Settings
from api.store import keys
from api.store.statuses import Role
from moderation.pipeline import Moderator, load_moderator

PASSWORD = "长城-correct-horse-1"
PEOPLE = {"li.na": Role.REVIEWER, "wang.fang": Role.REVIEWER, "chen.jie": Role.REVIEWER,
          "zhao.lei": Role.SENIOR, "admin": Role.ADMIN}

POLICY = """
name = "review-test"
[pii]
cn_id_card = "review"
bank_card = "review"

[channels.comment]
mode = "post"
sla_minutes = 30
qa_sample = 0.1
[channels.comment.categories]
drugs = "review"

[channels.post]
mode = "pre"
sla_minutes = 240
second_review = true

[channels.message]
mode = "pre"
sla_minutes = 240

[channels.profile]
mode = "pre"
sla_minutes = 1440
"""

ID_CARD = "身份证110101199003074514"  # PII: review on every channel
DRUGS = "出售冰毒"  # block-severity term; review on `comment` under POLICY
AD = "加微信领取福利"  # review-severity term
CLEAN = "小区门口的路灯坏了，希望尽快修理。"


def review_moderator(tmp: Path) -> Moderator:
    path = tmp / "policy.toml"
    path.write_text(POLICY, encoding="utf-8")
    return load_moderator(None, path, None)


@contextmanager
def review_app(redis_url: str, data_dir: Path, moderator: Moderator,
               **over: Any) -> Iterator[TestClient]:
    base: dict[str, Any] = dict(redis_url=redis_url, data_dir=data_dir, sealer_enabled=False,
                                model="none", workers=1, argon2_time_cost=1,
                                argon2_memory_kib=1024, review_interval_s=0.2,
                                # tests read the outbox themselves (no webhook worker)
                                webhook_worker_enabled=False)
    base.update(over)
    with TestClient(create_app(Settings(**base), moderator)) as client:
        yield client


class Desk:
    """The portal (one API key) and the people, on one app."""

    def __init__(self, client: TestClient) -> None:
        self.c = client
        self.state = client.app.state.app_state
        self.key, _ = self.call(self.state.apikeys.create, "portal-a")
        self.tokens: dict[str, str] = {}
        for name, role in PEOPLE.items():
            self.call(self.state.users.create, name, role, PASSWORD)

    def call(self, fn: Any, *args: Any, **kw: Any) -> Any:
        return self.c.portal.call(lambda: fn(*args, **kw))

    def moderate(self, data_id: str, content: str, channel: str = "post",
                 **extra: Any) -> dict[str, Any]:
        r = self.c.post("/v1/moderate", headers=bearer(self.key),
                        json={"data_id": data_id, "channel": channel, "content": content,
                              **extra})
        assert r.status_code == 200, r.text
        return r.json()

    def portal_item(self, data_id: str) -> dict[str, Any]:
        r = self.c.get(f"/v1/items/{data_id}", headers=bearer(self.key))
        assert r.status_code == 200, r.text
        return r.json()

    def appeal(self, data_id: str, reason: str = "我们认为这条留言没有违规。", **body: Any):
        return self.c.post(f"/v1/items/{data_id}/appeal", headers=bearer(self.key),
                           json={"reason": reason, **body})

    def auth(self, who: str) -> dict[str, str]:
        if who not in self.tokens:
            r = self.c.post("/v1/auth/login", json={"username": who, "password": PASSWORD})
            assert r.status_code == 200, r.text
            self.tokens[who] = r.json()["token"]
            self.c.cookies.clear()  # every call names its person by the bearer token
        return bearer(self.tokens[who])

    def claim(self, who: str, queue: str, n: int = 1):
        return self.c.post("/v1/review/claim", headers=self.auth(who),
                           json={"queue": queue, "n": n})

    def claimed(self, who: str, queue: str, n: int = 1) -> list[dict[str, Any]]:
        r = self.claim(who, queue, n)
        assert r.status_code == 200, r.text
        return r.json()["items"]

    def verdict(self, who: str, item: dict[str, Any], verdict: str = "approve",
                reason_code: str = "other", **extra: Any):
        body = {"version": item["version"], "verdict": verdict, "reason_code": reason_code,
                **extra}
        return self.c.post(f"/v1/review/items/{item['id']}/verdict", headers=self.auth(who),
                           json=body)

    def escalate(self, who: str, item: dict[str, Any], note: str = "需要上级判断"):
        return self.c.post(f"/v1/review/items/{item['id']}/escalate", headers=self.auth(who),
                           json={"version": item["version"], "note": note})

    def item(self, who: str, item_id: str) -> dict[str, Any]:
        r = self.c.get(f"/v1/review/items/{item_id}", headers=self.auth(who))
        assert r.status_code == 200, r.text
        return r.json()


def audit_actions(rdb: Any) -> list[str]:
    return [json.loads(e[1]["e"])["action"] for e in rdb.xrange(keys.AUDIT_STREAM)]


def deliveries(rdb: Any) -> list[dict[str, str]]:
    return [rdb.hgetall(keys.delivery(d)) for d in rdb.zrange(keys.OUTBOX, 0, -1)]


def assert_events_sealable(rdb: Any) -> None:
    """Every audit event (those filled in by the review scripts too) is exactly what
    `event_json` writes, so the sealer chains it as fine."""
    from api.audit.chain import malformed

    for stream_id, fields in rdb.xrange(keys.AUDIT_STREAM):
        assert malformed(fields.get("e"), stream_id) is None, fields
