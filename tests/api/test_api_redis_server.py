"""The embedded redis-server: password file 0600, AOF, adopt or replace a server left by
a killed owner, and a pending item surviving kill -9 of redis-server."""

from __future__ import annotations

import contextlib
import os
import signal
import stat
import subprocess
import time

import pytest
import redis
from api_test_support import bearer

from api.redis_server import EmbeddedRedis, _ping


def client_for(server: EmbeddedRedis) -> redis.Redis:
    return redis.Redis(unix_socket_path=str(server.socket_path), password=server.password(),
                       decode_responses=True)


@pytest.fixture
def embedded(tmp_path):
    server = EmbeddedRedis(tmp_path / "var", appendfsync="always")
    yield server
    pid = server.pid()
    server.owned = True
    server.stop()
    if pid:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def test_embedded_server_is_private_and_durable(embedded):
    embedded.start()
    assert stat.S_IMODE(embedded.password_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(embedded.dir.stat().st_mode) == 0o700
    c = client_for(embedded)
    assert c.config_get("appendonly")["appendonly"] == "yes"
    assert c.config_get("maxmemory-policy")["maxmemory-policy"] == "noeviction"
    assert c.config_get("port")["port"] == "0"  # no TCP port
    assert not _ping(embedded.socket_path, "wrong") and _ping(embedded.socket_path,
                                                               embedded.password())


def test_adopts_a_server_whose_owner_was_killed(embedded):
    embedded.start()
    pid = embedded.pid()
    dead = subprocess.Popen(["true"])
    dead.wait()
    embedded.owner_file.write_text(f"{dead.pid}\n")  # the owner died without stopping it
    again = EmbeddedRedis(embedded.data_dir)
    assert not again.owner_alive()
    again.start()
    assert again.pid() == pid and int(again.owner_file.read_text()) == os.getpid()


def test_replaces_a_server_that_does_not_answer(embedded):
    embedded.start()
    pid = embedded.pid()
    os.kill(pid, signal.SIGSTOP)  # hung: PING times out
    try:
        again = EmbeddedRedis(embedded.data_dir)
        again.start()
        assert again.pid() != pid and again.running()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def test_stop_ends_the_server_it_owns(embedded):
    embedded.start()
    pid = embedded.pid()
    embedded.stop()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and embedded.running():
        time.sleep(0.05)
    assert not embedded.running()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_pending_item_survives_kill_9_of_redis(embedded, settings_for, new_app_client):
    embedded.start()
    settings = settings_for(redis_url=embedded.url, redis_password_file=embedded.password_file)
    with new_app_client(settings) as c:
        state = c.app.state.app_state
        key, _ = c.portal.call(lambda: state.apikeys.create("portal-k"))
        r = c.post("/v1/moderate", headers=bearer(key), json={
            "data_id": "keep-1", "channel": "post", "content": "身份证110101199003074514"})
        assert r.status_code == 200 and r.json()["status"] == "pending"
        item_id = r.json()["item_id"]
        os.kill(embedded.pid(), signal.SIGKILL)  # right after the answer
        time.sleep(0.2)
        again = EmbeddedRedis(embedded.data_dir, appendfsync="always")
        again.start()  # replaces the dead server on the same data directory
        got = c.get("/v1/items/keep-1", headers=bearer(key))
        assert got.status_code == 200, got.text
        assert got.json()["item_id"] == item_id and got.json()["status"] == "pending"
        assert client_for(again).zrange("pm:queue:post", 0, -1) == [item_id]


@pytest.mark.parametrize("scheme", ["redis://default:{pw}@127.0.0.1:{port}/0",
                                    "redis://:{pw}@127.0.0.1:{port}/2"])
def test_redis_url_with_credentials(tmp_path, scheme):
    import asyncio

    from api_test_support import RedisProc

    from api.store.connection import check_server, connect

    server = RedisProc(tmp_path / "auth").start()
    try:
        redis.Redis(port=server.port).config_set("requirepass", "s3cret-pw")
        url = scheme.format(pw="s3cret-pw", port=server.port)

        async def go() -> list[str]:
            r = connect(url, timeout=0.5)
            try:
                await r.set("k", "v")
                return await check_server(r)
            finally:
                await r.aclose()

        assert asyncio.run(go()) == []
        bad = scheme.format(pw="wrong", port=server.port)

        async def refused() -> None:
            r = connect(bad, timeout=0.5)
            try:
                await r.ping()
            finally:
                await r.aclose()

        with pytest.raises(redis.AuthenticationError):
            asyncio.run(refused())
    finally:
        server.stop()
