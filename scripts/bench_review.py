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

A final phase times verdict -> webhook delivery at the portal, in a fresh Redis: the bench
client's webhook is registered (its loopback receiver's origin allowed), the real
`OutboxWorker` runs in this process under the `Supervisor` as `api.workers.tasks` starts
it, and the reviewers decide claimed items at steady total rates (`--hook-rates`, for
`--hook-seconds` each) and then as one burst (`--hook-burst`). For each item, the time the
verdict call returned to the time the receiver (a thread here, same clock) got its signed
delivery; every signature is checked with the client's secret.

    .venv/bin/python scripts/bench_review.py [--items 20000] [--reviewers 50] [--n 1]
        [--hook-rates 20,100] [--hook-seconds 10] [--hook-burst 500] [--hook-poll 0.05]
Targets: >= 500 claims/s with 50 concurrent reviewers; p99 verdict -> delivery <= 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import redis  # noqa: E402
import redis.asyncio as aioredis  # noqa: E402
from bench_support import SignedReceiver  # noqa: E402

from api.secretbox import SecretBox  # noqa: E402
from api.settings import Settings  # noqa: E402
from api.store import outbox  # noqa: E402
from api.store.apikeys import ApiKeyStore, hash_key  # noqa: E402
from api.store.claims import ClaimStore  # noqa: E402
from api.store.connection import connect  # noqa: E402
from api.store.items import ItemStore, NewItem  # noqa: E402
from api.store.verdicts import VerdictStore  # noqa: E402
from api.store.webhooks import WebhookStore  # noqa: E402
from api.workers.outbox import OutboxWorker, outbox_lock  # noqa: E402
from api.workers.supervisor import Supervisor  # noqa: E402
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


HOOK_TIMEOUT_S = 120  # a delivery not at the receiver by then is a failure, not a figure


@dataclass
class HookPhase:
    """One phase of the verdict -> delivery benchmark."""

    label: str
    rate: float | None  # verdicts/s in total; None: a burst
    verdict_rate: float  # what the reviewers achieved (verdicts after the first / seconds)
    delivered_rate: float  # verdicts / (first verdict started -> last delivery arrived)
    lat: list[float]  # per item: delivery arrived - verdict call returned


async def claim_share(clients: list[aioredis.Redis], total: int, n: int) -> list[list]:
    """The reviewers claim `total` items of the queue between them, concurrently."""
    claimed: list[list] = [[] for _ in clients]
    left = total

    async def reviewer(i: int) -> None:
        nonlocal left
        store = ClaimStore(clients[i], lease_s=600)
        while left > 0:
            take = min(n, left)
            left -= take
            got = await store.claim("comment", take, f"rev{i}", "reviewer")
            assert len(got) == take, "the queue ran out of items"
            claimed[i].extend(got)

    await asyncio.gather(*(reviewer(i) for i in range(len(clients))))
    return claimed


async def decide(clients: list[aioredis.Redis], claimed: list[list], rate: float | None
                 ) -> tuple[dict[str, float], float]:
    """Each reviewer decides its items in turn; the k-th verdict overall (round robin over
    the reviewers) is due at start + k/rate, or at once for a burst (`rate` None). Returns
    when each item's verdict call returned (perf_counter) and when the phase started."""
    slot: dict[tuple[int, int], int] = {}
    for j in range(max(map(len, claimed))):
        for i, mine in enumerate(claimed):
            if j < len(mine):
                slot[i, j] = len(slot)
    returned: dict[str, float] = {}
    start = time.perf_counter()

    async def reviewer(i: int) -> None:
        store = VerdictStore(clients[i], ttl_s=86400)
        for j, c in enumerate(claimed[i]):
            if rate:
                wait = start + slot[i, j] / rate - time.perf_counter()
                if wait > 0:
                    await asyncio.sleep(wait)
            out = await store.verdict(c.id, user=f"rev{i}", role="reviewer", version=c.version,
                                      verdict="reject", reason_code="advertising", note=None,
                                      second_review=[])
            returned[c.id] = time.perf_counter()
            assert out.final, out

    await asyncio.gather(*(reviewer(i) for i in range(len(clients))))
    return returned, start


async def hook_bench(url: str, workdir: Path, rec: SignedReceiver, reviewers: int, n: int,
                     plan: list[tuple[str, float | None, int]], poll_s: float
                     ) -> tuple[list[HookPhase], Settings, dict[str, int]]:
    """Register the bench client's webhook, run the outbox worker as a process's supervisor
    does, and time verdict -> delivery for each (label, rate, verdicts) of `plan`."""
    await fill(url, sum(size for *_, size in plan))
    settings = Settings(data_dir=workdir, secrets_key_file=workdir / "secrets.key",
                        callback_allow_origins=rec.origin, webhook_poll_s=poll_s,
                        redis_url=url)

    def box() -> SecretBox:
        return SecretBox.from_file(settings.secrets_key_path)

    r = connect(url, timeout=settings.redis_socket_timeout)  # as the service's own client
    rec.secret, _ = await WebhookStore(r, box).set(
        "bench", rec.origin + "/hook", allow_origins=settings.callback_allow_origins)
    worker = OutboxWorker(r, settings, WebhookStore(r, box))
    supervisor = Supervisor(r)  # as api.workers.tasks.build_supervisor adds it
    supervisor.singleton("webhook-outbox", settings.webhook_poll_s, worker.run_round,
                         lock=outbox_lock(r), on_stop=worker.stop)
    clients = [aioredis.Redis.from_url(url, decode_responses=True) for _ in range(reviewers)]
    for c in clients:
        await c.ping()
    supervisor.start()
    phases: list[HookPhase] = []
    try:
        for label, rate, size in plan:
            claimed = await claim_share(clients, size, n)
            returned, start = await decide(clients, claimed, rate)
            decided = max(returned.values()) - start
            missing = await asyncio.to_thread(rec.wait_for, list(returned), HOOK_TIMEOUT_S)
            if missing:
                raise SystemExit(f"{label}: {len(missing)} of {size} deliveries did not "
                                 f"arrive within {HOOK_TIMEOUT_S} s")
            with rec.lock:
                arrived = {i: rec.arrived[i] for i in returned}
            phases.append(HookPhase(
                label, rate, (size - 1) / decided if size > 1 else float(size),
                size / (max(arrived.values()) - start),
                [arrived[i] - returned[i] for i in returned]))
        left = await outbox.counts(r)
    finally:
        await supervisor.stop()
        for c in [*clients, r]:
            await c.aclose()
    return phases, settings, left


def print_hook(phases: list[HookPhase], settings: Settings, left: dict[str, int],
               rec: SignedReceiver, reviewers: int) -> None:
    print(f"verdict -> webhook delivery: {reviewers} reviewers, the real OutboxWorker under "
          f"the Supervisor in this process (poll {settings.webhook_poll_s:g} s, "
          f"concurrency {settings.webhook_concurrency}), receiver: ThreadingHTTPServer "
          "thread on 127.0.0.1 (fresh Redis, AOF everysec); load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for ph in phases:
        ms = sorted(x * 1000 for x in ph.lat)
        met = pct(ph.lat, 99) <= 1.0
        how = (f"paced, {ph.verdict_rate:,.1f} verdicts/s achieved" if ph.rate else
               f"all at once: {ph.verdict_rate:,.0f} verdicts/s, delivered at "
               f"{ph.delivered_rate:,.0f}/s")
        print(f"  {ph.label}: {len(ms)} verdicts ({how}): p50 {statistics.median(ms):.0f} ms, "
              f"p99 {pct(ms, 99):.0f} ms, max {ms[-1]:.0f} ms; target p99 <= 1000 ms: "
              f"{'met' if met else 'NOT met'}"
              + ("" if ph.rate or met else " (a burst is bound by delivery throughput)"))
    print(f"  signatures: {rec.deliveries} deliveries received, "
          f"{rec.deliveries - rec.bad_signatures} verified with the client's secret, "
          f"{rec.bad_signatures} failed (expected 0); {rec.duplicates} duplicate deliveries; "
          f"outbox afterwards: {left['waiting']} waiting, {left['failing']} failing")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=20_000)
    ap.add_argument("--reviewers", type=int, default=50)
    ap.add_argument("--n", type=int, default=1, help="items per claim call")
    ap.add_argument("--hook-rates", default="20,100",
                    help="verdict -> delivery: paced phases, verdicts/s in total (20,100; "
                         "empty: none)")
    ap.add_argument("--hook-seconds", type=float, default=10, help="length of a paced phase")
    ap.add_argument("--hook-burst", type=int, default=500,
                    help="verdicts given at once in the last phase (0: none)")
    ap.add_argument("--hook-poll", type=float, default=0.05, help="webhook_poll_s (0.05)")
    args = ap.parse_args()
    rates = [float(x) for x in args.hook_rates.split(",") if x.strip()]
    plan: list[tuple[str, float | None, int]] = [
        (f"{rate:g}/s", rate, max(1, round(rate * args.hook_seconds))) for rate in rates]
    if args.hook_burst > 0:
        plan.append(("burst", None, args.hook_burst))
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
    if not plan:
        return 0
    sys.stdout.flush()
    with tempfile.TemporaryDirectory(prefix="bench-review-hook-") as tmp:
        rec = SignedReceiver()
        proc, url = start_redis(Path(tmp))
        try:
            phases, settings, left = asyncio.run(hook_bench(
                url, Path(tmp), rec, args.reviewers, args.n, plan, args.hook_poll))
        finally:
            rec.stop()
            proc.terminate()
            proc.wait(10)
    print_hook(phases, settings, left, rec, args.reviewers)
    return 1 if rec.bad_signatures else 0


if __name__ == "__main__":
    sys.exit(main())
