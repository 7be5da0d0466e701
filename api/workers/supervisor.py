"""The supervisor: runs each background task of a process in a loop that never dies.

A task is a coroutine function run every `interval` seconds. A `singleton` task first
takes or renews its Redis lock (`RedisLock`) and skips the round when another process
holds it, so it runs in exactly one process of the deployment while any is alive. A
round that fails is logged and retried next interval; a Redis outage is waited out
quietly. Stopping cancels every loop and releases the locks held.

Cancellation alone cannot be trusted to end a loop: a cancel that lands while a client
library's read timeout is expiring can surface as a TimeoutError (asyncio's timeout race),
which a loop that survives failed rounds would then swallow and go on forever, and `stop`
with it. So loops also check a stop flag, and `stop` cancels again until every loop is done.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import redis.asyncio as aioredis

from api.store.connection import UNREACHABLE
from api.workers.lock import RedisLock

log = logging.getLogger("api.workers")

STOP_RECANCEL_S = 0.5  # a loop still running this long after a cancel is cancelled again


@dataclass
class Task:
    """One background task: `run` is called every `interval` seconds."""

    name: str
    run: Callable[[], Awaitable[object]]
    interval: float
    lock: RedisLock | None = None  # set: a singleton task, run only while holding the lock
    on_stop: Callable[[], Awaitable[object]] | None = None  # cleanup after its loop ends

    @property
    def singleton(self) -> bool:
        return self.lock is not None


class Supervisor:
    """The background tasks of one API process."""

    def __init__(self, r: aioredis.Redis) -> None:
        self.r = r
        self.tasks: list[Task] = []
        self._running: list[asyncio.Task[None]] = []
        self._stopping = False

    def every(self, name: str, interval: float, run: Callable[[], Awaitable[object]]) -> Task:
        """Add a per-process task (runs in every process)."""
        task = Task(name, run, interval)
        self.tasks.append(task)
        return task

    def singleton(self, name: str, interval: float, run: Callable[[], Awaitable[object]], *,
                  lock: RedisLock,
                  on_stop: Callable[[], Awaitable[object]] | None = None) -> Task:
        """Add a task that runs in one process of the deployment (whoever holds `lock`);
        `on_stop` ends what its rounds left running (e.g. webhook sends in flight)."""
        task = Task(name, run, interval, lock, on_stop)
        self.tasks.append(task)
        return task

    def start(self) -> None:
        self._stopping = False
        for task in self.tasks:
            self._running.append(asyncio.create_task(self._loop(task), name=task.name))

    async def _loop(self, task: Task) -> None:
        while not self._stopping:
            try:
                if task.lock is None or await task.lock.acquire():
                    await task.run()
            except asyncio.CancelledError:
                raise
            except UNREACHABLE:
                pass  # Redis is down: /readyz says so; try again next round
            except Exception:  # a failed round must not end the task
                log.exception("background task failed", extra={"task": task.name})
            await asyncio.sleep(task.interval)

    async def stop(self) -> None:
        """Cancel every loop, then release the locks this process holds (best effort)."""
        self._stopping = True
        pending = set(self._running)
        while pending:
            for t in pending:
                t.cancel()
            _, pending = await asyncio.wait(pending, timeout=STOP_RECANCEL_S)
        self._running.clear()
        for task in self.tasks:
            if task.on_stop is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(task.on_stop(), 2)
        for task in self.tasks:
            if task.lock is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(task.lock.release(), 1)
