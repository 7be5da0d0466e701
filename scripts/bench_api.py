#!/usr/bin/env python3
"""API benchmark: the service's lexicon path against a bare FastAPI constant endpoint.

Starts `moderation serve` (embedded Redis, no model) and, in the same run, a bare FastAPI
app under the same uvicorn settings; drives each from ONE client process over loopback
with 16 concurrent keep-alive connections (raw asyncio HTTP/1.1, so the client is not the
bottleneck), and prints requests/s and p50/p95/p99 latency of both plus their ratio.
Every service request is a new `data_id` of a realistic comment (COLD test set, from
MODERATION_DATASETS, default ../shared/datasets), so each one stores an item and two
audit events. It also prints the Redis memory per stored item (with its audit events),
then runs the service again with the classifier on (`--model-run`, default the shipped
model; fewer requests, it is ~30x slower) and prints that figure too.

    .venv/bin/python scripts/bench_api.py [--requests 20000] [--workers 2]
Target on the 2-core machine: >= 1,000 req/s on the lexicon path with p99 <= 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PY = sys.executable
FALLBACK = ["小区门口的路灯坏了好几天，希望有关部门尽快修理。",
            "我要投诉拆迁办，补偿款一直没有到位。", "请问社保卡丢了怎么补办？",
            "出售冰毒，量大从优，加微信", "办事窗口态度很好，点赞！",
            "公交车太挤了，建议高峰期加开班次。"]


def comments() -> list[str]:
    from moderation.cli_model import datasets_dir

    path = datasets_dir(None) / "cold" / "test.csv"
    if not path.exists():
        return FALLBACK
    with path.open(encoding="utf-8-sig") as f:
        texts = [row["TEXT"] for row in csv.DictReader(f) if row.get("TEXT", "").strip()]
    return texts[:2000] or FALLBACK


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(port: int, path: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
                if b" 200 " in s.recv(200):
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit("server did not become ready")


async def _conn_worker(port: int, requests: list[bytes], latencies: list[float]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for req in requests:
            t0 = time.perf_counter()
            writer.write(req)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            body = await reader.readexactly(length)
            latencies.append(time.perf_counter() - t0)
            if not head.startswith(b"HTTP/1.1 200"):
                raise SystemExit(f"unexpected answer: {head[:40]!r} {body[:200]!r}")
    finally:
        writer.close()


def drive(port: int | list[int], requests: list[bytes], concurrency: int) -> dict[str, float]:
    """Send all requests over `concurrency` keep-alive connections; latency per request.
    Several ports (API processes): the connections are spread over them in turn."""
    latencies: list[float] = []
    shares = [requests[i::concurrency] for i in range(concurrency)]
    ports = port if isinstance(port, list) else [port]

    async def main() -> float:
        t0 = time.perf_counter()
        await asyncio.gather(*(_conn_worker(ports[i % len(ports)], s, latencies)
                               for i, s in enumerate(shares)))
        return time.perf_counter() - t0

    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    wall = asyncio.run(main())
    q = statistics.quantiles(latencies, n=100)
    return {"requests": len(latencies), "seconds": wall, "rps": len(latencies) / wall,
            "p50_ms": q[49] * 1000, "p95_ms": q[94] * 1000, "p99_ms": q[98] * 1000}


def http_post(path: str, body: dict, key: str | None = None) -> bytes:
    data = json.dumps(body, ensure_ascii=False).encode()
    auth = f"Authorization: Bearer {key}\r\n" if key else ""
    return (f"POST {path} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n{auth}"
            f"Content-Length: {len(data)}\r\n\r\n").encode() + data


def redis_cli(data_dir: Path, *cmd: str) -> str:
    sock = data_dir / "redis" / "redis.sock"
    env = dict(os.environ, REDISCLI_AUTH=(data_dir / "redis" / "redis.password").read_text()
               .strip())
    return subprocess.run(["redis-cli", "-s", str(sock), "--no-auth-warning", *cmd], env=env,
                          capture_output=True, text=True).stdout.strip()


def memory_breakdown(data_dir: Path, sample: int = 200) -> dict[str, float]:
    """Bytes per item (its hash + id index) and per audit event (stream entry + sealed hash),
    from MEMORY USAGE (exact, SAMPLES 0)."""
    item_keys = [k for k in redis_cli(data_dir, "SCAN", "0", "MATCH", "pm:item:*", "COUNT",
                                      "5000").splitlines()[1:] if k][:sample]
    per_item = 0.0
    for k in item_keys:
        per_item += int(redis_cli(data_dir, "MEMORY", "USAGE", k, "SAMPLES", "0") or 0)
        item_id = redis_cli(data_dir, "HGET", k, "item_id")
        per_item += int(redis_cli(data_dir, "MEMORY", "USAGE", f"pm:itemid:{item_id}",
                                  "SAMPLES", "0") or 0)
    events = int(redis_cli(data_dir, "XLEN", "pm:audit") or 0)
    stream = int(redis_cli(data_dir, "MEMORY", "USAGE", "pm:audit", "SAMPLES", "0") or 0)
    hashes = int(redis_cli(data_dir, "MEMORY", "USAGE", "pm:audit:hashes", "SAMPLES", "0")
                 or 0)
    return {"item_bytes": per_item / max(1, len(item_keys)),
            "event_bytes": (stream + hashes) / max(1, events)}


def redis_info(data_dir: Path) -> dict[str, int]:
    out = redis_cli(data_dir, "INFO", "memory")
    mem = int(next(x for x in out.splitlines() if x.startswith("used_memory:")).split(":")[1])
    return {"used_memory": mem, "keys": int(redis_cli(data_dir, "DBSIZE")),
            "audit_events": int(redis_cli(data_dir, "XLEN", "pm:audit") or 0)}


BARE_APP = """
from fastapi import FastAPI
from fastapi.responses import JSONResponse
def create():
    app = FastAPI()
    @app.post("/const")
    async def const() -> JSONResponse:
        return JSONResponse({"decision": "pass"})
    @app.get("/readyz")
    async def ready() -> dict:
        return {"ready": True}
    return app
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=20_000)
    ap.add_argument("--warmup", type=int, default=2_000)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--model", default="none",
                    help="classifier for the service run: none (lexicon path, the target), "
                         "default (shipped model) or a directory")
    ap.add_argument("--model-run", default="default",
                    help="classifier of the second service run (none: skip it)")
    ap.add_argument("--model-requests", type=int, default=1_000)
    ap.add_argument("--sentinel", action="store_true",
                    help="only the Sentinel set (scripts/ha): two API processes on a primary "
                         "with two replicas, with MIN_REPLICA_ACKS 0 and then 1")
    args = ap.parse_args()
    texts = comments()
    if args.sentinel:
        return sentinel_bench(args, texts)
    tmp = Path(tempfile.mkdtemp(prefix="bench-", dir="/tmp"))
    data = tmp / "var"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("MODERATION_") and k != "REDIS_URL"}
    env["MODERATION_AUDIT_REDIS_TAIL"] = "100000000"  # keep events in Redis to measure them
    results: dict[str, dict[str, float]] = {}

    # 1. the bare FastAPI endpoint under the same uvicorn settings
    (tmp / "bare_app.py").write_text(BARE_APP)
    port = free_port()
    bare = subprocess.Popen([PY, "-m", "uvicorn", "bare_app:create", "--factory", "--port",
                             str(port), "--workers", str(args.workers), "--loop", "uvloop",
                             "--http", "httptools", "--no-access-log", "--log-level", "warning"],
                            cwd=tmp, env=env)
    try:
        wait_ready(port, "/readyz", bare)
        req = http_post("/const", {"data_id": "x", "channel": "comment", "content": texts[0]})
        drive(port, [req] * args.warmup, args.concurrency)
        results["bare"] = drive(port, [req] * args.requests, args.concurrency)
    finally:
        bare.send_signal(signal.SIGINT)
        bare.wait(20)

    # 2. the service: lexicon + PII, embedded Redis, every request stores a new item
    port = free_port()
    serve = subprocess.Popen([PY, "-m", "moderation.cli", "serve", "--model", args.model, "--port",
                              str(port), "--workers", str(args.workers), "--data-dir",
                              str(data)], env=env, cwd=REPO)
    key = ""
    try:
        wait_ready(port, "/readyz", serve)
        key = subprocess.run([PY, "-m", "moderation.cli", "apikey", "create", "bench",
                              "--data-dir", str(data)], env=env, cwd=REPO, capture_output=True,
                             text=True, check=True).stdout.strip()

        def reqs(prefix: str, n: int) -> list[bytes]:
            return [http_post("/v1/moderate", {"data_id": f"{prefix}-{i}", "channel": "comment",
                                               "content": texts[i % len(texts)]}, key)
                    for i in range(n)]

        drive(port, reqs("warm", args.warmup), args.concurrency)
        before = redis_info(data)
        results["service"] = drive(port, reqs("run", args.requests), args.concurrency)
        after = redis_info(data)
        time.sleep(1.5)  # let the sealer catch up so sealed hashes are counted
        breakdown = memory_breakdown(data)
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.wait(30)

    # 3. the service with the classifier on (micro-batched forward passes)
    if args.model_run.lower() != "none":
        port = free_port()
        serve = subprocess.Popen([PY, "-m", "moderation.cli", "serve", "--model", args.model_run,
                                  "--port", str(port), "--workers", str(args.workers),
                                  "--data-dir", str(data)], env=env, cwd=REPO)
        try:
            wait_ready(port, "/readyz", serve, timeout=180)
            warm = [http_post("/v1/moderate", {"data_id": f"mwarm-{i}", "channel": "comment",
                                                "content": texts[i % len(texts)]}, key)
                    for i in range(min(200, args.model_requests))]
            drive(port, warm, args.concurrency)
            run = [http_post("/v1/moderate", {"data_id": f"mrun-{i}", "channel": "comment",
                                               "content": texts[i % len(texts)]}, key)
                   for i in range(args.model_requests)]
            results["model"] = drive(port, run, args.concurrency)
        finally:
            serve.send_signal(signal.SIGTERM)
            serve.wait(30)

    s, b = results["service"], results["bare"]
    per_item = (after["used_memory"] - before["used_memory"]) / args.requests
    print(f"API benchmark: {args.requests} requests after {args.warmup} warm-up, "
          f"{args.concurrency} keep-alive connections from one client process, "
          f"{args.workers} uvicorn worker(s) (uvloop, httptools), embedded Redis "
          f"(AOF everysec), model: {args.model}, {os.cpu_count()} CPU cores; comments from COLD "
          "test")
    for name, r in (("bare FastAPI constant", b), ("service /v1/moderate", s)):
        print(f"  {name:24s} {r['rps']:8.0f} req/s  p50 {r['p50_ms']:6.2f} ms  "
              f"p95 {r['p95_ms']:6.2f} ms  p99 {r['p99_ms']:6.2f} ms")
    print(f"  ratio service/bare: {s['rps'] / b['rps']:.2f} of the req/s; "
          f"p99 {s['p99_ms'] / b['p99_ms']:.2f}x")
    print(f"  target: >= 1000 req/s and p99 <= 50 ms: "
          f"{'met' if s['rps'] >= 1000 and s['p99_ms'] <= 50 else 'NOT met'}")
    events = after["audit_events"] - before["audit_events"]
    print(f"  Redis memory: {per_item:.0f} bytes per stored item including its "
          f"{events / args.requests:.0f} audit events (avg comment "
          f"{statistics.mean(len(t) for t in texts):.0f} chars)")
    print(f"  MEMORY USAGE: {breakdown['item_bytes']:.0f} bytes per item (hash + id index), "
          f"{breakdown['event_bytes']:.0f} bytes per sealed audit event (entry + hash)")
    if "model" in results:
        m = results["model"]
        print(f"  {'service, model ' + args.model_run:24s} {m['rps']:8.0f} req/s  "
              f"p50 {m['p50_ms']:6.2f} ms  p95 {m['p95_ms']:6.2f} ms  p99 {m['p99_ms']:6.2f} ms"
              f"  ({args.model_requests} requests; ratio to the lexicon path "
              f"{m['rps'] / s['rps']:.3f})")
    print(json.dumps({**results, "redis_bytes_per_item": per_item, **breakdown}))
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


def sentinel_bench(args: argparse.Namespace, texts: list[str]) -> int:
    """req/s and p99 through the Sentinel set with MIN_REPLICA_ACKS 0 and 1: the cost of
    waiting (WAIT) for one replica to confirm each item before the 200."""
    sys.path.insert(0, str(REPO / "scripts" / "ha"))
    from ha_set import HaSet

    tmp = Path(tempfile.mkdtemp(prefix="bench-ha-", dir="/tmp"))
    results: dict[str, dict[str, float]] = {}
    for acks in (0, 1):
        ha = HaSet(tmp / f"acks{acks}", acks=acks)
        try:
            ha.start_store()
            ha.start_apis(timeout=180)
            key = ha.cli("apikey", "create", "bench").stdout.strip()

            def reqs(prefix: str, n: int, key: str = key) -> list[bytes]:
                return [http_post("/v1/moderate", {"data_id": f"{prefix}-{i}",
                                                   "channel": "comment",
                                                   "content": texts[i % len(texts)]}, key)
                        for i in range(n)]

            drive(ha.api_ports, reqs("warm", args.warmup), args.concurrency)
            results[f"acks{acks}"] = drive(ha.api_ports, reqs("run", args.requests),
                                           args.concurrency)
        finally:
            ha.stop()
    print(f"Sentinel set: primary + 2 replicas (AOF everysec) + 3 Sentinels, 2 API processes "
          f"(1 worker each, no model), {args.requests} requests after {args.warmup} warm-up, "
          f"{args.concurrency} keep-alive connections, {os.cpu_count()} CPU cores")
    for acks in (0, 1):
        r = results[f"acks{acks}"]
        print(f"  MIN_REPLICA_ACKS={acks}  {r['rps']:8.0f} req/s  p50 {r['p50_ms']:6.2f} ms  "
              f"p95 {r['p95_ms']:6.2f} ms  p99 {r['p99_ms']:6.2f} ms")
    a0, a1 = results["acks0"], results["acks1"]
    print(f"  cost of one replica acknowledgement: {a1['rps'] / a0['rps']:.2f} of the req/s, "
          f"p99 {a1['p99_ms'] - a0['p99_ms']:+.2f} ms")
    print(json.dumps(results))
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
