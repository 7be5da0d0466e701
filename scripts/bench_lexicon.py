"""Benchmark lexicon management: automaton build, dry run and reload delay.

Prints, in one run:

- the build time of the automaton for the 64k-term public list (houbb; read from the
  datasets directory, never copied into the project), and of the shipped lexicon;
- the dry run of that list as a draft (live: the shipped lexicon) over 10,000 stored items
  (COLD texts written as items to a private redis-server, each with its stored decision):
  reading the items and re-moderating them, per 1,000 items (target < 1 s per 1,000);
- the reload delay across two `moderation serve` processes on that Redis: from a publish
  until both serve the new version (target 2 s), for a one-term change and for the 64k list.

Usage: .venv/bin/python scripts/bench_lexicon.py [--datasets DIR] [--items 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from api.lexicon_dry_run import dry_run  # noqa: E402
from api.store import keys, recent_items  # noqa: E402
from api.store.connection import connect  # noqa: E402
from api.store.lexicon_content import Content, TermRow  # noqa: E402
from api.store.lexicon_versions import LexiconVersions  # noqa: E402
from moderation.cli_model import datasets_dir  # noqa: E402
from moderation.lexicon import Lexicon, Term  # noqa: E402
from moderation.normalize import normalize_term  # noqa: E402
from moderation.pipeline import SHIPPED_LEXICON, load_moderator  # noqa: E402


def public_terms(datasets: Path) -> tuple[list[Term], list[str]]:
    path = datasets / "lexicons" / "houbb-sensitive-word" / "sensitive_word_dict.txt"
    terms: dict[str, Term] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        word = line.strip()
        if any(ord(c) < 32 for c in word):  # garbled entries (SOURCE.md)
            continue
        key = normalize_term(word)
        if key and key not in terms:
            terms[key] = Term(word, key, "other", "review")
    allow_path = path.with_name("sensitive_word_allow.txt")
    allow = [w.strip() for w in allow_path.read_text(encoding="utf-8").splitlines() if w.strip()]
    return list(terms.values()), allow


def cold_texts(datasets: Path, n: int) -> list[str]:
    texts: list[str] = []
    for split in ("train", "dev", "test"):
        with open(datasets / "cold" / f"{split}.csv", encoding="utf-8-sig", newline="") as fh:
            texts.extend(row["TEXT"] for row in csv.DictReader(fh) if row["TEXT"])
        if len(texts) >= n:
            break
    return texts[:n]


def start_redis(workdir: Path) -> tuple[subprocess.Popen[bytes], int]:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([shutil.which("redis-server") or "redis-server", "--port", str(port),
                             "--bind", "127.0.0.1", "--dir", str(workdir), "--appendonly", "yes",
                             "--save", "", "--maxmemory-policy", "noeviction"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = redis.Redis(port=port)
    for _ in range(200):
        try:
            client.ping()
            return proc, port
        except redis.ConnectionError:
            time.sleep(0.05)
    raise SystemExit("redis-server did not start")


def store_items(rdb: redis.Redis, texts: list[str]) -> None:
    moderator = load_moderator(None, None, None)
    pipe = rdb.pipeline(transaction=False)
    now = int(time.time() * 1000)
    for i, text in enumerate(texts):
        d = moderator.moderate(text[:10_000], channel="comment").to_dict()
        pipe.hset(keys.item("bench", f"b-{i}"), mapping={
            "item_id": f"it_{i}", "data_id": f"b-{i}", "channel": "comment",
            "status": {"pass": "passed", "block": "blocked"}.get(d["decision"], "pending"),
            "request": json.dumps({"title": None, "content": text[:10_000]},
                                  ensure_ascii=False),
            "decision": json.dumps(d, ensure_ascii=False), "created_ms": str(now + i)})
    pipe.execute()


def best(fn, runs: int = 3) -> tuple[float, object]:  # noqa: ANN001
    out, times = None, []
    for _ in range(runs):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def reload_delay(url: str, content: Content, base: int, serves: list[str]
                 ) -> tuple[float, float]:
    """(seconds the publish call took, seconds from its announcement until every process
    serves the version)."""
    async def go() -> None:
        r = connect(url, timeout=30)
        try:
            await LexiconVersions(r).publish(content, base=base, actor="bench", role="admin",
                                             action="publish")
        finally:
            await r.aclose()

    t_start = time.monotonic()
    asyncio.run(go())
    t0 = time.monotonic()  # the version is written and announced when publish returns
    waiting = set(serves)
    while waiting and time.monotonic() - t0 < 120:
        for s in list(waiting):
            try:
                if httpx.get(s + "/readyz", timeout=5).json()["versions"]["lexicon"] == base + 1:
                    waiting.discard(s)
            except httpx.HTTPError:
                pass
        time.sleep(0.01)
    return t0 - t_start, time.monotonic() - t0


def serve(url: str, data: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in __import__("os").environ.items()
           if not k.startswith("MODERATION_") and k != "REDIS_URL"}
    env.update(REDIS_URL=url, MODERATION_LEXICON_POLL_S="30", PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-m", "moderation.cli", "serve", "--no-model",
                             "--workers", "1", "--port", str(port), "--data-dir", str(data)],
                            env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", default=None)
    ap.add_argument("--items", type=int, default=10_000)
    args = ap.parse_args()
    datasets = datasets_dir(args.datasets)
    terms, allow = public_terms(datasets)
    print(f"public list: {len(terms)} terms, {len(allow)} allow phrases")
    build_s, public = best(lambda: Lexicon(terms, allow), runs=2)
    shipped_s, shipped = best(lambda: Lexicon.load(SHIPPED_LEXICON))
    print(f"automaton build: 64k list {build_s * 1000:.0f} ms; shipped lexicon "
          f"({len(shipped.terms)} terms) {shipped_s * 1000:.1f} ms")
    content = Content.from_terms(terms, allow, author="bench", time="")
    blob = content.dumps()
    load_s, loaded = best(lambda: Content.loads(blob), runs=1)
    fold_s, _ = best(loaded.library_terms, runs=1)
    print(f"64k version as stored: {len(blob) / 1e6:.1f} MB; decode {load_s * 1000:.0f} ms, "
          f"fold its terms {fold_s * 1000:.0f} ms (a reload = decode + fold + build)")

    tmp = Path(tempfile.mkdtemp(prefix="bench-lexicon-"))
    proc, port = start_redis(tmp)
    url = f"redis://127.0.0.1:{port}/0"
    procs: list[subprocess.Popen[bytes]] = []
    try:
        rdb = redis.Redis(port=port, decode_responses=True)
        texts = cold_texts(datasets, args.items)
        store_items(rdb, texts)

        async def read() -> list[recent_items.ItemText]:
            r = connect(url, timeout=30)
            try:
                return await recent_items.recent(r, args.items)
            finally:
                await r.aclose()

        read_s, items = best(lambda: asyncio.run(read()), runs=1)
        policy = load_moderator(None, None, None, warm=False).policy
        run_s, report = best(lambda: dry_run(items, shipped, public, policy), runs=1)
        per_k = (read_s + run_s) / len(items) * 1000
        print(f"dry run, 64k list as the draft, {len(items)} stored items: read "
              f"{read_s * 1000:.0f} ms, re-moderate {run_s * 1000:.0f} ms; "
              f"{per_k * 1000:.0f} ms per 1,000 items (target < 1000 ms); "
              f"{report['changed']} decisions change {report['transitions']}")

        ports = []
        for name in ("a", "b"):
            import socket

            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                ports.append(s.getsockname()[1])
            procs.append(serve(url, tmp / name, ports[-1], tmp / f"{name}.log"))
        urls = [f"http://127.0.0.1:{p}" for p in ports]
        deadline = time.monotonic() + 120
        for u in urls:
            while True:
                try:
                    if httpx.get(u + "/readyz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit("serve did not start: " + (tmp / "a.log").read_text())
                time.sleep(0.1)
        v1 = Content.from_terms(shipped.terms, shipped.allow, author="bench", time="")
        one = Content(v1.terms + (TermRow("出售假证件", "fraud", "block"),), v1.allow)
        pub_small, small = reload_delay(url, one, 1, urls)
        pub_big, big = reload_delay(url, content, 2, urls)
        print(f"reload delay across two processes, from the announcement until both serve "
              f"the version (poll 30 s, so the announcement did it): one-term change "
              f"{small * 1000:.0f} ms, 64k list {big * 1000:.0f} ms (target 2000 ms); the "
              f"publish itself took {pub_small * 1000:.0f} / {pub_big * 1000:.0f} ms")
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(30)
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
