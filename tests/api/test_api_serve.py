"""`moderation serve` as real processes: two API processes sharing one Redis behave as one
service; the embedded Redis is reached by the CLI, refused to a second serve, adopted
after a kill -9 of its owner and stopped on exit."""

from __future__ import annotations

import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from api_test_support import Serve, base_env, bearer, cli, free_port, stop_serves

from api.redis_server import EmbeddedRedis, _alive

PASSWORD = "长城-correct-horse-1"


@pytest.fixture
def serves():
    started: list[Serve] = []
    yield started
    stop_serves(started)


def test_two_api_processes_share_one_redis(redis_server, rdb, tmp_path, serves):
    env = base_env(REDIS_URL=redis_server.url,  # two hosts: one audit key, one archive
                   MODERATION_AUDIT_KEY_FILE=str(tmp_path / "audit.key"),
                   MODERATION_AUDIT_DIR=str(tmp_path / "audit"))
    a = Serve(env, tmp_path / "a", tmp_path / "a.log")
    b = Serve(env, tmp_path / "b", tmp_path / "b.log")
    serves += [a, b]
    key = cli("apikey", "create", "portal-2", "--data-dir", str(tmp_path), env=env).stdout.strip()
    assert cli("user", "create", "li.na", "--role", "reviewer", "--password-stdin",
               "--data-dir", str(tmp_path), env=env, stdin=PASSWORD + "\n").returncode == 0
    a.wait_ready()
    b.wait_ready()
    req = {"data_id": "shared-1", "channel": "post", "content": "身份证110101199003074514"}

    def send(i: int) -> dict:
        url = (a if i % 2 else b).url
        return httpx.post(url + "/v1/moderate", headers=bearer(key), json=req).json()

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(send, range(16)))
    assert len({x["item_id"] for x in answers}) == 1
    assert sum(not x["duplicate"] for x in answers) == 1
    got = httpx.get(b.url + "/v1/items/shared-1", headers=bearer(key)).json()
    assert got["item_id"] == answers[0]["item_id"] and got["status"] == "pending"
    # the login lockout is counted across processes
    for i in range(5):
        r = httpx.post((a if i % 2 else b).url + "/v1/auth/login",
                       json={"username": "li.na", "password": "wrong"})
        assert r.status_code == 401
    r = httpx.post(a.url + "/v1/auth/login", json={"username": "li.na", "password": PASSWORD})
    assert r.status_code == 429
    # one sealer chains the events of both processes
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        out = cli("audit", "verify", "--data-dir", str(tmp_path / "a"), env=env)
        if '"unsealed": 0' in out.stdout:
            break
        time.sleep(0.2)
    assert out.returncode == 0 and '"unsealed": 0' in out.stdout, out.stdout + out.stderr
    # the pending gauge is the shared queue's
    for s in (a, b):
        assert "moderation_pending_items 1" in httpx.get(s.url + "/metrics").text


def test_embedded_redis_lifecycle(tmp_path, serves, request):
    data = tmp_path / "var"
    env = base_env()

    def kill_left_redis() -> None:  # a failed run must not leave its redis-server running
        pid = EmbeddedRedis(data).pid()
        if pid and _alive(pid):
            os.kill(pid, signal.SIGKILL)

    request.addfinalizer(kill_left_redis)
    a = Serve(env, data, tmp_path / "a.log")
    serves.append(a)
    a.wait_ready()
    server = EmbeddedRedis(data)
    redis_pid = server.pid()
    key = cli("apikey", "create", "portal-e", "--data-dir", str(data), env=env).stdout.strip()
    assert server.running() and server.pid() == redis_pid  # the CLI used the running server
    r = httpx.post(a.url + "/v1/moderate", headers=bearer(key), json={
        "data_id": "e-1", "channel": "post", "content": "身份证110101199003074514"})
    assert r.status_code == 200 and r.json()["status"] == "pending"

    second = cli("serve", "--no-model", "--data-dir", str(data), "--port", str(free_port()),
                 env=env)
    assert second.returncode == 2 and "another `moderation serve`" in second.stderr

    a.stop(signal.SIGKILL)  # the owner dies without stopping its redis-server
    time.sleep(1.1)  # appendfsync everysec
    assert server.running()
    c = Serve(env, data, tmp_path / "c.log")
    serves.append(c)
    c.wait_ready()
    assert server.pid() == redis_pid  # adopted, not restarted
    got = httpx.get(c.url + "/v1/items/e-1", headers=bearer(key))
    assert got.status_code == 200 and got.json()["status"] == "pending"
    assert c.stop() == 0
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and server.running():
        time.sleep(0.1)
    assert not server.running() and not _alive(redis_pid)
