"""The Aliyun signature nonce is claimed by the item's own Lua call (`CREATE_ITEM_LUA`,
optional KEYS[11]): a compatibility call costs one Redis round trip like `/v1/moderate`,
and a reused nonce is refused before anything is written."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import redis
from alibabacloud_tea_openapi.exceptions import ClientException
from api_test_support import RedisProc
from compat_support import (
    Served,
    aliyun_call,
    aliyun_client,
    new_credential,
    served,
    tencent_client,
    tencent_request,
)
from conftest import make_settings

from api.settings import Settings
from api.store.apikeys import hash_key
from api.store.errors import NonceUsed
from api.store.items import NewItem, NonceClaim
from moderation.pipeline import Moderator

MARKER = "monitor-end-marker"


def _item(data_id: str) -> NewItem:
    return NewItem(client="portal-a", data_id=data_id, channel="comment", title=None,
                   content="你好", decision={"decision": "pass", "reasons": [],
                                            "versions": {}})


def test_reused_nonce_writes_nothing(call: Callable[..., Any], state: Any,
                                     new_key: Callable[..., str], rdb: redis.Redis) -> None:
    key_hash = hash_key(new_key("portal-a"))
    claim = NonceClaim("AKIDx", "nonce-1", 1860)
    assert call(state.items.create, _item("i-1"), key_hash=key_hash, nonce=claim).created
    assert 1800 < rdb.ttl("pm:nonce:AKIDx:nonce-1") <= 1860
    audit_len = rdb.xlen("pm:audit")
    counted = {k: rdb.get(k) for k in rdb.scan_iter("pm:rl:*")}
    with pytest.raises(NonceUsed):
        call(state.items.create, _item("i-2"), key_hash=key_hash, nonce=claim)
    assert not rdb.exists("pm:item:portal-a:i-2")
    assert rdb.xlen("pm:audit") == audit_len  # no audit event either
    assert {k: rdb.get(k) for k in rdb.scan_iter("pm:rl:*")} == counted  # not rate-counted
    # the same nonce of another credential is another nonce; no nonce: no claim at all
    other = NonceClaim("AKIDy", "nonce-1", 1860)
    assert call(state.items.create, _item("i-3"), key_hash=key_hash, nonce=other).created
    assert call(state.items.create, _item("i-4"), key_hash=key_hash).created
    assert sorted(rdb.scan_iter("pm:nonce:*")) == ["pm:nonce:AKIDx:nonce-1",
                                                   "pm:nonce:AKIDy:nonce-1"]


@pytest.fixture(scope="module")
def settings(redis_server: RedisProc, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return make_settings(redis_server.url, tmp_path_factory.mktemp("compat-nonce"))


@pytest.fixture(scope="module")
def svc(settings: Settings, moderator: Moderator) -> Iterator[Served]:
    with served(settings, moderator) as s:
        yield s


@contextmanager
def client_commands(url: str, marker: redis.Redis) -> Iterator[list[dict[str, Any]]]:
    """Every command Redis runs meanwhile (MONITOR), from clients (`client_type` tcp) and
    from Lua scripts (`lua`); the list is complete when the block ends."""
    seen: list[dict[str, Any]] = []
    conn = redis.Redis.from_url(url, decode_responses=True)
    mon = conn.monitor()
    mon.__enter__()

    def read() -> None:
        while True:
            cmd = mon.next_command()
            if cmd["command"] == f"ECHO {MARKER}":
                return
            seen.append(cmd)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        yield seen
    finally:
        marker.echo(MARKER)
        reader.join(10)
        mon.__exit__()
        conn.close()
        assert not reader.is_alive(), "MONITOR reader did not finish"


CALL_KEYS = ("pm:item:portal-a:", "pm:nonce:", "pm:credentials", "pm:apikey:")


def _round_trips(seen: list[dict[str, Any]]) -> list[str]:
    """The commands the service sent for the call (not those its scripts ran, nor its
    background tasks' commands), by name."""
    return [c["command"].split(" ")[0] for c in seen
            if c["client_type"] != "lua" and any(k in c["command"] for k in CALL_KEYS)]


def use_nonce(monkeypatch: pytest.MonkeyPatch, nonce: str) -> None:
    """The SDK's signature nonce from now on (it draws a new one per call)."""
    from alibabacloud_tea_openapi import utils

    monkeypatch.setattr(utils.Utils, "get_nonce", staticmethod(lambda: nonce))


@pytest.mark.parametrize("v1", [False, True], ids=["acs3", "rpc-v1"])
def test_one_round_trip_and_a_reused_nonce_creates_nothing(
        svc: Served, rdb: redis.Redis, redis_server: RedisProc, settings: Settings,
        v1: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    svc.app.state.compat_credentials = None
    client = aliyun_client(svc.endpoint, *new_credential(redis_server.url, settings), v1=v1)
    aliyun_call(client, "你好", dataId="warm")  # reads (and caches) the credential
    use_nonce(monkeypatch, "same-nonce")
    with client_commands(redis_server.url, rdb) as seen:
        assert aliyun_call(client, "你好", dataId="n-1").to_map()["Code"] == 200
    assert _round_trips(seen) == ["EVALSHA"], seen
    assert any(c["client_type"] == "lua" and c["command"].startswith("SET pm:nonce:")
               for c in seen), seen
    # A replay to the same process: refused by its memo, before the pipeline and Redis.
    with (client_commands(redis_server.url, rdb) as seen,
          pytest.raises(ClientException) as info):
        aliyun_call(client, "你好", dataId="n-2")
    assert (info.value.status_code, info.value.code) == (400, "SignatureNonceUsed")
    assert _round_trips(seen) == [], seen
    # A replay to another process (a fresh credential store: no memo): the item's own Lua
    # call refuses it, in that one round trip, writing nothing.
    svc.app.state.compat_credentials = None
    use_nonce(monkeypatch, "other-nonce")
    aliyun_call(client, "你好", dataId="n-warm")
    use_nonce(monkeypatch, "same-nonce")
    with (client_commands(redis_server.url, rdb) as seen,
          pytest.raises(ClientException) as info):
        aliyun_call(client, "你好", dataId="n-2")
    assert (info.value.status_code, info.value.code) == (400, "SignatureNonceUsed")
    assert _round_trips(seen) == ["EVALSHA"], seen
    assert not rdb.exists("pm:item:portal-a:n-2")
    # the replay with the first call's own data_id is refused too, not answered as a repeat
    svc.app.state.compat_credentials = None
    with pytest.raises(ClientException) as info:
        aliyun_call(client, "你好", dataId="n-1")
    assert info.value.code == "SignatureNonceUsed"


def test_tencent_call_is_one_round_trip(svc: Served, rdb: redis.Redis, redis_server: RedisProc,
                                        settings: Settings) -> None:
    """TC3 has no nonce (its replay window is the 5-minute timestamp): with the credential
    cached, a call is the item's Lua call alone, like `/v1/moderate`."""
    svc.app.state.compat_credentials = None
    client = tencent_client(svc.endpoint, *new_credential(redis_server.url, settings))
    client.TextModeration(tencent_request("你好", DataId="t-warm"))
    with client_commands(redis_server.url, rdb) as seen:
        assert client.TextModeration(tencent_request("你好", DataId="t-1")).Suggestion == "Pass"
    assert _round_trips(seen) == ["EVALSHA"], seen


def test_nonce_memo_expires_and_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    from api.store import credentials

    memo = credentials.CredentialStore(None, None)  # type: ignore[arg-type]  # no Redis used
    memo.note_nonce("AKIDx", "a", 1860)
    assert memo.nonce_seen("AKIDx", "a")
    assert not memo.nonce_seen("AKIDy", "a") and not memo.nonce_seen("AKIDx", "b")
    memo.note_nonce("AKIDx", "gone", 0)  # past its TTL: Redis would accept it again
    assert not memo.nonce_seen("AKIDx", "gone")
    monkeypatch.setattr(credentials, "NONCE_MEMO", 2)
    memo.note_nonce("AKIDx", "c", 1860)
    assert not memo.nonce_seen("AKIDx", "a")  # the oldest is forgotten first
    assert memo.nonce_seen("AKIDx", "c")
