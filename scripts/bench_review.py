#!/usr/bin/env python3
"""Review benchmark: claims per second with 50 concurrent reviewers against a real Redis.

Starts its own `redis-server` (AOF on, everysec, in a temporary directory), fills one
channel queue with `--items` review items through the store's create script (the same
Lua call the API uses), then lets `--reviewers` concurrent reviewers (asyncio tasks,
each with its own connection) claim `--n` item(s) per call until the queue is empty. Each
claim is the production Lua call: lease, status, version, history and an audit event per
item. Prints claims/s and claim-call latency (p50/p99), checks that no item was handed out
twice, then times the verdicts of the claimed items (each one a final verdict with its
outbox delivery and audit event) the same way.

    .venv/bin/python scripts/bench_review.py [--items 20000] [--reviewers 50] [--n 1]
Target: >= 500 claims/s with 50 concurrent reviewers.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import redis  # noqa: E402
import redis.asyncio as aioredis  # noqa: E402

from api.store.apikeys import ApiKeyStore, hash_key  # noqa: E402
from api.store.claims import ClaimStore  # noqa: E402
from api.store.items import ItemStore, NewItem  # noqa: E402
from api.store.verdicts import VerdictStore  # noqa: E402
from moderation.pipeline import load_moderator  # noqa: E402

TEXT = "加微信领取福利，躺赚日入过千"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_redis(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    binary = shutil.which("redis-server")
    if binary is None:
        sys.exit("redis-server is not installed: run scripts/install.sh")
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(workdir),
         "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
         "--maxmemory-policy", "noeviction"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = redis.Redis(port=port)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            return proc, f"redis://127.0.0.1:{port}/0"
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


async def fill(url: str, items: int) -> None:
    moderator = load_moderator(None, None, None)
    r = aioredis.Redis.from_url(url, decode_responses=True)
    key, _ = await ApiKeyStore(r, default_rate=1_000_000).create("bench")
    store = ItemStore(r, ttl_s=86400, policy=lambda: moderator.policy)
    decision = moderator.moderate(TEXT, channel="comment").to_dict()
    assert decision["decision"] == "review", decision["decision"]
    for start in range(0, items, 100):
        await store.create_many(
            [NewItem("bench", f"b-{i}", "comment", None, TEXT, decision, author_ref="a1")
             for i in range(start, min(items, start + 100))], key_hash=hash_key(key))
    await r.aclose()


async def run(url: str, reviewers: int, n: int) -> tuple[float, list[float], list, float,
                                                        list[float]]:
    clients = [aioredis.Redis.from_url(url, decode_responses=True) for _ in range(reviewers)]
    claimed: list[list] = [[] for _ in range(reviewers)]
    lat: list[float] = []

    async def reviewer(i: int) -> None:
        store = ClaimStore(clients[i], lease_s=600)
        while True:
            t = time.perf_counter()
            got = await store.claim("comment", n, f"rev{i}", "reviewer")
            lat.append(time.perf_counter() - t)
            if not got:
                return
            claimed[i].extend(got)

    for c in clients:  # connect (and load the script) before the clock starts
        await c.ping()
    t0 = time.perf_counter()
    await asyncio.gather(*(reviewer(i) for i in range(reviewers)))
    claim_s = time.perf_counter() - t0
    vlat: list[float] = []

    async def decide(i: int) -> None:
        store = VerdictStore(clients[i], ttl_s=86400)
        for c in claimed[i]:
            t = time.perf_counter()
            await store.verdict(c.id, user=f"rev{i}", role="reviewer", version=c.version,
                                verdict="reject", reason_code="advertising", note=None,
                                second_review=[])
            vlat.append(time.perf_counter() - t)

    t1 = time.perf_counter()
    await asyncio.gather(*(decide(i) for i in range(reviewers)))
    verdict_s = time.perf_counter() - t1
    for c in clients:
        await c.aclose()
    return claim_s, lat, claimed, verdict_s, vlat


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=20_000)
    ap.add_argument("--reviewers", type=int, default=50)
    ap.add_argument("--n", type=int, default=1, help="items per claim call")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-review-") as tmp:
        proc, url = start_redis(Path(tmp))
        try:
            asyncio.run(fill(url, args.items))
            claim_s, lat, claimed, verdict_s, vlat = asyncio.run(
                run(url, args.reviewers, args.n))
        finally:
            proc.terminate()
            proc.wait(10)
    ids = [c.id for per in claimed for c in per]
    assert len(ids) == len(set(ids)) == args.items, "an item was handed out twice or lost"
    print(f"reviewers: {args.reviewers} concurrent (asyncio, one connection each), "
          f"{args.n} item(s) per claim, {args.items} items, Redis AOF everysec")
    print(f"claims: {len(ids) / claim_s:,.0f} items claimed/s ({len(lat)} claim calls in "
          f"{claim_s:.2f} s; call p50 {statistics.median(lat) * 1000:.1f} ms, "
          f"p99 {pct(lat, 99) * 1000:.1f} ms); target >= 500/s; no item handed out twice")
    print(f"verdicts: {len(vlat) / verdict_s:,.0f} final verdicts/s (each with its outbox "
          f"delivery; p50 {statistics.median(vlat) * 1000:.1f} ms, "
          f"p99 {pct(vlat, 99) * 1000:.1f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
