"""/healthz, /readyz, /metrics and the OpenAPI docs."""

from __future__ import annotations

import re
import time

from api_test_support import bearer


def metric(text: str, name: str, labels: str = "") -> float:
    pattern = re.escape(name + (("{" + labels + "}") if labels else "")) + r" (\S+)"
    m = re.search(r"^" + pattern + "$", text, re.M)
    return float(m.group(1)) if m else 0.0


def test_readyz_reports_versions(client, moderator):
    r = client.get("/readyz")
    assert r.status_code == 200
    assert r.json()["ready"] is True
    # the store's lexicon version (lexicon management: version 1 seeded from the directory)
    assert r.json()["versions"] == {**moderator.versions.to_dict(), "lexicon": 1}
    assert client.get("/healthz").json() == {"status": "ok"}


def test_metrics_count_decisions_and_read_the_queue(client, api_key):
    before = client.get("/metrics").text
    texts = [("post", "身份证110101199003074514"),
             ("post", "我的身份证是110101199003074514，请核实"),
             ("comment", "出售冰毒"), ("comment", "路灯坏了")]
    for i, (ch, t) in enumerate(texts):
        assert client.post("/v1/moderate", headers=bearer(api_key),
                           json={"data_id": f"m-{i}", "channel": ch, "content": t}
                           ).status_code == 200
    time.sleep(0.05)
    after = client.get("/metrics").text
    assert metric(after, "moderation_pending_items") == 2
    assert metric(after, "moderation_oldest_pending_age_seconds") > 0
    for labels, n in [('channel="post",decision="review"', 2),
                      ('channel="comment",decision="block"', 1),
                      ('channel="comment",decision="pass"', 1)]:
        got = metric(after, "moderation_decisions_total", labels) - metric(
            before, "moderation_decisions_total", labels)
        assert got == n, labels
    cat = 'category="drugs",decision="block"'
    assert metric(after, "moderation_decision_categories_total", cat) - metric(
        before, "moderation_decision_categories_total", cat) == 1
    lat = 'route="moderate"'
    assert metric(after, "moderation_request_seconds_count", lat) - metric(
        before, "moderation_request_seconds_count", lat) == 4
    assert "moderation_store_up 1" in after


def test_openapi_documents_every_route(client):
    spec = client.get("/openapi.json").json()
    paths = set(spec["paths"])
    assert {"/v1/moderate", "/v1/moderate/batch", "/v1/items/{data_id}", "/v1/auth/login",
            "/v1/auth/logout", "/v1/admin/users", "/v1/admin/users/{username}",
            "/v1/admin/apikeys", "/v1/admin/apikeys/{key_id}", "/healthz", "/readyz",
            "/metrics"} <= paths
    assert client.get("/docs").status_code == 200
