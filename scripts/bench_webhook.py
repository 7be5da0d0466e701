"""Time from enqueue to webhook delivery, through a real `moderation serve` and Redis.

Starts a redis-server (AOF on) in a temporary directory (or uses REDIS_URL), a local HTTP
receiver on 127.0.0.1 (its origin allowed), and `moderation serve --no-model` with one
worker; registers the receiver with `moderation webhook set`, creates one review item, then
enqueues deliveries the way a verdict script does (ENQUEUE_DELIVERY_LUA) at steady rates
and then as one burst. Prints p50/p99/max of enqueue → receipt (target: p99 ≤ 1 s at a
steady rate; the burst shows throughput), the serve process's CPU per delivery, and the
receiver's direct POST round trip from this process as the baseline.

    PYTHONPATH=. .venv/bin/python scripts/bench_webhook.py [--n 500] [--rates 20,100]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import redis

from api.store import keys
from api.store.outbox import ENQUEUE_DELIVERY_LUA, delivery_keys

ROOT = Path(__file__).resolve().parent.parent
ENQUEUE_ONE = ENQUEUE_DELIVERY_LUA + """
enqueue_delivery(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5])
return 1
"""


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # the default 5 resets connections when 32 arrive at once


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Receiver:
    """Records when each delivery id arrived; answers 200."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        self.lock = threading.Lock()
        rec = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a portal's server would

            def do_POST(self) -> None:  # noqa: N802
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                now = time.time()
                did = self.headers.get("X-Delivery-Id")
                if did:
                    with rec.lock:
                        rec.arrived.setdefault(did, now)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def summary(lat: list[float]) -> dict[str, float]:
    return {"p50_ms": round(pct(lat, 0.5) * 1000, 1), "p99_ms": round(pct(lat, 0.99) * 1000, 1),
            "max_ms": round(max(lat) * 1000, 1), "mean_ms": round(statistics.mean(lat) * 1000, 1)}


def run_phase(r: redis.Redis, rec: Receiver, item_key: str, n: int, rate: float | None,
              timeout: float = 120) -> list[float]:
    """Enqueue n deliveries (paced at `rate`/s, or all at once) and wait for all of them."""
    sent: dict[str, float] = {}
    script = r.register_script(ENQUEUE_ONE)
    start = time.time()
    for i in range(n):
        if rate:
            wait = start + i / rate - time.time()
            if wait > 0:
                time.sleep(wait)
        did = "dl_" + uuid.uuid4().hex
        now = time.time()
        script(keys=delivery_keys(did), args=[did, "bench", item_key, "item.decided",
                                              int(now * 1000)])
        sent[did] = now
    deadline = time.time() + timeout
    while time.time() < deadline:
        with rec.lock:
            if all(d in rec.arrived for d in sent):
                break
        time.sleep(0.01)
    with rec.lock:
        missing = [d for d in sent if d not in rec.arrived]
        if missing:
            raise SystemExit(f"{len(missing)} deliveries did not arrive within {timeout} s")
        return [rec.arrived[d] - sent[d] for d in sent]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=500, help="deliveries per phase (500)")
    ap.add_argument("--rates", default="20,100",
                    help="paced phases, deliveries per second, comma list (20,100)")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-webhook-"))
    procs: list[subprocess.Popen] = []
    try:
        redis_url = os.environ.get("REDIS_URL")
        if not redis_url:
            port = free_port()
            procs.append(subprocess.Popen(
                [shutil.which("redis-server") or "redis-server", "--port", str(port),
                 "--bind", "127.0.0.1", "--dir", str(tmp), "--appendonly", "yes",
                 "--save", "", "--maxmemory-policy", "noeviction"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            redis_url = f"redis://127.0.0.1:{port}/0"
        r = redis.Redis.from_url(redis_url, decode_responses=True)
        for _ in range(200):
            try:
                r.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        rec = Receiver()
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("MODERATION_") and k != "REDIS_URL"}
        env.update(REDIS_URL=redis_url, MODERATION_DATA_DIR=str(tmp / "data"),
                   MODERATION_CALLBACK_ALLOW_ORIGINS=rec.origin,
                   PYTHONPATH=str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""))
        cmd = [sys.executable, "-m", "moderation.cli"]

        def cli(*a: str) -> str:
            out = subprocess.run([*cmd, *a], env=env, capture_output=True, text=True,
                                 check=True, cwd=ROOT)
            return out.stdout.strip()

        key = cli("apikey", "create", "bench")
        cli("webhook", "set", "bench", "--url", rec.origin + "/hook")
        port = free_port()
        log = (tmp / "serve.log").open("w")
        procs.append(subprocess.Popen([*cmd, "serve", "--no-model", "--workers", "1",
                                       "--port", str(port)], env=env, cwd=ROOT,
                                      stdout=log, stderr=subprocess.STDOUT))
        base = f"http://127.0.0.1:{port}"
        for _ in range(600):
            try:
                if httpx.get(base + "/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        res = httpx.post(base + "/v1/moderate", headers={"Authorization": f"Bearer {key}"},
                         json={"data_id": "bench-1", "channel": "comment",
                               "content": "我的身份证号是11010519491231002X，请帮忙查询。"})
        assert res.json()["status"] == "pending", res.text
        item_key = keys.item("bench", "bench-1")

        with httpx.Client() as direct:  # baseline: one POST from here to the receiver
            rtt = []
            for _ in range(200):
                t0 = time.perf_counter()
                direct.post(rec.origin + "/direct", content=b"{}")
                rtt.append(time.perf_counter() - t0)
        cpu0 = cpu_s(procs[-1].pid)
        rates = [float(x) for x in args.rates.split(",") if x.strip()]
        paced = {rate: run_phase(r, rec, item_key, args.n, rate) for rate in rates}
        burst = run_phase(r, rec, item_key, args.n, None)
        cpu_ms = (cpu_s(procs[-1].pid) - cpu0) * 1000 / ((len(rates) + 1) * args.n)
        worst = max(pct(lat, 0.99) for lat in paced.values())
        result = {
            "deliveries_per_phase": args.n,
            "paced": [{"rate_per_s": rate, **summary(lat)} for rate, lat in paced.items()],
            "burst": {**summary(burst),
                      "deliveries_per_s": round(args.n / max(burst), 1)},
            "baseline_direct_post": summary(rtt),
            "serve_cpu_ms_per_delivery": round(cpu_ms, 2),
            "load_average_1m": round(os.getloadavg()[0], 2),
            "cpu_cores": os.cpu_count(),
            "target_p99_ms": 1000,
            "worst_paced_p99_over_target": round(worst / 1.0, 3),
            "met_paced": worst <= 1.0,
            "burst_note": "all deliveries due at once: the last waits for the ones before it "
                          "(throughput-bound); verdicts arrive paced",
            "setting": "serve --workers 1 --no-model, webhook_poll_s 0.1, "
                       "webhook_concurrency 32, receiver: Python ThreadingHTTPServer",
        }
        print(json.dumps(result, indent=2))
        return 0
    finally:
        for p in reversed(procs):
            p.terminate()
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
