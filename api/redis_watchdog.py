"""The embedded Redis's watchdog: `serve` restarts its `redis-server` when it dies.

A daemon thread in the `serve` process polls the server it started or adopted (a process
check, see `EmbeddedRedis.exited`) and starts it again on the same data directory: same
socket, password and AOF, so what was acknowledged (fsynced) is there again, and the API
processes' clients reconnect by themselves. Restarts are at least `min_gap` apart and back
off while they fail, so a server that cannot start (a damaged AOF, a full disk) is not
crash-looped; each restart is one JSON log line on `api.redis` and one count of
`moderation_store_restarts_total`. `stop()` is called before `serve` stops the server, so
the watchdog never fights a deliberate stop.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from api.redis_server import EmbeddedRedis, RedisServerError

log = logging.getLogger("api.redis")


class RedisWatchdog:
    """Restart `server` whenever it dies, until `stop()`."""

    def __init__(self, server: EmbeddedRedis, *, on_restart: Callable[[], None] = lambda: None,
                 interval: float = 0.25, min_gap: float = 1.0, max_gap: float = 30.0) -> None:
        self.server = server
        self.on_restart = on_restart
        self.interval = interval
        self.min_gap = min_gap
        self.max_gap = max_gap
        self.restarts = 0
        self._failures = 0
        self._last_try = float("-inf")
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="redis-watchdog", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop watching; waits for a restart in progress so none starts after this returns."""
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stopping.wait(self.interval):
            if self.server.exited():
                self._restart()

    def _gap(self) -> float:
        """Seconds between two attempts: `min_gap`, doubled per failed attempt up to `max_gap`."""
        return min(self.max_gap, self.min_gap * 2 ** self._failures)

    def _restart(self) -> None:
        wait = self._last_try + self._gap() - time.monotonic()
        if wait > 0 and self._stopping.wait(wait):
            return
        self._last_try = time.monotonic()
        try:
            self.server.start(own=True)
        except (RedisServerError, OSError) as exc:
            self._failures += 1
            log.error("the embedded Redis died and could not be restarted; retrying",
                      extra={"error": str(exc), "failures": self._failures,
                             "retry_in_s": self._gap(), "redis_dir": str(self.server.dir)})
            return
        self._failures = 0
        self.restarts += 1
        self.on_restart()
        log.warning("the embedded Redis died; restarted it on the same data directory",
                    extra={"restarts": self.restarts, "redis_pid": self.server.pid(),
                           "redis_dir": str(self.server.dir)})
