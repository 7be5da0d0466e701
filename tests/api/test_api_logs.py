"""The request log: one JSON line per request on `api.access` (route template, status, time,
caller, outcome), and never the text or personal data of a request."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
from api_test_support import bearer

from api.logs import JsonFormatter
from api.store.statuses import Role

ID_CARD = "110101199003074514"
PHONE = "13912345678"
PASSWORD = "长城-correct-horse-1"


#: The test's HTTP client logs its own requests (URLs included): not the service's log.
CLIENT_SIDE = ("httpx", "httpcore")


class _Lines(logging.Handler):
    """Every record of the service, formatted by its JsonFormatter, as an operator sees it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if not record.name.startswith(CLIENT_SIDE):
            self.lines.append(self.format(record))

    def access(self) -> list[dict]:
        rows = [json.loads(line) for line in self.lines]
        return [r for r in rows if r["logger"] == "api.access"]


@pytest.fixture
def logged() -> Iterator[_Lines]:
    handler = _Lines()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield handler
    root.removeHandler(handler)
    root.setLevel(old_level)


def test_one_line_per_request_with_route_template_and_outcome(client, api_key, logged):
    r = client.post("/v1/moderate", headers={**bearer(api_key), "X-Request-ID": "req-42"},
                    json={"data_id": "log-1", "channel": "comment", "content": "出售冰毒"})
    assert r.status_code == 200
    client.get("/v1/items/log-1", headers=bearer(api_key))
    client.get("/v1/items/nosuch", headers=bearer(api_key))
    b = client.post("/v1/moderate/batch", headers=bearer(api_key), json={"items": [
        {"data_id": "log-2", "channel": "comment", "content": "路灯坏了"},
        {"data_id": "log-3", "channel": "post", "content": "路灯坏了"}]})
    h = client.get("/healthz")
    client.get("/no/such/route/" + PHONE)
    client.get("/docs-static/favicon.png")
    rows = logged.access()
    assert len(rows) == 7, rows
    moderate, item, missing, batch, health, unknown, static = rows
    for row in rows:
        assert set(row) >= {"ts", "request_id", "method", "route", "status", "ms"}
        assert row["level"] == "info" and row["ts"].endswith("Z")
        assert isinstance(row["ms"], float | int) and 0 <= row["ms"] < 10_000
    assert moderate | {"ms": 0, "ts": ""} == {
        "ts": "", "level": "info", "logger": "api.access", "msg": "request",
        "request_id": "req-42", "method": "POST", "route": "/v1/moderate", "status": 200,
        "ms": 0, "client": "portal-a", "decision": "block", "item_status": "blocked"}
    assert (item["method"], item["route"], item["status"], item["client"]) == (
        "GET", "/v1/items/{data_id}", 200, "portal-a")
    assert (missing["route"], missing["status"], missing["client"]) == (
        "/v1/items/{data_id}", 404, "portal-a")
    assert (batch["route"], batch["status"], batch["client"], batch["items"]) == (
        "/v1/moderate/batch", 200, "portal-a", 2)
    assert batch["request_id"] == b.json()["request_id"] == b.headers["x-request-id"]
    # Routes without their own request id get one, echoed to the caller.
    assert (health["route"], health["status"]) == ("/healthz", 200)
    assert health["request_id"] == h.headers["x-request-id"]
    assert "client" not in health and "user" not in health
    assert (unknown["route"], unknown["status"]) == (None, 404)  # never the raw path
    assert (static["route"], static["status"]) == ("/docs-static/{path}", 200)


def test_errors_before_the_route_are_logged_too(client, api_key, logged):
    client.post("/v1/moderate", json={"data_id": "x", "channel": "comment", "content": "好"})
    client.post("/v1/moderate", content=b"{" + b" " * 2_000_000 + b"}",
                headers={**bearer(api_key), "Content-Type": "application/json"})
    client.post("/v1/moderate", headers=bearer(api_key),
                json={"data_id": "bad id", "channel": "comment", "content": "好"})
    unauthorized, too_big, invalid = logged.access()
    assert (unauthorized["route"], unauthorized["status"]) == ("/v1/moderate", 401)
    assert "client" not in unauthorized
    assert (too_big["route"], too_big["status"]) == (None, 413)  # refused before routing
    assert (invalid["status"], invalid["client"]) == (422, "portal-a")
    assert "decision" not in invalid


def test_session_routes_log_the_user(client, call, state, logged):
    call(state.users.create, "admin", Role.ADMIN, PASSWORD)
    token = client.post("/v1/auth/login",
                        json={"username": "admin", "password": PASSWORD}).json()["token"]
    client.get("/v1/admin/users", headers=bearer(token))
    client.post("/v1/auth/logout", headers=bearer(token))
    login, users, logout = logged.access()
    assert (login["route"], login["status"]) == ("/v1/auth/login", 200)
    assert (users["route"], users["status"], users["user"]) == ("/v1/admin/users", 200, "admin")
    assert (logout["route"], logout["user"]) == ("/v1/auth/logout", "admin")


def test_no_text_or_personal_data_in_any_log_line(client, api_key, logged):
    text = f"我的身份证号是{ID_CARD}，电话{PHONE}，出售冰毒"
    r = client.post("/v1/moderate", headers=bearer(api_key), json={
        "data_id": "pii-1", "channel": "post", "title": f"求助{PHONE}", "content": text,
        "author_ref": "u-1029"})
    assert r.status_code == 200 and r.json()["status"] == "blocked"
    client.post("/v1/moderate", headers=bearer(api_key), json={
        "data_id": "pii-1", "channel": "post", "content": text + "改"})  # 409
    client.post("/v1/moderate/batch", headers=bearer(api_key), json={"items": [
        {"data_id": "pii-2", "channel": "comment", "content": text},
        {"data_id": f"bad {PHONE}", "channel": "comment", "content": text}]})
    client.get(f"/v1/items/{ID_CARD}", headers=bearer(api_key))
    client.get(f"/v1/items/pii-1?phone={PHONE}", headers=bearer(api_key))
    assert len(logged.access()) == 5
    everything = "\n".join(logged.lines)
    for needle in (ID_CARD, PHONE, "1101011990", "出售冰毒", "身份证", "u-1029", api_key):
        assert needle not in everything, needle
