#!/usr/bin/env python3
"""Compatibility benchmark: Tencent TMS and Aliyun Green calls against `/v1/moderate`.

Starts `moderation serve` (embedded Redis, no model), creates an API key and a credential,
and drives, in the same run and with the same texts, `/v1/moderate`, Tencent
`TextModeration` (TC3-HMAC-SHA256), Aliyun `TextModeration` (ACS3-HMAC-SHA256) and Aliyun
`TextModeration` (RPC v1 HMAC-SHA1) over 16 keep-alive connections from one client process
(bench_api.py's raw HTTP/1.1 driver). Each request is a new item (new data id); requests
are signed before the clock starts, so the client's signing is not measured. `/v1/moderate`
runs first and last and its mean is the reference. Prints req/s, p50/p99 and each
endpoint's cost relative to `/v1/moderate` (target: signature checking costs <= 20 %).

On a busy machine req/s swings by more than the difference being measured, so each endpoint
also gets the service's CPU time per request (the serve process, its workers and its
embedded Redis, from /proc), which another process's load hardly moves; and `--rounds N`
splits each endpoint's requests into N slices run in turn (v1, Tencent, ACS3, RPC v1, v1,
...), so a burst of outside load falls on every endpoint alike. Every round is printed.

    .venv/bin/python scripts/bench_compat.py [--requests 5000] [--workers 2] [--rounds 3]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote, urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_api import PY, REPO, comments, drive, free_port, http_post, wait_ready  # noqa: E402

from api.compat import acs3, rpc_v1, tc3  # noqa: E402


def _request(method: str, target: str, headers: dict[str, str], body: bytes) -> bytes:
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return (f"{method} {target} HTTP/1.1\r\n{head}Content-Length: {len(body)}\r\n\r\n"
            ).encode() + body


def tencent(host: str, sid: str, skey: str, text: str, data_id: str) -> bytes:
    body = json.dumps({"Content": base64.b64encode(text.encode()).decode(),
                       "DataId": data_id}).encode()
    ts = str(int(time.time()))
    date = datetime.fromtimestamp(int(ts), UTC).strftime("%Y-%m-%d")
    headers = {"Host": host, "Content-Type": "application/json"}
    sig = tc3.signature(skey, method="POST", query="",
                        headers={"content-type": "application/json", "host": host},
                        signed_headers=("content-type", "host"), payload=body, timestamp=ts,
                        date=date)
    headers |= {"X-TC-Action": "TextModeration", "X-TC-Version": "2020-12-29",
                "X-TC-Timestamp": ts, "Authorization": f"TC3-HMAC-SHA256 Credential={sid}/"
                f"{date}/tms/tc3_request, SignedHeaders=content-type;host, Signature={sig}"}
    return _request("POST", "/", headers, body)


def _form(text: str, data_id: str) -> dict[str, str]:
    return {"Service": "comment_detection",
            "ServiceParameters": json.dumps({"content": text, "dataId": data_id},
                                            ensure_ascii=False)}


def aliyun_acs3(host: str, ak: str, secret: str, text: str, data_id: str) -> bytes:
    body = urlencode(_form(text, data_id)).encode()
    headers = {"host": host, "x-acs-action": "TextModeration", "x-acs-version": "2022-03-02",
               "x-acs-date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
               "x-acs-signature-nonce": uuid.uuid4().hex,
               "x-acs-content-sha256": hashlib.sha256(body).hexdigest(),
               "content-type": "application/x-www-form-urlencoded"}
    names = tuple(sorted(headers))
    sig = acs3.signature(secret, method="POST", params=[], headers=list(headers.items()),
                         signed_headers=names, content_sha256=headers["x-acs-content-sha256"])
    headers["Authorization"] = (f"ACS3-HMAC-SHA256 Credential={ak},SignedHeaders="
                                f"{';'.join(names)},Signature={sig}")
    return _request("POST", "/", headers, body)


def aliyun_rpc(host: str, ak: str, secret: str, text: str, data_id: str) -> bytes:
    form = _form(text, data_id)
    query = {"Action": "TextModeration", "Format": "json", "Version": "2022-03-02",
             "Timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
             "SignatureNonce": uuid.uuid4().hex, "SignatureMethod": "HMAC-SHA1",
             "SignatureVersion": "1.0", "AccessKeyId": ak}
    query["Signature"] = rpc_v1.signature(secret, "POST", query | form)
    target = "/?" + "&".join(f"{k}={quote(v, safe='~')}" for k, v in query.items())
    headers = {"host": host, "x-acs-action": "TextModeration",
               "content-type": "application/x-www-form-urlencoded"}
    return _request("POST", target, headers, urlencode(form).encode())


def tree_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) used so far by `pid` and every process under it."""
    stats: dict[int, tuple[int, float]] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            raw = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        rest = raw[raw.rfind(")") + 2:].split()
        stats[int(entry)] = (int(rest[1]), (int(rest[11]) + int(rest[12])) / tick)
    tree, total, grew = {pid}, 0.0, True
    while grew:
        grew = False
        for p, (ppid, _) in stats.items():
            if ppid in tree and p not in tree:
                tree.add(p)
                grew = True
    for p in tree:
        total += stats.get(p, (0, 0.0))[1]
    return total


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=5_000)
    ap.add_argument("--warmup", type=int, default=500)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--rounds", type=int, default=1,
                    help="split each endpoint's requests into this many interleaved slices")
    args = ap.parse_args()
    texts = comments()
    data = Path(tempfile.mkdtemp(prefix="bench-compat-", dir="/tmp")) / "var"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("MODERATION_") and k != "REDIS_URL"}
    port = free_port()
    host = f"127.0.0.1:{port}"
    serve = subprocess.Popen([PY, "-m", "moderation.cli", "serve", "--no-model", "--port",
                              str(port), "--workers", str(args.workers), "--data-dir",
                              str(data)], env=env, cwd=REPO)
    results: dict[str, list[dict[str, float]]] = {}
    try:
        wait_ready(port, "/readyz", serve)

        def run_cli(*a: str) -> str:
            return subprocess.run([PY, "-m", "moderation.cli", *a, "--data-dir", str(data)],
                                  env=env, cwd=REPO, capture_output=True, text=True,
                                  check=True).stdout.strip()

        key = run_cli("apikey", "create", "bench")
        sid, skey = run_cli("credentials", "create", "bench").split(" ")
        builders = {
            "/v1/moderate": lambda t, d: http_post("/v1/moderate", {
                "data_id": d, "channel": "comment", "content": t}, key),
            "tencent TC3": lambda t, d: tencent(host, sid, skey, t, d),
            "aliyun ACS3": lambda t, d: aliyun_acs3(host, sid, skey, t, d),
            "aliyun RPC v1": lambda t, d: aliyun_rpc(host, sid, skey, t, d),
        }
        for n, name in enumerate(builders):
            warm = [builders[name](texts[i % len(texts)], f"w{n}-{i}")
                    for i in range(args.warmup)]
            drive(port, warm, args.concurrency)
        per_round = max(1, args.requests // args.rounds)
        order = [*[name for _ in range(args.rounds) for name in builders], "/v1/moderate"]
        for n, name in enumerate(order):
            build = builders[name]
            reqs = [build(texts[i % len(texts)], f"r{n}-{i}") for i in range(per_round)]
            cpu0 = tree_cpu_s(serve.pid)
            res = drive(port, reqs, args.concurrency)
            res["cpu_ms"] = (tree_cpu_s(serve.pid) - cpu0) * 1000 / per_round
            results.setdefault(name, []).append(res)
            step = "last" if n == len(order) - 1 else f"round {n // len(builders) + 1}"
            print(f"{step:8} {name:16} {res['rps']:8.0f} req/s "
                  f"{res['p50_ms']:6.1f} p50 ms {res['p99_ms']:6.1f} p99 ms "
                  f"{res['cpu_ms']:6.3f} service CPU ms/req", flush=True)
    finally:
        serve.send_signal(signal.SIGTERM)
        try:
            serve.wait(30)
        except subprocess.TimeoutExpired:  # still print what was measured
            serve.kill()
            serve.wait()

    def mean(runs: list[dict[str, float]], field: str) -> float:
        return sum(r[field] for r in runs) / len(runs)

    ref = mean(results["/v1/moderate"], "rps")
    ref_cpu = mean(results["/v1/moderate"], "cpu_ms")
    print(f"workers={args.workers} concurrency={args.concurrency} requests={args.requests} "
          f"per endpoint in {args.rounds} round(s) (one client process, keep-alive, every "
          "request a new item)")
    print(f"{'endpoint':16} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'cost vs /v1':>12} "
          f"{'CPU ms/req':>11} {'CPU vs /v1':>11}")
    for name, runs in results.items():
        rps, cpu = mean(runs, "rps"), mean(runs, "cpu_ms")
        cost = (ref / rps - 1) * 100
        print(f"{name:16} {rps:8.0f} {mean(runs, 'p50_ms'):8.1f} {mean(runs, 'p99_ms'):8.1f} "
              f"{cost:+11.1f}% {cpu:11.3f} {(cpu / ref_cpu - 1) * 100:+10.1f}%")
    print("target: each compatibility endpoint costs <= 20 % more time per request than "
          "/v1/moderate (req/s; the service's CPU per request is the steadier measure)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
