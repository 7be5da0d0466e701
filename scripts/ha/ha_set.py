#!/usr/bin/env python3
"""A local high-availability set on loopback, all real processes: a Redis primary, two
replicas, three Sentinels (`redis-server --sentinel`) and two `moderation serve` processes
that find the primary through the Sentinels (README "Running on several machines").

    scripts/ha/start.sh [DIR] [--acks N]   # prints the ports and the environment to use
    scripts/ha/stop.sh [DIR]

Everything lives in DIR (default ./var/ha): each server's directory and log, the Sentinel
configurations, the API processes' data directories, the shared audit directory and key
(the multi-host rule: one audit directory and one audit key for every API host), and
`ha.json` with the pids and ports that `stop` reads. With `--acks 1` (the default) an item
is answered 200 only once a replica holds it; two replicas mean the promoted one still
has a replica left to confirm writes after a failover. Sentinel is tuned to notice a dead
primary after 1 s (`down-after-milliseconds`), which suits a demo and the tests; production
values are larger (README).

The test suite (tests/api/test_api_ha.py) and `scripts/bench_api.py --sentinel` use the
`HaSet` class.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import redis

REPO = Path(__file__).resolve().parents[2]
MASTER = "moderation"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(check: Any, what: str, timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            got = check()
            if got:
                return got
        except (redis.RedisError, httpx.HTTPError, OSError):
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not happen within {timeout:g} s")
        time.sleep(0.05)


class HaSet:
    """The processes of the set, started and stopped by this object (or by pid from
    `ha.json`)."""

    def __init__(self, root: Path, *, acks: int = 1, api_processes: int = 2,
                 down_after_ms: int = 1000, failover_timeout_ms: int = 2000,
                 api_env: dict[str, str] | None = None) -> None:
        self.root = root.resolve()
        self.acks = acks
        self.api_count = api_processes
        self.down_after_ms = down_after_ms
        self.failover_timeout_ms = failover_timeout_ms
        self.api_env = api_env or {}
        self.password = secrets.token_hex(16)
        self.redis_ports: list[int] = []
        self.sentinel_ports: list[int] = []
        self.api_ports: list[int] = []
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    # -- the environment every process of the service gets -----------------------------

    @property
    def sentinels(self) -> str:
        return ",".join(f"127.0.0.1:{p}" for p in self.sentinel_ports)

    def env(self, **extra: str) -> dict[str, str]:
        """What a `moderation` process needs: the Sentinels, the shared audit key and
        directory; the caller's MODERATION_* and REDIS_URL are left out."""
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("MODERATION_") and k != "REDIS_URL"}
        env.update(MODERATION_REDIS_SENTINELS=self.sentinels, MODERATION_REDIS_MASTER=MASTER,
                   MODERATION_REDIS_PASSWORD=self.password,
                   MODERATION_MIN_REPLICA_ACKS=str(self.acks),
                   MODERATION_AUDIT_DIR=str(self.root / "audit"),
                   MODERATION_AUDIT_KEY_FILE=str(self.root / "audit.key"),
                   PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
        env.update(self.api_env)
        env.update(extra)
        return env

    def cli(self, *args: str, stdin: str | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """`moderation ARGS` against the set (through the Sentinels)."""
        return subprocess.run([sys.executable, "-m", "moderation.cli", *args], input=stdin,
                              capture_output=True, text=True, env=self.env(), timeout=timeout,
                              cwd=REPO)

    def api_url(self, i: int) -> str:
        return f"http://127.0.0.1:{self.api_ports[i]}"

    # -- Redis and Sentinel ------------------------------------------------------------

    def _redis(self, port: int) -> redis.Redis:
        return redis.Redis(port=port, password=self.password, socket_timeout=1,
                           decode_responses=True)

    def _sentinel(self, port: int) -> redis.Redis:
        return redis.Redis(port=port, socket_timeout=1, decode_responses=True)

    def _start_redis(self, name: str, port: int, *extra: str) -> None:
        d = self.root / name
        d.mkdir(parents=True, exist_ok=True)
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed: run scripts/install.sh")
        self.procs[name] = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(d),
             "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
             "--maxmemory-policy", "noeviction", "--requirepass", self.password,
             "--masterauth", self.password, "--logfile", str(d / "redis.log"),
             # a replica that was cut off catches up from the backlog (no full resync)
             "--repl-backlog-size", "64mb", "--repl-diskless-sync-delay", "0",
             "--shutdown-timeout", "1", *extra],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def _start_sentinel(self, i: int, port: int, ids: list[str]) -> None:
        d = self.root / f"sentinel{i}"
        d.mkdir(parents=True, exist_ok=True)
        conf = d / "sentinel.conf"  # Sentinel rewrites its configuration: one file each
        # The replicas and the other Sentinels are named up front (as Sentinel itself
        # records them), so the set is complete at once instead of after discovery
        # (replicas are otherwise found by INFO every 10 s).
        known = "".join(f"sentinel known-replica {MASTER} 127.0.0.1 {p}\n"
                        for p in self.redis_ports[1:])
        known += "".join(f"sentinel known-sentinel {MASTER} 127.0.0.1 {p} {ids[j]}\n"
                         for j, p in enumerate(self.sentinel_ports) if j != i)
        conf.write_text(
            f"port {port}\nbind 127.0.0.1\ndir {d}\nlogfile {d / 'sentinel.log'}\n"
            f"sentinel myid {ids[i]}\n"
            f"sentinel monitor {MASTER} 127.0.0.1 {self.redis_ports[0]} 2\n"
            f"sentinel auth-pass {MASTER} {self.password}\n"
            f"sentinel down-after-milliseconds {MASTER} {self.down_after_ms}\n"
            f"sentinel failover-timeout {MASTER} {self.failover_timeout_ms}\n"
            f"sentinel parallel-syncs {MASTER} 2\n" + known)
        conf.chmod(0o600)
        self.procs[f"sentinel{i}"] = subprocess.Popen(
            [shutil.which("redis-server") or "redis-server", str(conf), "--sentinel"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def start_store(self) -> None:
        """Primary, two replicas, three Sentinels; returns once the Sentinels see both
        replicas and each other."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.redis_ports = [free_port() for _ in range(3)]
        self._start_redis("redis0", self.redis_ports[0])
        for i in (1, 2):
            self._start_redis(f"redis{i}", self.redis_ports[i], "--replicaof", "127.0.0.1",
                              str(self.redis_ports[0]))
        _wait(lambda: self._redis(self.redis_ports[0]).info("replication")
              .get("connected_slaves") == 2, "both replicas connecting")
        self.sentinel_ports = [free_port() for _ in range(3)]
        ids = [secrets.token_hex(20) for _ in self.sentinel_ports]
        for i, port in enumerate(self.sentinel_ports):
            self._start_sentinel(i, port, ids)

        def agreed() -> bool:
            for port in self.sentinel_ports:
                m = self._sentinel(port).sentinel_master(MASTER)
                if int(m["num-slaves"]) < 2 or int(m["num-other-sentinels"]) < 2:
                    return False
            return True

        _wait(agreed, "the Sentinels finding the replicas and each other", timeout=30)
        self._save()

    def primary_port(self) -> int | None:
        """The primary's port as the first Sentinel that answers names it."""
        for port in self.sentinel_ports:
            with contextlib.suppress(redis.RedisError):
                _, p = self._sentinel(port).sentinel_get_master_addr_by_name(MASTER)
                return int(p)
        return None

    def node(self, port: int) -> str:
        return f"redis{self.redis_ports.index(port)}"

    # -- the API processes -------------------------------------------------------------

    def start_apis(self, timeout: float = 60) -> None:
        self.api_ports = [free_port() for _ in range(self.api_count)]
        for i, port in enumerate(self.api_ports):
            d = self.root / f"api{i}"
            d.mkdir(parents=True, exist_ok=True)
            log = (d / "serve.log").open("w")
            self.procs[f"api{i}"] = subprocess.Popen(
                [sys.executable, "-m", "moderation.cli", "serve", "--no-model", "--workers",
                 "1", "--port", str(port), "--data-dir", str(d)],
                env=self.env(), stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
        for i in range(self.api_count):
            proc = self.procs[f"api{i}"]

            def ready(i: int = i, proc: subprocess.Popen[bytes] = proc) -> bool:
                if proc.poll() is not None:
                    log = (self.root / f"api{i}" / "serve.log").read_text()
                    raise RuntimeError(f"api{i} exited: {log}")
                return httpx.get(self.api_url(i) + "/readyz", timeout=1).status_code == 200

            _wait(ready, f"api{i} becoming ready", timeout=timeout)
        self._save()

    # -- bookkeeping -------------------------------------------------------------------

    def _save(self) -> None:
        state = {"pids": {n: p.pid for n, p in self.procs.items()},
                 "redis": self.redis_ports, "sentinels": self.sentinel_ports,
                 "apis": self.api_ports, "master": MASTER, "acks": self.acks}
        path = self.root / "ha.json"
        path.write_text(json.dumps(state, indent=2) + "\n")
        path.chmod(0o600)

    def stop(self) -> None:
        """API processes first (they flush and release their locks), then the rest."""
        order = sorted(self.procs, key=lambda n: (not n.startswith("api"), n))
        for name in order:
            proc = self.procs[name]
            if proc.poll() is None:
                proc.send_signal(signal.SIGCONT)  # a test may have stopped it
                proc.terminate()
        for name in order:
            proc = self.procs[name]
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)

    def print_usage(self) -> None:
        print(f"primary + replicas: 127.0.0.1:{','.join(map(str, self.redis_ports))} "
              f"(primary now {self.primary_port()})")
        print(f"sentinels: {self.sentinels}   master name: {MASTER}   "
              f"MIN_REPLICA_ACKS={self.acks}")
        for i in range(len(self.api_ports)):
            print(f"api{i}: {self.api_url(i)}")
        print("environment for `moderation` commands against this set:")
        for k in ("MODERATION_REDIS_SENTINELS", "MODERATION_REDIS_MASTER",
                  "MODERATION_REDIS_PASSWORD", "MODERATION_MIN_REPLICA_ACKS",
                  "MODERATION_AUDIT_DIR", "MODERATION_AUDIT_KEY_FILE"):
            print(f"export {k}={self.env()[k]}")


def stop_from_file(root: Path) -> int:
    """Stop the processes named in ROOT/ha.json (started by another `start`)."""
    path = root / "ha.json"
    if not path.exists():
        print(f"ha: nothing to stop ({path} does not exist)", file=sys.stderr)
        return 1
    pids = json.loads(path.read_text())["pids"]
    order = sorted(pids, key=lambda n: (not n.startswith("api"), n))
    for name in order:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pids[name], signal.SIGTERM)
    deadline = time.monotonic() + 20
    for name in order:
        while time.monotonic() < deadline:
            try:
                os.kill(pids[name], 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
        else:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pids[name], signal.SIGKILL)
    path.unlink()
    print(f"ha: stopped {len(pids)} processes of {root}", file=sys.stderr)
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("command", choices=("start", "stop"))
    ap.add_argument("dir", nargs="?", default="var/ha")
    ap.add_argument("--acks", type=int, default=1, help="MODERATION_MIN_REPLICA_ACKS (1)")
    args = ap.parse_args()
    root = Path(args.dir)
    if args.command == "stop":
        return stop_from_file(root)
    if (root / "ha.json").exists():
        print(f"ha: {root} already holds a running set; run stop first", file=sys.stderr)
        return 2
    ha = HaSet(root, acks=args.acks)
    try:
        ha.start_store()
        ha.start_apis()
        key = ha.cli("apikey", "create", "demo")
        if key.returncode != 0:
            raise RuntimeError(key.stderr)
    except BaseException:
        ha.stop()
        raise
    ha.print_usage()
    print(f"API key of client 'demo': {key.stdout.strip()}")
    print(f"stop with: scripts/ha/stop.sh {args.dir}")
    # The processes keep running after this script ends; `stop` ends them by pid.
    for proc in ha.procs.values():
        proc.returncode = 0  # Popen would otherwise warn that they are still running
    return 0


if __name__ == "__main__":
    sys.exit(main())
