"""The admin pages over HTTP (no browser): role checks, lexicon draft → dry run → publish →
rollback, users and API keys, the audit viewer and its verify button, the dashboard."""

from __future__ import annotations

import re

import pytest
from review_support import AD, Desk, review_app, review_moderator
from ui_support import csrf_in, post_form, ui_login

from api.store import keys


@pytest.fixture(scope="module")
def moderator(tmp_path_factory):
    return review_moderator(tmp_path_factory.mktemp("policy"))


@pytest.fixture
def desk(redis_server, rdb, moderator, tmp_path):
    with review_app(redis_server.url, tmp_path / "data", moderator) as c:
        yield Desk(c)


@pytest.mark.parametrize("url", ["/review/admin/lexicon", "/review/admin/users",
                                 "/review/admin/audit"])
def test_admin_pages_need_the_admin_role(desk, url):
    assert desk.c.get(url, follow_redirects=False).headers["location"] == "/review/login"
    ui_login(desk.c, "zhao.lei")  # senior
    assert desk.c.get(url).status_code == 403
    assert desk.c.get("/review/admin/dashboard").status_code == 200
    ui_login(desk.c, "li.na")
    assert desk.c.get("/review/admin/dashboard").status_code == 403


def test_edit_a_term_dry_run_publish_and_roll_back(desk, rdb):
    desk.moderate("d-1", AD, channel="comment")
    ui_login(desk.c, "admin")
    page = desk.c.get("/review/admin/lexicon", params={"q": "加微信"})
    assert page.status_code == 200 and 'data-term="加微信"' in page.text
    r = post_form(desk.c, "/review/admin/lexicon/draft", page.text, kind="edit",
                  term="加微信", category="advertising", severity="block",
                  match="substring", base_version="1")
    assert r.status_code == 303, r.text
    draft = desk.c.get(r.headers["location"])
    assert "草稿已创建" in draft.text
    assert re.search(r'id="dry-changed">1<', draft.text)  # review → block on stored d-1
    done = post_form(desk.c, r.headers["location"].split("?")[0] + "/publish", draft.text)
    assert done.status_code == 303 and done.headers["location"].endswith("m=published")
    assert desk.moderate("d-2", AD, channel="comment")["decision"] == "block"
    page = desk.c.get("/review/admin/lexicon")
    assert "当前版本 v2" in page.text
    r = post_form(desk.c, "/review/admin/lexicon/versions/1/rollback", page.text,
                  base_version="2")
    assert r.status_code == 303 and r.headers["location"].endswith("m=rolled_back")
    assert desk.moderate("d-3", AD, channel="comment")["decision"] == "review"
    # a change on an old base is refused, not applied over the newer version
    stale = post_form(desk.c, "/review/admin/lexicon/draft", page.text, kind="remove",
                      term="加微信", base_version="2")
    assert stale.status_code == 409 and "新版本" in stale.text


def test_users_and_keys(desk, rdb):
    ui_login(desk.c, "admin")
    page = desk.c.get("/review/admin/users")
    r = post_form(desk.c, "/review/admin/users/create-user", page.text, username="sun.li",
                  role="reviewer", password="短")
    assert r.status_code == 422 and "8" in r.text
    r = post_form(desk.c, "/review/admin/users/create-user", page.text, username="sun.li",
                  role="reviewer", password="a-long-password")
    assert r.status_code == 303
    r = post_form(desk.c, "/review/admin/users/update-user", page.text, username="sun.li",
                  role="senior")
    assert r.status_code == 303 and rdb.hget(keys.user("sun.li"), "role") == "senior"
    r = post_form(desk.c, "/review/admin/users/update-user", page.text, username="sun.li",
                  disabled="1")
    assert rdb.hget(keys.user("sun.li"), "disabled") == "1"
    r = post_form(desk.c, "/review/admin/users/create-key", page.text, client="portal-b",
                  rate_limit="50")
    assert r.status_code == 201
    key = re.search(r'<pre class="secret">(pmk_[^<]+)</pre>', r.text).group(1)
    assert desk.c.post("/v1/moderate", headers={"Authorization": f"Bearer {key}"},
                       json={"data_id": "k-1", "channel": "comment",
                             "content": "你好"}).status_code == 200
    key_id = re.search(r'data-key="(k_[0-9a-f]+)"[^$]*?portal-b', r.text, re.S).group(1)
    r = post_form(desk.c, "/review/admin/users/update-key", page.text, id=key_id,
                  rate_limit="7")
    assert r.status_code == 303
    listed = {k.id: k for k in desk.call(desk.state.apikeys.list)}
    assert listed[key_id].rate_limit == 7


def test_audit_viewer_filters_and_verifies(desk, rdb):
    ui_login(desk.c, "admin")
    page = desk.c.get("/review/admin/audit", params={"action": "user.login"})
    assert page.status_code == 200 and "user:admin" in page.text
    assert "user.created" not in page.text
    r = post_form(desk.c, "/review/admin/audit/verify", page.text)
    assert r.status_code == 200 and 'id="verify-result"' in r.text
    assert "哈希链完整" in r.text  # nothing sealed yet (sealer off): nothing broken
    assert csrf_in(r.text)


def test_dashboard_shows_traffic_and_charts(desk):
    desk.moderate("s-1", AD, channel="comment")
    desk.moderate("s-2", "小区路灯坏了", channel="comment")
    ui_login(desk.c, "admin")
    page = desk.c.get("/review/admin/dashboard")
    assert page.status_code == 200
    assert 'id="chart-outcome"' in page.text and "<rect" in page.text
    assert "加微信" in page.text  # top hit terms
    assert re.search(r'id="stat-pending">1<', page.text)
