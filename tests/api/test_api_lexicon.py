"""Lexicon management through the API on a real Redis: seed, drafts, publish (decisions
and /readyz report the version), rollback, 409 on a stale base, dry run, two-person rule,
suggestions; every change audited in the same call."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from api_test_support import bearer

from api.store import keys
from api.store.statuses import Role
from moderation.lexicon import Lexicon
from moderation.pipeline import SHIPPED_LEXICON

PASSWORD = "长城-correct-horse-1"
NEW_TERM = {"term": "出售假证件", "category": "fraud", "severity": "block"}
TEXT = "本店出售假证件，价格优惠"


@pytest.fixture
def reloader(client):
    return client.app.state.lexicon_reloader


@pytest.fixture
def lex(client, call, reloader, rdb):
    """A flushed store re-seeded from the shipped directory; afterwards the app goes back
    to the seed so later tests of the session see the shipped lexicon."""
    call(reloader.start)
    yield client
    rdb.flushall()
    call(reloader.start)


def session_of(client, call, state, name: str) -> dict[str, str]:
    call(state.users.create, name, Role.ADMIN, PASSWORD)
    r = client.post("/v1/auth/login", json={"username": name, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return bearer(r.json()["token"])


@pytest.fixture
def admin(lex, call, state):
    return session_of(lex, call, state, "admin")


def moderate(client, key: str, data_id: str, content: str = TEXT, **extra) -> dict:
    r = client.post("/v1/moderate", headers=bearer(key),
                    json={"data_id": data_id, "channel": "comment", "content": content,
                          **extra})
    assert r.status_code == 200, r.text
    return r.json()


def draft(client, admin, **changes) -> dict:
    r = client.post("/v1/lexicon/drafts", headers=admin, json=changes)
    assert r.status_code == 201, r.text
    return r.json()


def publish(client, admin, draft_id: str):
    return client.post(f"/v1/lexicon/drafts/{draft_id}/publish", headers=admin)


def events(rdb, prefix: str) -> list[dict]:
    out = [json.loads(e[1]["e"]) for e in rdb.xrange(keys.AUDIT_STREAM)]
    return [e for e in out if e["action"].startswith(prefix)]


def test_a_fresh_store_is_seeded_with_version_1_from_the_directory(lex, admin, rdb):
    shipped = Lexicon.load(SHIPPED_LEXICON)
    got = lex.get("/v1/lexicon", headers=admin).json()
    assert got["version"] == 1 and got["content_hash"] == shipped.content_hash
    assert got["live_version"] == 1 and got["counts"]["allow"] == len(shipped.allow)
    assert lex.get("/readyz").json()["versions"]["lexicon"] == 1
    assert events(rdb, "lexicon.") == []  # the automatic seed is no one's change
    (v1,) = lex.get("/v1/lexicon/versions", headers=admin).json()["versions"]
    assert (v1["action"], v1["author"], v1["version"]) == ("seed", "system", 1)
    page = lex.get("/v1/lexicon/terms", headers=admin,
                   params={"q": "冰 毒", "category": "drugs"}).json()
    assert any(t["term"] == "冰毒" for t in page["terms"]) and page["version"] == 1


def test_publish_goes_live_with_its_version_and_is_audited(lex, admin, api_key, rdb):
    before = moderate(lex, api_key, "p-1")
    assert before["decision"] == "pass" and before["versions"]["lexicon"] == 1
    d = draft(lex, admin, add=[NEW_TERM], note="ticket 42")
    assert d["base_version"] == 1 and d["status"] == "open"
    r = publish(lex, admin, d["id"])
    assert r.status_code == 200, r.text
    meta = r.json()
    assert meta["version"] == 2 and meta["base"] == 1 and meta["author"] == "user:admin"
    after = moderate(lex, api_key, "p-2")
    assert after["decision"] == "block" and after["versions"]["lexicon"] == 2
    (hit,) = after["hits"]
    assert (hit["term"], hit["start"], hit["end"]) == ("出售假证件", 2, 7)
    assert after["versions"]["lexicon_hash"] == meta["content_hash"]
    assert lex.get("/readyz").json()["versions"]["lexicon"] == 2
    published = events(rdb, "lexicon.publish")
    assert len(published) == 1 and published[0]["actor"] == "user:admin"
    assert published[0]["details"]["changes"]["add"] == 1
    assert published[0]["details"]["note_sha256"]  # the why, as a digest
    assert lex.get(f"/v1/lexicon/drafts/{d['id']}", headers=admin).json()["status"] == \
        "published"
    assert publish(lex, admin, d["id"]).status_code == 409  # once only


def test_rollback_restores_the_previous_decisions_exactly(lex, admin, api_key):
    texts = [TEXT, "出售冰毒，量大从优", "小区门口的路灯坏了", "加我微信领取注册送彩金"]
    v1 = [moderate(lex, api_key, f"a-{i}", t) for i, t in enumerate(texts)]
    d = draft(lex, admin, add=[NEW_TERM], remove=["注册送彩金"],
              edit=[{"term": "出售冰毒", "category": "drugs", "severity": "review"}])
    assert publish(lex, admin, d["id"]).status_code == 200
    v2 = [moderate(lex, api_key, f"b-{i}", t) for i, t in enumerate(texts)]
    assert [x["decision"] for x in v2] != [x["decision"] for x in v1]
    r = lex.post("/v1/lexicon/versions/1/rollback", headers=admin, json={"note": "undo"})
    assert r.status_code == 200, r.text
    meta = r.json()
    assert meta["version"] == 3 and meta["rollback_of"] == 1
    assert meta["content_hash"] == v1[0]["versions"]["lexicon_hash"]
    v3 = [moderate(lex, api_key, f"c-{i}", t) for i, t in enumerate(texts)]
    strip = ("request_id", "data_id", "item_id", "versions")
    for old, new in zip(v1, v3, strict=True):
        assert {k: v for k, v in old.items() if k not in strip} == \
            {k: v for k, v in new.items() if k not in strip}
        assert new["versions"]["lexicon"] == 3
    versions = lex.get("/v1/lexicon/versions", headers=admin).json()["versions"]
    assert [v["version"] for v in versions] == [3, 2, 1]
    assert lex.post("/v1/lexicon/versions/9/rollback", headers=admin).status_code == 404


def test_concurrent_publishes_never_lose_a_change(lex, admin, call, state):
    second = session_of(lex, call, state, "admin2")
    a = draft(lex, admin, add=[NEW_TERM])
    b = draft(lex, second, add=[{"term": "办理假学历", "category": "fraud",
                                 "severity": "block"}])
    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda x: publish(lex, *x),
                                [(admin, a["id"]), (second, b["id"])]))
    codes = sorted(r.status_code for r in answers)
    assert codes == [200, 409], [r.text for r in answers]
    lost = next(r for r in answers if r.status_code == 409).json()
    assert lost["error"]["code"] == "stale_version" and lost["current_version"] == 2
    # the loser starts again from version 2: both changes end up in version 3
    winner = next(r for r in answers if r.status_code == 200).json()
    redo = draft(lex, admin, add=[NEW_TERM if winner["draft_id"] == b["id"] else
                                  {"term": "办理假学历", "category": "fraud",
                                   "severity": "block"}])
    assert redo["base_version"] == 2
    assert publish(lex, admin, redo["id"]).json()["version"] == 3
    terms = {t["term"] for t in lex.get("/v1/lexicon/terms", headers=admin,
                                        params={"category": "fraud", "per_page": 500}
                                        ).json()["terms"]}
    assert {"出售假证件", "办理假学历"} <= terms
    # a draft on an old base is refused at creation too
    r = lex.post("/v1/lexicon/drafts", headers=admin, json={"add": [NEW_TERM],
                                                             "base_version": 1})
    assert r.status_code == 409 and r.json()["error"]["code"] == "stale_version"


def test_a_draft_with_bad_changes_names_every_one(lex, admin):
    r = lex.post("/v1/lexicon/drafts", headers=admin, json={
        "add": [{"term": "冰毒", "category": "drugs", "severity": "block"},
                {"term": "新词", "category": "nope", "severity": "block"},
                {"term": "***", "category": "fraud", "severity": "block"}],
        "remove": ["不存在的词"], "allow_remove": ["不存在的短语"]})
    assert r.status_code == 422
    body = r.json()
    assert body["error"]["code"] == "invalid_lexicon_change"
    problems = body["problems"]
    assert len(problems) == 5, problems
    assert [p.split(":")[0] for p in problems] == ["add[0]", "add[1]", "add[2]", "remove[0]",
                                                   "allow_remove[0]"]
    assert lex.post("/v1/lexicon/drafts", headers=admin, json={}).status_code == 422


def test_dry_run_reports_the_changes_on_stored_items(lex, admin, api_key):
    stored = {"d-1": TEXT, "d-2": "出售冰毒，量大从优", "d-3": "小区门口的路灯坏了",
              "d-4": "这里有人在卖假证件吗"}
    for data_id, text in stored.items():
        moderate(lex, api_key, data_id, text)
    d = draft(lex, admin, add=[NEW_TERM, {"term": "假证件", "category": "fraud",
                                          "severity": "review"}],
              edit=[{"term": "出售冰毒", "category": "drugs", "severity": "review"}])
    r = lex.post(f"/v1/lexicon/drafts/{d['id']}/dry-run", headers=admin, json={})
    assert r.status_code == 200, r.text
    rep = r.json()
    assert rep["items"] == 4 and rep["changed"] == 3 and rep["unchanged"] == 1
    assert rep["transitions"] == {"block→review": 1, "pass→block": 1, "pass→review": 1}
    by_id = {e["data_id"]: e for e in rep["examples"]}
    assert set(by_id) == {"d-1", "d-2", "d-4"}
    assert [(h["term"], h["start"], h["end"]) for h in by_id["d-4"]["added_hits"]] == \
        [("假证件", 6, 9)]
    assert by_id["d-1"]["from"] == "pass" and by_id["d-1"]["to"] == "block"
    # nothing was published by the dry run
    assert lex.get("/v1/lexicon", headers=admin).json()["version"] == 1
    limited = lex.post(f"/v1/lexicon/drafts/{d['id']}/dry-run", headers=admin,
                       json={"limit": 2}).json()
    assert limited["items"] == 2


def test_dry_run_reuses_the_stored_model_scores(lex, admin, api_key, rdb):
    moderate(lex, api_key, "m-1", "你这个人真是不讲道理")
    key = keys.item("portal-a", "m-1")
    decision = json.loads(rdb.hget(key, "decision"))
    decision["labels"] = [{"label": "offensive", "score": 0.9}]  # as a model had scored it
    rdb.hset(key, "decision", json.dumps(decision, ensure_ascii=False))
    d = draft(lex, admin, add=[{"term": "不讲道理", "category": "abuse", "severity": "block"}])
    rep = lex.post(f"/v1/lexicon/drafts/{d['id']}/dry-run", headers=admin).json()
    # the stored score makes the live outcome review (not pass): review → block
    assert rep["transitions"] == {"review→block": 1}


def test_two_person_rule_makes_block_terms_wait_for_a_second_admin(lex, admin, call, state,
                                                                   monkeypatch):
    second = session_of(lex, call, state, "admin2")
    monkeypatch.setattr(state.moderator.policy, "two_person_rule", True)
    review_only = draft(lex, admin, add=[{"term": "假证件", "category": "fraud",
                                          "severity": "review"}])
    assert publish(lex, admin, review_only["id"]).status_code == 200  # no block term
    d = draft(lex, admin, add=[NEW_TERM])
    r = publish(lex, admin, d["id"])
    assert r.status_code == 202 and r.json()["status"] == "awaiting_approval"
    assert lex.get("/v1/lexicon", headers=admin).json()["version"] == 2
    assert publish(lex, admin, d["id"]).status_code == 409
    same = lex.post(f"/v1/lexicon/drafts/{d['id']}/approve", headers=admin)
    assert same.status_code == 403 and same.json()["error"]["code"] == "same_admin"
    ok = lex.post(f"/v1/lexicon/drafts/{d['id']}/approve", headers=second)
    assert ok.status_code == 200, ok.text
    assert ok.json()["version"] == 3 and ok.json()["approved_by"] == "user:admin2"
    assert ok.json()["author"] == "user:admin"


def test_lexicon_routes_need_the_admin_role(lex, call, state):
    call(state.users.create, "li.na", Role.REVIEWER, PASSWORD)
    token = lex.post("/v1/auth/login", json={"username": "li.na", "password": PASSWORD}
                     ).json()["token"]
    assert lex.get("/v1/lexicon", headers=bearer(token)).status_code == 403
    lex.cookies.clear()
    assert lex.get("/v1/lexicon").status_code == 401
    assert lex.post("/v1/lexicon/drafts", headers=bearer(token),
                    json={"add": [NEW_TERM]}).status_code == 403


def test_suggestions_come_from_rejected_items_the_lexicon_missed(lex, admin, api_key, rdb):
    # a code word the lexicon does not know, even through its evasion layer
    rejected = ["想要的蓝精灵私聊有货", "有货，蓝精灵详谈", "蓝精灵，价格好说", "路灯坏了没人修"]
    approved = ["路灯坏了请尽快维修", "小区路灯坏了", "路灯坏了三天了"]
    for i, text in enumerate(rejected + approved):
        moderate(lex, api_key, f"s-{i}", text)
        status = "rejected" if i < len(rejected) else "approved"
        rdb.hset(keys.item("portal-a", f"s-{i}"), "status", status)
    got = lex.get("/v1/lexicon/suggestions", headers=admin).json()
    assert got["rejected_items"] == 4 and got["approved_items"] == 3
    terms = [s["term"] for s in got["suggestions"]]
    assert terms and "精灵" in terms[0], got
    top = got["suggestions"][0]
    assert top["rejected"] == 3 and top["approved"] == 0 and len(top["examples"]) == 3
    assert not any("路灯" in t for t in terms)


def test_a_term_opts_out_of_fuzzy_forms_through_a_draft(lex, admin, api_key):
    """`fuzzy` travels through drafts, stored versions and the live automaton: pinyin of a
    term fires until the term is edited to `fuzzy: false`."""
    pinyin = "本店出售假zheng件，价格优惠"
    assert publish(lex, admin, draft(lex, admin, add=[NEW_TERM])["id"]).status_code == 200
    (hit,) = moderate(lex, api_key, "f-1", pinyin)["hits"]
    assert hit["match_kind"] == "pinyin" and hit["text"] == "出售假zheng件"
    edit = {**NEW_TERM, "fuzzy": False}
    assert publish(lex, admin, draft(lex, admin, edit=[edit])["id"]).status_code == 200
    assert moderate(lex, api_key, "f-2", pinyin)["hits"] == []
    assert moderate(lex, api_key, "f-3")["hits"][0]["match_kind"] == "exact"
    page = lex.get("/v1/lexicon/terms", headers=admin, params={"q": "出售假证件"}).json()
    assert page["terms"][0]["fuzzy"] is False
    bad = lex.post("/v1/lexicon/drafts", headers=admin,
                   json={"edit": [{**NEW_TERM, "fuzzy": "no"}]})
    assert bad.status_code == 422 and "fuzzy" in bad.text
