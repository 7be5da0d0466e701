"""Hot reload of lexicon versions: two real `moderation serve` processes on one Redis both
serve a publish within 2 s (through the announcement: their poll is set to 30 s), and a
process that missed the announcement catches up on its poll."""

from __future__ import annotations

import time

import httpx
import pytest
from api_test_support import Serve, base_env, bearer, cli, stop_serves

from api.store import keys
from api.store.lexicon_content import TermRow
from api.store.lexicon_versions import LexiconVersions

PASSWORD = "长城-correct-horse-1"
TEXT = "本店出售假证件，价格优惠"


@pytest.fixture
def serves():
    started: list[Serve] = []
    yield started
    stop_serves(started)


def decide(url: str, key: str, data_id: str) -> dict:
    r = httpx.post(url + "/v1/moderate", headers=bearer(key),
                   json={"data_id": data_id, "channel": "comment", "content": TEXT})
    assert r.status_code == 200, r.text
    return r.json()


def test_both_processes_serve_a_publish_within_2_s(redis_server, rdb, tmp_path, serves):
    env = base_env(REDIS_URL=redis_server.url, MODERATION_LEXICON_POLL_S="30",
                   MODERATION_AUDIT_KEY_FILE=str(tmp_path / "audit.key"),
                   MODERATION_AUDIT_DIR=str(tmp_path / "audit"))
    a = Serve(env, tmp_path / "a", tmp_path / "a.log")
    b = Serve(env, tmp_path / "b", tmp_path / "b.log")
    serves += [a, b]
    key = cli("apikey", "create", "portal-r", env=env).stdout.strip()
    assert cli("user", "create", "admin", "--role", "admin", "--password-stdin", env=env,
               stdin=PASSWORD + "\n").returncode == 0
    a.wait_ready()
    b.wait_ready()
    for s in (a, b):  # one version 1, seeded once, served by both
        assert httpx.get(s.url + "/readyz").json()["versions"]["lexicon"] == 1
        assert decide(s.url, key, f"before-{s.port}")["decision"] == "pass"
    assert rdb.hlen(keys.LEXICON_VERSIONS) == 1
    token = httpx.post(a.url + "/v1/auth/login",
                       json={"username": "admin", "password": PASSWORD}).json()["token"]
    admin = bearer(token)
    d = httpx.post(a.url + "/v1/lexicon/drafts", headers=admin, json={
        "add": [{"term": "出售假证件", "category": "fraud", "severity": "block"}]}).json()
    t0 = time.monotonic()
    r = httpx.post(f"{a.url}/v1/lexicon/drafts/{d['id']}/publish", headers=admin)
    assert r.status_code == 200, r.text
    delays: dict[str, float] = {}
    deadline = t0 + 10
    n = 0
    while len(delays) < 2 and time.monotonic() < deadline:
        for name, s in (("a", a), ("b", b)):
            if name in delays:
                continue
            n += 1
            got = decide(s.url, key, f"after-{n}")
            if got["versions"]["lexicon"] == 2:
                assert got["decision"] == "block"
                assert [h["term"] for h in got["hits"]] == ["出售假证件"]
                delays[name] = time.monotonic() - t0
        time.sleep(0.02)
    assert set(delays) == {"a", "b"}, "a process did not reload: " + b.log_path.read_text()
    assert max(delays.values()) < 2.0, delays  # the target; the poll (30 s) played no part
    for s in (a, b):
        assert httpx.get(s.url + "/readyz").json()["versions"]["lexicon"] == 2


def test_a_missed_announcement_is_caught_up_by_the_poll(client, call, rdb, monkeypatch):
    reloader = client.app.state.lexicon_reloader
    call(reloader.start)
    assert client.get("/readyz").json()["versions"]["lexicon"] == 1
    versions = LexiconVersions(reloader.r)
    base = call(versions.content, 1)
    row = TermRow("出售假证件", "fraud", "block")
    new = type(base)(base.terms + (row,), base.allow)
    # announced where nobody listens: only the poll (every 2 s) can find version 2
    monkeypatch.setattr(keys, "VERSION_CHANNEL", "pm:nobody-listens")
    t0 = time.monotonic()
    call(versions.publish, new, base=1, actor="test", role="admin", action="publish")
    try:
        while time.monotonic() - t0 < 10:
            if client.get("/readyz").json()["versions"]["lexicon"] == 2:
                break
            time.sleep(0.05)
        assert client.get("/readyz").json()["versions"]["lexicon"] == 2
        assert time.monotonic() - t0 < reloader.poll_s + 3
    finally:
        rdb.flushall()
        call(reloader.start)  # back to the shipped seed for the next tests
