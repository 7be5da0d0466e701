"""The embedded Redis: a `redis-server` owned by `moderation serve`, one per data directory.

It listens on a unix socket in `<data_dir>/redis/` (no TCP port, so it never clashes with a
system Redis), requires a generated password kept in `redis.password` (mode 0600), keeps
an AOF (`appendonly yes`, `appendfsync everysec` or `always`) and never evicts. A server
left running by a killed `serve` is adopted (same password, answers PING) or replaced.
`owner.pid` names the process that will stop it; other commands (`apikey`, `user`,
`audit`) use a running server without owning it, or start one of their own for the call.
`exited()` tells `serve`'s watchdog (api/redis_watchdog.py) that the server it started or
adopted has died, and `release()` gives a server up without stopping it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

SOCKET_NAME = "redis.sock"
MAX_UNIX_PATH = 100  # sun_path is 108 bytes on Linux; keep a margin


class RedisServerError(Exception):
    """The embedded server cannot be started; the message says what to do."""


def redis_server_binary() -> str:
    path = shutil.which("redis-server")
    if path is None:
        raise RedisServerError(
            "redis-server is not installed; run `scripts/install.sh` (it installs Debian's "
            "redis-server) or set REDIS_URL to use an existing server."
        )
    return path


def _alive(pid: int) -> bool:
    """True while the process exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            if f.read().rsplit(b")", 1)[-1].split()[0] == b"Z":
                return False
    except OSError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _ping(sock: Path, password: str, timeout: float = 0.5) -> bool:
    """True when a Redis server answers AUTH + PING on the socket (plain RESP, no client)."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(str(sock))
            pw = password.encode()
            s.sendall(b"*2\r\n$4\r\nAUTH\r\n$%d\r\n%s\r\n*1\r\n$4\r\nPING\r\n" % (len(pw), pw))
            data = b""
            while data.count(b"\r\n") < 2:
                chunk = s.recv(256)
                if not chunk:
                    break
                data += chunk
            return data.startswith(b"+OK\r\n+PONG")
    except OSError:
        return False


@dataclass
class EmbeddedRedis:
    """Start, adopt, reach and stop the embedded server of one data directory."""

    data_dir: Path
    appendfsync: str = "everysec"
    appendonly: bool = True  # False only while restoring a backup (load the RDB first)

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir).resolve()
        self.dir = self.data_dir / "redis"
        self.owned = False
        self._proc: subprocess.Popen[bytes] | None = None
        self._pid: int | None = None  # the server started or adopted last (see `exited`)

    @property
    def socket_path(self) -> Path:
        return self.dir / SOCKET_NAME

    @property
    def password_file(self) -> Path:
        return self.dir / "redis.password"

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"

    @property
    def pid_file(self) -> Path:
        return self.dir / "redis.pid"

    @property
    def owner_file(self) -> Path:
        return self.dir / "owner.pid"

    def password(self) -> str:
        """The server's password, generated once (0600) on first use."""
        self.dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.dir, 0o700)
        if not self.password_file.exists():
            fd = os.open(self.password_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_urlsafe(32) + "\n")
        os.chmod(self.password_file, 0o600)
        return self.password_file.read_text().strip()

    def running(self) -> bool:
        return self.socket_path.exists() and _ping(self.socket_path, self.password())

    def owner_alive(self) -> bool:
        pid = _read_int(self.owner_file)
        return pid is not None and pid != os.getpid() and _alive(pid)

    def _write_conf(self, password: str) -> Path:
        conf = self.dir / "redis.conf"
        lines = [
            "# written by `moderation serve`; edits are overwritten at the next start",
            "port 0",
            f"unixsocket {self.socket_path}",
            "unixsocketperm 700",
            f"dir {self.dir}",
            f"pidfile {self.pid_file}",
            f"logfile {self.dir / 'redis.log'}",
            "daemonize no",
            f"appendonly {'yes' if self.appendonly else 'no'}",
            'appenddirname "appendonlydir"',
            f"appendfsync {self.appendfsync}",
            "maxmemory-policy noeviction",
            "dbfilename dump.rdb",
            "save 3600 1 300 100 60 10000",
            f"requirepass {password}",
        ]
        fd = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write("\n".join(lines) + "\n")
        return conf

    def start(self, *, own: bool = True, timeout: float = 15.0) -> None:
        """Make sure a server runs on this data directory; start or adopt it when `own`.

        Adopts a healthy server whose owner is gone; kills and replaces one that does not
        answer with our password; starts a new one when none runs.
        """
        binary = redis_server_binary()
        if len(str(self.socket_path)) > MAX_UNIX_PATH:
            raise RedisServerError(
                f"The data directory path is too long for a unix socket ({self.socket_path}); "
                "use a shorter --data-dir."
            )
        password = self.password()
        if self.running():
            self._proc, self._pid = None, self.pid()
            if own:
                self._claim()
            return
        stale = _read_int(self.pid_file)
        if stale and _alive(stale) and self._is_redis(stale):
            with contextlib.suppress(ProcessLookupError):
                os.kill(stale, signal.SIGKILL)
            self._wait_gone(stale, 5)
        self.socket_path.unlink(missing_ok=True)
        conf = self._write_conf(password)
        self._proc = subprocess.Popen(
            [binary, str(conf)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True,
        )
        self._pid = self._proc.pid
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RedisServerError(
                    f"redis-server exited with {self._proc.returncode}; see "
                    f"{self.dir / 'redis.log'}."
                )
            if self.running():
                if own:
                    self._claim()
                else:
                    self.owned = True  # started for this command only: stop it after
                return
            time.sleep(0.02)
        self._proc.kill()
        raise RedisServerError(f"redis-server did not answer within {timeout:.0f} s; see "
                               f"{self.dir / 'redis.log'}.")

    def _claim(self) -> None:
        self.owner_file.write_text(f"{os.getpid()}\n")
        self.owned = True

    @staticmethod
    def _is_redis(pid: int) -> bool:
        try:
            return b"redis" in Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return True  # no /proc: trust the pid file

    @staticmethod
    def _wait_gone(pid: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not _alive(pid):
                return True
            time.sleep(0.02)
        return False

    def enable_aof(self, timeout: float = 600) -> int:
        """Turn the AOF on (a server started with `appendonly=False` to load an RDB) and wait
        until Redis has written it from the loaded data; returns the number of keys."""
        import redis

        r = redis.Redis(unix_socket_path=str(self.socket_path), password=self.password(),
                        decode_responses=True)
        try:
            keys_loaded = r.dbsize()
            r.config_set("appendonly", "yes")  # writes a fresh AOF from the loaded data
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                info = r.info("persistence")
                if info.get("aof_enabled") == 1 and not info.get("aof_rewrite_in_progress") \
                        and not info.get("aof_rewrite_scheduled"):
                    break
                time.sleep(0.1)
        finally:
            r.close()
        return keys_loaded

    def pid(self) -> int | None:
        return _read_int(self.pid_file)

    def exited(self) -> bool:
        """True when the server this object started or adopted last has died.

        A process check, never a PING: a server that is only slow (an fsync, a big AOF
        rewrite) must not be taken for dead, since `start` kills and replaces one that does
        not answer, which could lose its last second of writes.
        """
        if self._proc is not None:
            return self._proc.poll() is not None  # also reaps our dead child
        return self._pid is not None and not _alive(self._pid)

    def release(self) -> None:
        """Give the server up without stopping it: a `serve` that fails to start leaves a
        server that ran before it came running, for the next `serve` to adopt."""
        if _read_int(self.owner_file) == os.getpid():
            self.owner_file.unlink(missing_ok=True)
        self.owned = False

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server if this process owns it (SIGTERM: Redis flushes the AOF first)."""
        if not self.owned:
            return
        if self.owner_alive():  # a `serve` adopted it meanwhile: it is theirs to stop now
            self.owned = False
            return
        pid = self._proc.pid if self._proc is not None else self.pid()
        if pid and _alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            if self._proc is not None:
                try:
                    self._proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
                    self._proc.wait()
            elif not self._wait_gone(pid, timeout):
                os.kill(pid, signal.SIGKILL)
        if _read_int(self.owner_file) == os.getpid():
            self.owner_file.unlink(missing_ok=True)
        self.owned = False
