"""Heavy requests and slow clients never stall or pin a worker: a real `moderation serve`
(one worker, no model) on the session's redis-server.

- A hit-dense batch runs off the event loop: /healthz on the same worker stays fast.
- A batch's characters are capped (422 `batch_too_large`) and a stored decision is small.
- Idle kept-alive connections close after `http_keepalive_s`; a request's headers and body
  must arrive within `http_read_timeout_s` of the connection opening, else it is closed.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis
from api_test_support import RedisProc, bearer, cli, free_port, service_env

from api.store import keys

KEEPALIVE_S = 1.0
READ_TIMEOUT_S = 2.0
DENSE = "出售冰毒" * 2500  # 10,000 characters, thousands of hits


class Serve:
    """`moderation serve --workers 1 --no-model` on REDIS_URL, stopped by the fixture."""

    def __init__(self, env: dict[str, str], data_dir: Path, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "moderation.cli", "serve", "--no-model", "--workers", "1",
             "--port", str(self.port), "--data-dir", str(data_dir)],
            env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, "serve exited early"
            try:
                if httpx.get(self.url + "/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError("serve did not become ready")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.log.close()


@pytest.fixture(scope="module")
def served(redis_server: RedisProc, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[tuple[Serve, str]]:
    """One serve for the module (short timeouts) and an API key of client `portal-h`."""
    tmp = tmp_path_factory.mktemp("heavy")
    env = service_env(REDIS_URL=redis_server.url, MODERATION_SEALER_ENABLED="0",
                      MODERATION_HTTP_KEEPALIVE_S=str(KEEPALIVE_S),
                      MODERATION_HTTP_READ_TIMEOUT_S=str(READ_TIMEOUT_S))
    s = Serve(env, tmp / "data", tmp / "serve.log")
    try:
        key = cli("apikey", "create", "portal-h", "--data-dir", str(tmp / "data"),
                  env={"REDIS_URL": redis_server.url}).stdout.strip()
        s.wait_ready()
        yield s, key
    finally:
        s.stop()


def test_a_hit_dense_batch_does_not_stall_healthz_on_the_same_worker(served, redis_server):
    s, key = served
    items = [{"data_id": f"heavy-{i}", "channel": "comment", "content": DENSE}
             for i in range(20)]  # 200,000 characters: the most a batch may hold
    lags: list[float] = []
    done = threading.Event()

    def poll() -> None:
        with httpx.Client(base_url=s.url, timeout=10) as c:
            while not done.is_set():
                t0 = time.perf_counter()
                assert c.get("/healthz").status_code == 200
                lags.append(time.perf_counter() - t0)
                time.sleep(0.01)

    poller = threading.Thread(target=poll)
    poller.start()
    time.sleep(0.2)
    try:
        t0 = time.perf_counter()
        r = httpx.post(s.url + "/v1/moderate/batch", headers=bearer(key),
                       json={"items": items}, timeout=120)
        took = time.perf_counter() - t0
    finally:
        time.sleep(0.1)
        done.set()
        poller.join(30)
    assert r.status_code == 200, r.text[:500]
    assert len(lags) >= 5, (len(lags), took)
    assert max(lags) <= 0.5, f"/healthz took {max(lags):.3f} s during a {took:.2f} s batch"
    results = r.json()["results"]
    assert [x["decision"] for x in results] == ["block"] * 20
    assert all(x["hits_truncated"] and len(x["hits"]) == 100 for x in results)
    # the stored decision of a hit-dense item stays small (and reads back whole)
    plain = redis.Redis.from_url(redis_server.url)
    try:
        stored = plain.hget(keys.item("portal-h", "heavy-0"), "decision")
    finally:
        plain.close()
    assert stored is not None and len(stored) < 20_000, len(stored or b"")
    got = httpx.get(s.url + "/v1/items/heavy-0", headers=bearer(key)).json()["decision"]
    assert got["masked_text"] == DENSE and got["hits_total"] == results[0]["hits_total"]


def test_a_batch_over_200000_characters_is_422_before_any_work(served):
    s, key = served
    items = [{"data_id": f"big-{i}", "channel": "comment", "content": "路" * 2000}
             for i in range(100)]
    items[0]["title"] = "灯"  # 200,001 characters in all
    r = httpx.post(s.url + "/v1/moderate/batch", headers=bearer(key),
                   json={"items": items}, timeout=60)
    assert r.status_code == 422, r.text[:300]
    assert r.json()["error"]["code"] == "batch_too_large"
    assert httpx.get(s.url + "/v1/items/big-1", headers=bearer(key)).status_code == 404
    del items[0]["title"]  # exactly 200,000: accepted
    ok = httpx.post(s.url + "/v1/moderate/batch", headers=bearer(key),
                    json={"items": items}, timeout=60)
    assert ok.status_code == 200 and len(ok.json()["results"]) == 100


# -- slow and idle connections (raw sockets) ---------------------------------------------

REQUEST = b"GET /healthz HTTP/1.1\r\nHost: moderation\r\n\r\n"


def connect(s: Serve) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", s.port), timeout=15)
    return sock


def read_response(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        assert chunk, "the server closed the connection instead of answering"
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    length = int([h.split(b":")[1] for h in head.split(b"\r\n")
                  if h.lower().startswith(b"content-length:")][0])
    while len(rest) < length:
        rest += sock.recv(4096)
    return head + b"\r\n\r\n" + rest


def seconds_until_closed(sock: socket.socket, since: float) -> float:
    """Block until the server closes the connection (answering nothing); seconds from
    `since`."""
    got = b""
    try:
        while chunk := sock.recv(4096):
            got += chunk
    except ConnectionResetError:
        pass
    assert got == b"", got[:200]
    return time.monotonic() - since


def test_requests_on_a_kept_alive_connection_work_and_idle_ones_close(served):
    s, _ = served
    with connect(s) as sock:
        for _ in range(2):  # a normal client is served, twice on one connection
            sock.sendall(REQUEST)
            assert read_response(sock).startswith(b"HTTP/1.1 200")
        idle = time.monotonic()
        took = seconds_until_closed(sock, idle)
    assert KEEPALIVE_S * 0.5 <= took <= KEEPALIVE_S + 2.5, took


@pytest.mark.parametrize("sent", [
    b"",  # connects and says nothing
    b"GET /healthz HTTP/1.1\r\nHost: moder",  # half the headers, then silence
    b"POST /v1/auth/login HTTP/1.1\r\nHost: m\r\nContent-Type: application/json\r\n"
    b"Content-Length: 100\r\n\r\n{\"username\"",  # headers, then part of the body
])
def test_a_silent_or_half_sent_request_is_closed_within_the_read_timeout(served, sent):
    s, _ = served
    with connect(s) as sock:
        opened = time.monotonic()
        sock.sendall(sent)
        took = seconds_until_closed(sock, opened)
    assert READ_TIMEOUT_S * 0.75 <= took <= READ_TIMEOUT_S + 3, took


def test_headers_dripped_byte_by_byte_still_count_from_the_connection_opening(served):
    s, _ = served
    with connect(s) as sock:
        opened = time.monotonic()
        closed_at = None
        for b in REQUEST[:-2]:  # never completes the headers
            try:
                sock.sendall(bytes([b]))
            except (BrokenPipeError, ConnectionResetError):
                closed_at = time.monotonic() - opened
                break
            time.sleep(0.25)
            if time.monotonic() - opened > READ_TIMEOUT_S + 5:
                break
        took = closed_at if closed_at is not None else seconds_until_closed(sock, opened)
    assert took <= READ_TIMEOUT_S + 3, took


@pytest.mark.parametrize("title, content", [
    ("路灯", "出售冰毒"),  # nothing masked: both masked fields are left out of the store
    (None, "有事打我电话13912345678"),  # a masked content is stored as it is
    ("电话13912345678", "路灯坏了"),  # a masked title too
    ("", "路灯坏了"),
])
def test_a_stored_decision_reads_back_whole(client, api_key, rdb, title, content):
    req = {"data_id": "rt-1", "channel": "comment", "content": content, "title": title}
    first = client.post("/v1/moderate", headers=bearer(api_key), json=req).json()
    stored = rdb.hget(keys.item("portal-a", "rt-1"), "decision")
    assert ("masked_text" in stored) == (first["masked_text"] != content)
    again = client.post("/v1/moderate", headers=bearer(api_key), json=req).json()
    got = client.get("/v1/items/rt-1", headers=bearer(api_key)).json()["decision"]
    assert again["duplicate"] is True
    for d in (again, got):
        assert d["masked_text"] == first["masked_text"]
        assert d.get("masked_title") == first.get("masked_title")
        assert ("masked_title" in d) == (title is not None)
