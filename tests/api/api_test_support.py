"""Helpers shared by the API tests (a module, since conftest.py cannot be imported)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import redis


def bearer(token: str) -> dict[str, str]:
    """The `Authorization` header for an API key or a session token."""
    return {"Authorization": f"Bearer {token}"}


def service_env(**extra: str) -> dict[str, str]:
    """This environment without the developer's MODERATION_* and REDIS_URL, plus `extra`."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("MODERATION_") and k != "REDIS_URL"}
    env.update(extra)
    return env


def base_env(**extra: str) -> dict[str, str]:
    """`service_env` for a `serve` under test: cheap argon2, a sealer that runs often."""
    return service_env(MODERATION_ARGON2_TIME_COST="1", MODERATION_ARGON2_MEMORY_KIB="1024",
                       MODERATION_SEALER_INTERVAL_S="0.2", **extra)


def cli(*args: str, env: dict[str, str] | None = None, stdin: str | None = None,
        timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run `moderation ARGS` as a user would, in `service_env(**env)`."""
    return subprocess.run([sys.executable, "-m", "moderation.cli", *args], input=stdin,
                          capture_output=True, text=True, env=service_env(**(env or {})),
                          timeout=timeout)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisProc:
    """A redis-server started for tests, with AOF on, in its own directory."""

    def __init__(self, workdir: Path, *extra: str) -> None:
        self.extra = list(extra)
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisProc:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server is not installed: run scripts/install.sh")
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir),
             "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
             "--maxmemory-policy", "noeviction", "--logfile", str(self.dir / "redis.log"),
             *self.extra],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_timeout=0.5)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return self
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    def stop(self, kill: bool = False) -> None:
        if self.proc is not None and self.proc.poll() is None:
            if kill:
                self.proc.kill()
            else:
                self.proc.terminate()
            self.proc.wait(10)


class Serve:
    """`moderation serve --no-model` as a real process (its output in `log`)."""

    def __init__(self, env: dict[str, str], data_dir: Path, log: Path, *,
                 port: int | None = None, workers: int = 1) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log
        self.log = log.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "moderation.cli", "serve", "--no-model", "--workers",
             str(workers), "--port", str(self.port), "--data-dir", str(data_dir)],
            env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, "serve exited early: " + self.log_path.read_text()
            try:
                if httpx.get(self.url + "/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError("serve did not become ready: " + self.log_path.read_text())

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        rc = self.proc.wait(20)
        self.log.close()
        return rc


def stop_serves(serves: list[Serve]) -> None:
    """Never leave a server behind, even after a failed test: every one is stopped (killed
    when it does not stop in time) before the first such failure is raised."""
    late: subprocess.TimeoutExpired | None = None
    for s in serves:
        if s.proc.poll() is None:
            try:
                s.stop()
            except subprocess.TimeoutExpired as exc:
                s.proc.kill()
                s.proc.wait(10)
                late = late or exc
    if late is not None:
        raise late
