"""Helpers shared by the API tests (a module, since conftest.py cannot be imported)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

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
