"""Process faults with real processes and a real redis-server: kill -9 of `serve` leaves
no worker on the port and loses no accepted item (the workers' parent guard, also alone);
a `serve` that cannot bind its port or fails its checks exits 2 and leaves a Redis it found
running; kill -9 of the embedded redis-server is repaired by `serve` itself."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import redis
from api_test_support import (
    Serve,
    base_env,
    bearer,
    cli,
    free_port,
    service_env,
    stop_serves,
)

from api.redis_server import EmbeddedRedis, _alive

ITEMS = [  # data_id, content, status after moderation (post channel: pre-moderated)
    ("c-pass", "今天天气很好，谢谢", "passed"),
    ("c-block", "出售冰毒", "blocked"),
    ("c-review-1", "身份证110101199003074514", "pending"),
    ("c-review-2", "我的身份证号是110101199003074514，请核实", "pending"),
]


@pytest.fixture
def data_dir() -> Iterator[Path]:
    """A short data directory (a unix socket path must stay under ~100 bytes); any
    redis-server left on it is killed afterwards."""
    path = Path(tempfile.mkdtemp(prefix="pm-crash-", dir="/tmp"))
    yield path
    pid = EmbeddedRedis(path).pid()
    if pid and _alive(pid):
        os.kill(pid, signal.SIGKILL)
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def reaper() -> Iterator[list[int]]:
    """Pids to SIGKILL at the end (workers a broken build would leave behind)."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        if _alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


@pytest.fixture
def serves() -> Iterator[list[Serve]]:
    started: list[Serve] = []
    yield started
    stop_serves(started)


def workers_of(pid: int) -> list[int]:
    """The uvicorn workers of `serve` (spawned by multiprocessing; not its redis-server)."""
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            with contextlib.suppress(OSError):
                if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                    out.append(int(child))
    return out


def listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def wait_for(check: Callable[[], bool], timeout: float, step: float = 0.05) -> float | None:
    """Seconds until `check()` held, or None when it did not within `timeout`."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if check():
            return time.monotonic() - start
        time.sleep(step)
    return None


def moderate(url: str, key: str, data_id: str, content: str) -> dict:
    r = httpx.post(url + "/v1/moderate", headers=bearer(key), timeout=10,
                   json={"data_id": data_id, "channel": "post", "content": content})
    assert r.status_code == 200, r.text
    return r.json()


def test_kill_9_of_serve_ends_its_workers_and_loses_nothing(data_dir, tmp_path, serves,
                                                            reaper):
    env = base_env()
    first = Serve(env, data_dir, tmp_path / "first.log", workers=2)
    serves.append(first)
    first.wait_ready(90)
    key = cli("apikey", "create", "portal-crash", "--data-dir", str(data_dir),
              env=env).stdout.strip()
    accepted = {}
    for data_id, content, status in ITEMS:
        got = moderate(first.url, key, data_id, content)
        assert got["status"] == status, got
        accepted[data_id] = got["item_id"]
    workers = workers_of(first.proc.pid)
    reaper.extend(workers)
    assert len(workers) == 2

    first.stop(signal.SIGKILL)
    gone = wait_for(lambda: not any(_alive(p) for p in workers) and not listening(first.port),
                    timeout=10)
    assert gone is not None, "the workers of a killed serve are still alive or on the port"
    print(f"workers gone {gone:.2f} s after the kill")

    second = Serve(env, data_dir, tmp_path / "second.log", port=first.port, workers=2)
    serves.append(second)
    second.wait_ready(90)
    for data_id, _, status in ITEMS:
        got = httpx.get(second.url + f"/v1/items/{data_id}", headers=bearer(key), timeout=10)
        assert got.status_code == 200, got.text
        assert got.json()["item_id"] == accepted[data_id] and got.json()["status"] == status
    assert second.stop() == 0


GUARDED = "from api import parent_watch; parent_watch.guard_from_env(); import time; " \
          "time.sleep(60)"


def test_worker_whose_parent_died_before_the_guard_leaves(reaper):
    dead = subprocess.Popen(["true"])
    dead.wait()  # a parent that died before prctl could ask for its signal
    proc = subprocess.Popen([sys.executable, "-c", GUARDED],
                            env=service_env(MODERATION_PARENT_PID=str(dead.pid)))
    reaper.append(proc.pid)
    assert proc.wait(10) == -signal.SIGTERM


@pytest.mark.parametrize("parent", ["self", "unset"])
def test_guard_leaves_a_process_alone_while_its_parent_lives(reaper, parent):
    env = service_env(MODERATION_PARENT_PID=str(os.getpid())) if parent == "self" \
        else service_env()
    proc = subprocess.Popen([sys.executable, "-c", GUARDED], env=env)
    reaper.append(proc.pid)
    with pytest.raises(subprocess.TimeoutExpired):
        proc.wait(3)


@pytest.mark.parametrize("workers", [1, 2])
def test_serve_on_a_busy_port_exits_2_and_leaves_redis_running(data_dir, workers):
    running = EmbeddedRedis(data_dir)
    running.start(own=False)  # as left by a killed serve: running, no live owner
    redis_pid = running.pid()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        out = cli("serve", "--no-model", "--workers", str(workers), "--port", str(port),
                  "--data-dir", str(data_dir), env=base_env(), timeout=120)
    assert out.returncode == 2, out.stderr
    message = [line for line in out.stderr.splitlines() if line.startswith("moderation:")]
    assert len(message) == 1 and f"port {port}" in message[0], out.stderr
    assert "Traceback" not in out.stderr
    assert running.running() and running.pid() == redis_pid


def test_serve_that_fails_its_checks_leaves_the_redis_it_found(data_dir):
    running = EmbeddedRedis(data_dir)
    running.start(own=False)  # as left by a killed serve: running, no live owner
    redis_pid = running.pid()
    r = redis.Redis(unix_socket_path=str(running.socket_path), password=running.password())
    r.config_set("appendonly", "no")  # unsafe: serve adopts it, checks it, refuses to run
    r.close()
    out = cli("serve", "--no-model", "--workers", "1", "--port", str(free_port()),
              "--data-dir", str(data_dir), env=base_env(), timeout=120)
    assert out.returncode == 2 and "appendonly" in out.stderr, out.stderr
    assert running.running() and running.pid() == redis_pid
    assert not running.owner_file.exists()  # given up, for the next serve to adopt


def metric(text: str, name: str) -> float | None:
    m = re.search(rf"^{name}(?:\{{[^}}]*\}})? ([0-9.e+-]+)$", text, re.M)
    return float(m.group(1)) if m else None


def test_kill_9_of_embedded_redis_is_repaired_by_serve(data_dir, tmp_path, serves):
    env = base_env()
    s = Serve(env, data_dir, tmp_path / "serve.log", workers=2)
    serves.append(s)
    s.wait_ready(90)
    key = cli("apikey", "create", "portal-redis", "--data-dir", str(data_dir),
              env=env).stdout.strip()
    before = moderate(s.url, key, "r-1", "身份证110101199003074514")
    assert before["status"] == "pending"
    assert metric(httpx.get(s.url + "/metrics").text, "moderation_store_restarts_total") == 0
    time.sleep(1.5)  # appendfsync everysec: what a kill -9 may lose is the last second
    server = EmbeddedRedis(data_dir)
    old_pid = server.pid()

    def ready() -> int:
        try:
            return httpx.get(s.url + "/readyz", timeout=2).status_code
        except httpx.HTTPError:
            return 0

    # Frozen first (alive, not answering: the watchdog leaves it), so /readyz is seen 503
    # while Redis is down however fast the restart after the kill is.
    os.kill(old_pid, signal.SIGSTOP)
    assert wait_for(lambda: ready() == 503, timeout=10) is not None, \
        "/readyz never said 503 while Redis was down"
    os.kill(old_pid, signal.SIGKILL)
    killed_at = time.monotonic()
    assert wait_for(lambda: ready() == 200, timeout=15) is not None, \
        "serve did not restart its Redis: " + (tmp_path / "serve.log").read_text()
    print(f"ready again {time.monotonic() - killed_at:.2f} s after the kill")
    assert server.pid() != old_pid and _alive(server.pid())

    got = httpx.get(s.url + "/v1/items/r-1", headers=bearer(key), timeout=10)
    assert got.status_code == 200 and got.json()["item_id"] == before["item_id"]
    assert moderate(s.url, key, "r-2", "出售冰毒")["status"] == "blocked"
    restarts = metric(httpx.get(s.url + "/metrics").text, "moderation_store_restarts_total")
    assert restarts is not None and restarts >= 1
    log = (tmp_path / "serve.log").read_text()
    assert '"logger": "api.redis"' in log and '"restarts": 1' in log

    new_pid = server.pid()
    assert s.stop() == 0  # a deliberate stop is not undone by the watchdog
    assert wait_for(lambda: not _alive(new_pid), timeout=10) is not None
    time.sleep(1)
    assert not server.running()
