"""The reviewer pages over HTTP (no browser): login with CSRF and lockout, security
headers, queues, claim, the item page's escaped highlights, verdicts, and the clear refusal
of a lost lease. The browser tests (tests/ui/) drive the same pages in chromium."""

from __future__ import annotations

import html
import re
import time

import pytest
from review_support import AD, DRUGS, ID_CARD, PASSWORD, Desk, review_app, review_moderator
from ui_support import csrf_in, post_form, ui_login

from api.store import keys
from api.ui_security import CSP


@pytest.fixture(scope="module")
def moderator(tmp_path_factory):
    return review_moderator(tmp_path_factory.mktemp("policy"))


@pytest.fixture
def desk(redis_server, rdb, moderator, tmp_path):
    with review_app(redis_server.url, tmp_path / "data", moderator) as c:
        yield Desk(c)


def test_pages_carry_the_csp_and_docs_do_not(desk):
    r = desk.c.get("/review/login")
    assert r.status_code == 200
    csp = r.headers["content-security-policy"]
    assert csp == CSP
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "object-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["cache-control"] == "no-store"
    assert "<script>" not in r.text and " style=" not in r.text  # nothing inline
    js = desk.c.get("/review/static/ui.js")
    assert js.status_code == 200 and "content-security-policy" in js.headers
    assert "content-security-policy" not in desk.c.get("/docs").headers
    assert "content-security-policy" not in desk.c.get("/healthz").headers


def test_login_sets_a_strict_httponly_cookie_and_needs_the_form_token(desk):
    c = desk.c
    c.cookies.clear()
    c.get("/review/login")
    bad = c.post("/review/login", data={"username": "li.na", "password": PASSWORD,
                                        "csrf": "forged"}, follow_redirects=False)
    assert bad.status_code == 403 and "session" not in bad.cookies
    r = ui_login(c, "li.na")
    assert r.status_code == 303 and r.headers["location"] == "/review/queues"
    cookie = [v for k, v in r.headers.multi_items() if k == "set-cookie"
              and v.startswith("session=")][0]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # cookie_secure is off without TLS
    page = c.get("/review/queues")
    assert page.status_code == 200 and "li.na" in page.text
    # logging out needs the page's token too
    assert c.post("/review/logout", data={"csrf": "x"}).status_code == 403
    out = post_form(c, "/review/logout", page.text)
    assert out.status_code == 303
    assert c.get("/review/queues", follow_redirects=False).headers["location"] == \
        "/review/login"


def test_a_locked_out_user_sees_why(desk):
    for _ in range(5):
        assert ui_login(desk.c, "wang.fang", "wrong-password").status_code == 401
    r = ui_login(desk.c, "wang.fang")  # the right password, during the lockout
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
    assert "锁定" in r.text and "session" not in r.cookies


def test_forms_without_the_session_token_change_nothing(desk, rdb):
    desk.moderate("p-1", AD, channel="comment")
    ui_login(desk.c, "li.na")
    r = desk.c.post("/review/claim", data={"queue": "comment"}, follow_redirects=False)
    assert r.status_code == 403 and "CSRF" in r.text
    assert rdb.zcard(keys.review_queue("comment")) == 1
    # a JSON body is not a form either
    r = desk.c.post("/review/claim", json={"queue": "comment", "csrf": "x"})
    assert r.status_code == 403


def test_claim_item_page_and_verdict_then_the_next_item(desk, rdb):
    desk.moderate("c-1", f"有人{DRUGS}，联系{ID_CARD}", channel="comment",
                  author_ref="user-7")
    desk.moderate("c-2", AD, channel="comment", author_ref="user-7")
    ui_login(desk.c, "li.na")
    queues = desk.c.get("/review/queues")
    assert 'data-queue="comment" data-depth="2"' in queues.text
    r = post_form(desk.c, "/review/claim", queues.text, queue="comment")
    assert r.status_code == 303
    url = r.headers["location"]
    assert re.match(r"^/review/items/it_[0-9a-f]{32}\?q=comment$", url)
    page = desk.c.get(url)
    assert page.status_code == 200
    text = page.text
    # the hit is highlighted at its span with category and severity, the ID card masked
    view = desk.call(desk.state.review.item, url.split("/")[3].split("?")[0], 0)
    for i, hit in enumerate(view["decision"]["hits"]):
        spans = [(int(a), int(b)) for a, b in re.findall(
            rf'data-refs="[^"]*\bh{i}\b[^"]*" data-start="(\d+)" data-end="(\d+)"', text)]
        assert spans and spans[0][0] == hit["start"] and spans[-1][1] == hit["end"]
    assert "毒品 · 拦截" in text
    assert "110101199003074514" not in text and "身份证号" in text
    assert 'id="lease" data-expires=' in text
    m = re.search(r'name="version" value="(\d+)"', text)
    assert m
    done = post_form(desk.c, f"{url.split('?')[0]}/decide", text, version=m.group(1),
                     action="reject", reason_code="drugs", note="贩毒", queue="comment")
    assert done.status_code == 303
    assert done.headers["location"].endswith("&m=rejected")  # the next item, claimed
    nxt = desk.c.get(done.headers["location"])
    assert "已驳回" in nxt.text and "加微信" in html.unescape(nxt.text)


def test_a_lost_lease_is_a_clear_refusal_not_an_overwrite(desk, rdb):
    desk.moderate("c-9", AD, channel="comment")
    ui_login(desk.c, "li.na")
    queues = desk.c.get("/review/queues")
    url = post_form(desk.c, "/review/claim", queues.text, queue="comment").headers["location"]
    page = desk.c.get(url)
    item_id = url.split("/")[3].split("?")[0]
    key = rdb.get(keys.item_id(item_id))
    rdb.hset(key, "lease_ms", int(time.time() * 1000) - 1)  # the lease ran out
    version = re.search(r'name="version" value="(\d+)"', page.text).group(1)
    r = post_form(desk.c, f"/review/items/{item_id}/decide", page.text, version=version,
                  action="approve", reason_code="other", queue="comment")
    assert r.status_code == 409
    assert "租约已过期" in r.text and "没有保存" in r.text
    assert rdb.hget(key, "verdict") in (None, "", "null")  # nothing decided


def test_reveal_is_for_senior_reviewers_and_audited(desk, rdb):
    desk.moderate("m-1", ID_CARD, channel="message")
    item_id = desk.claimed("li.na", "message")[0]["id"]
    ui_login(desk.c, "li.na")
    page = desk.c.get(f"/review/items/{item_id}")
    assert 'id="reveal"' not in page.text
    r = post_form(desk.c, f"/review/items/{item_id}/reveal", page.text)
    assert r.status_code == 403
    ui_login(desk.c, "zhao.lei")
    page = desk.c.get(f"/review/items/{item_id}")
    assert 'id="reveal"' in page.text and "110101199003074514" not in page.text
    before = rdb.xlen(keys.AUDIT_STREAM)
    r = post_form(desk.c, f"/review/items/{item_id}/reveal", page.text)
    assert r.status_code == 200 and "110101199003074514" in r.text
    events = [e for _, e in rdb.xrange(keys.AUDIT_STREAM)][before:]
    assert any('"review.revealed"' in e["e"] for e in events)
    assert csrf_in(r.text)
