"""High availability (CONTRACTS.md), the parts that need no Sentinel: the settings, the
replica acknowledgement (`MODERATION_MIN_REPLICA_ACKS`, `WAIT`), a demoted primary's
READONLY answered 503 (never 500), the start checks on replicas, and `audit verify` naming
the segments it read. The failover itself is in test_api_ha.py."""

from __future__ import annotations

import time

import pytest
import redis
from api_test_support import RedisProc, bearer, cli, free_port
from pydantic import ValidationError

from api.audit.sealer import Sealer
from api.audit.verify import verify
from api.settings import Settings
from api.store import keys
from api.store.apikeys import ApiKeyStore
from api.store.sentinel import SentinelTarget

REVIEW = "身份证110101199003074514"


def _env(monkeypatch, **env: str) -> None:
    for name in ("REDIS_URL", "MODERATION_REDIS_SENTINELS", "MODERATION_REDIS_MASTER",
                 "MODERATION_REDIS_PASSWORD", "MODERATION_MIN_REPLICA_ACKS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)


@pytest.mark.parametrize("env, says", [
    ({"REDIS_URL": "redis://h:6379/0", "MODERATION_REDIS_SENTINELS": "h:26379",
      "MODERATION_REDIS_MASTER": "m"}, "not both"),
    ({"MODERATION_REDIS_SENTINELS": "h:26379"}, "MODERATION_REDIS_MASTER"),
    ({"MODERATION_REDIS_SENTINELS": "h:26379,10.0.0.2", "MODERATION_REDIS_MASTER": "m"},
     "'10.0.0.2' is not host:port"),
    ({"MODERATION_MIN_REPLICA_ACKS": "-1"}, "min_replica_acks"),
])
def test_bad_sentinel_settings_are_start_up_errors(monkeypatch, env, says):
    _env(monkeypatch, **env)
    with pytest.raises(ValidationError) as err:
        Settings()
    assert says in str(err.value)


def test_sentinel_settings_become_one_url(monkeypatch):
    _env(monkeypatch, MODERATION_REDIS_SENTINELS="10.0.0.1:26379, [::1]:26380",
         MODERATION_REDIS_MASTER="portal", MODERATION_REDIS_PASSWORD="p@ss:/word",
         MODERATION_MIN_REPLICA_ACKS="1")
    s = Settings()
    assert s.min_replica_acks == 1 and s.replica_ack_timeout_ms == 500
    assert s.store_url is not None and s.store_url.startswith("redis+sentinel://")
    target = SentinelTarget.parse(s.store_url)
    assert target == SentinelTarget([("10.0.0.1", 26379), ("::1", 26380)], "portal",
                                    "p@ss:/word")
    _env(monkeypatch, REDIS_URL="redis://h:6379/0")
    assert Settings().store_url == "redis://h:6379/0" and Settings().min_replica_acks == 0


def test_cli_with_both_redis_url_and_sentinels_exits_2(tmp_path):
    proc = cli("apikey", "list", "--data-dir", str(tmp_path), env={
        "REDIS_URL": "redis://127.0.0.1:1/0", "MODERATION_REDIS_SENTINELS": "127.0.0.1:2",
        "MODERATION_REDIS_MASTER": "m"})
    assert proc.returncode == 2
    assert "not both" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


@pytest.fixture
def pair(tmp_path):
    """A primary and (started by the test) a replica: real redis-servers with AOF."""
    procs: list[RedisProc] = []

    def make(*extra: str) -> RedisProc:  # a replica's first sync starts at once
        p = RedisProc(tmp_path / f"r{len(procs)}", "--repl-diskless-sync-delay", "0",
                      "--shutdown-timeout", "0", *extra)
        procs.append(p)
        return p.start()

    yield make
    for p in procs:  # nothing is read back: no need for a clean shutdown
        p.stop(kill=True)


def _replica_of(make, primary: RedisProc, *extra: str) -> RedisProc:
    replica = make("--replicaof", "127.0.0.1", str(primary.port), *extra)
    client = redis.Redis(port=primary.port)
    deadline = time.monotonic() + 20
    while client.info("replication").get("slave0", {}).get("state") != "online":
        assert time.monotonic() < deadline, "the replica did not finish its first sync"
        time.sleep(0.05)
    return replica


def _api_key(c) -> str:
    """A new API key, created in the app's own event loop (its Redis client lives there)."""
    store = ApiKeyStore(c.app.state.app_state.redis, default_rate=1000)
    key, _ = c.portal.call(lambda: store.create("portal", actor="test"))
    return key


def test_an_item_is_acknowledged_only_once_a_replica_holds_it(pair, settings_for,
                                                              new_app_client):
    primary = pair()
    settings = settings_for(redis_url=primary.url, min_replica_acks=1,
                            replica_ack_timeout_ms=200)
    with new_app_client(settings) as c:
        key = _api_key(c)
        item = {"data_id": "acked-1", "channel": "post", "content": REVIEW}
        r = c.post("/v1/moderate", headers=bearer(key), json=item)  # no replica: no ack
        assert r.status_code == 503, r.text
        assert r.json()["error"]["code"] == "store_unavailable"
        assert r.json()["decision"]["decision"] == "review"
        batch = {"items": [{**item, "data_id": "acked-2"}, {**item, "data_id": "acked-3"}]}
        r = c.post("/v1/moderate/batch", headers=bearer(key), json=batch)
        assert [x["error"]["code"] for x in r.json()["results"]] == ["store_unavailable"] * 2
        replica = _replica_of(pair, primary)
        deadline = time.monotonic() + 20  # retries with the same data_ids (a loaded machine
        while True:                       # may answer a GETACK later than 200 ms)
            r = c.post("/v1/moderate", headers=bearer(key), json=item)
            rb = c.post("/v1/moderate/batch", headers=bearer(key), json=batch)
            if r.status_code == 200 and all(x.get("status") == "pending"
                                            for x in rb.json()["results"]):
                break
            assert r.status_code in (200, 503) and time.monotonic() < deadline, r.text + rb.text
    on_replica = redis.Redis(port=replica.port, decode_responses=True)
    for data_id in ("acked-1", "acked-2", "acked-3"):
        assert on_replica.hget(keys.item("portal", data_id), "status") == "pending"


@pytest.mark.parametrize("acks", [0, 1])
def test_a_demoted_primary_answers_503_with_the_decision_never_500(pair, settings_for,
                                                                   new_app_client, acks):
    """A process still connected to a primary that was demoted to a replica (READONLY) is
    in a failover: 503 `store_unavailable` with the decision, like an unreachable Redis."""
    primary = pair()
    replica = _replica_of(pair, primary)
    with new_app_client(settings_for(redis_url=primary.url, min_replica_acks=acks)) as c:
        key = _api_key(c)
        item = {"data_id": "ro-1", "channel": "post", "content": REVIEW}
        assert c.post("/v1/moderate", headers=bearer(key), json=item).status_code == 200
        sync = redis.Redis(port=primary.port)  # the replica holds all (one connection)
        assert sync.set("pm:test:marker", "1") and sync.wait(1, 5000) == 1
        # the failover: the replica is promoted, the old primary follows it
        redis.Redis(port=replica.port).replicaof("NO", "ONE")
        redis.Redis(port=primary.port).replicaof("127.0.0.1", str(replica.port))
        r = c.post("/v1/moderate", headers=bearer(key), json={**item, "data_id": "ro-2"})
        assert r.status_code == 503, r.text
        assert r.json()["error"]["code"] == "store_unavailable"
        assert r.json()["decision"]["decision"] == "review"
        r = c.post("/v1/auth/login", json={"username": "nobody", "password": "x"})
        assert r.status_code == 503 and r.json()["error"]["code"] == "store_unavailable"


def test_serve_refuses_a_replica_without_aof(pair, tmp_path):
    primary = pair()
    replica = _replica_of(pair, primary, "--appendonly", "no")
    proc = cli("serve", "--no-model", "--port", str(free_port()), "--data-dir",
               str(tmp_path / "d"), env={"REDIS_URL": primary.url}, timeout=180)
    assert proc.returncode == 2, proc.stderr
    assert f"replica 127.0.0.1:{replica.port}" in proc.stderr and "appendonly" in proc.stderr


def test_audit_verify_names_the_segments_it_read(call, state, client, api_key, tmp_path):
    from api.audit import keyfile

    key = keyfile.load_or_create(tmp_path / "audit.key")
    r = client.post("/v1/moderate", headers=bearer(api_key),
                    json={"data_id": "seg-1", "channel": "post", "content": REVIEW})
    assert r.status_code == 200
    sealer = Sealer(state.redis, tmp_path / "audit", key, tail_keep=0)
    call(sealer.run_once)
    call(sealer.release)
    report = call(verify, state.redis, tmp_path / "audit", key)
    assert report.ok and report.archived >= 3
    names = [p.name for p in sorted((tmp_path / "audit").glob("segment-*.jsonl"))]
    assert report.to_dict()["segments"] == names and len(names) == 1


def test_a_script_missing_after_its_reload_is_a_failover_not_a_500():
    """NOSCRIPT reaching the store means redis-py's automatic reload went to another node
    than its retry (the primary changed in between): a store fault (503), not a bug."""
    import asyncio

    from redis import exceptions as rexc

    from api.store.connection import unavailable
    from api.store.errors import StoreUnavailable

    async def call() -> None:
        async with unavailable():
            raise rexc.NoScriptError("No matching script. Please use EVAL.")

    with pytest.raises(StoreUnavailable):
        asyncio.run(call())


def test_a_write_on_a_socket_the_server_closed_is_a_503_other_runtime_errors_are_not():
    """uvloop raises RuntimeError, not ConnectionError, when redis-py writes to a connection
    the old primary closed during a failover (seen once as a 500 in the HA tests)."""
    import asyncio

    from api.store.connection import unavailable
    from api.store.errors import StoreUnavailable

    async def call(message: str) -> None:
        async with unavailable():
            raise RuntimeError(message)

    with pytest.raises(StoreUnavailable):
        asyncio.run(call("unable to perform operation on <TCPTransport closed=True "
                         "reading=False 0x1>; the handler is closed"))
    with pytest.raises(RuntimeError, match="some other bug"):
        asyncio.run(call("some other bug"))
