"""The workers' supervisor: a singleton task runs in exactly one process while any is alive
(and moves to another when its holder stops); a failing round never ends a task."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis

from api.workers.lock import RedisLock
from api.workers.supervisor import Supervisor

LOCK = "pm:test:singleton"


def test_singleton_task_runs_in_one_supervisor_then_fails_over(redis_server, rdb):
    async def scenario() -> tuple[list[str], list[str]]:
        r = aioredis.Redis.from_url(redis_server.url, decode_responses=True)
        ran: list[str] = []
        sups = []
        for name in ("a", "b"):
            sup = Supervisor(r)

            async def tick(name: str = name) -> None:
                ran.append(name)

            sup.singleton("tick", 0.02, tick, lock=RedisLock(r, LOCK, ttl_ms=300))
            sup.start()
            sups.append(sup)
        await asyncio.sleep(0.5)
        first = sorted(set(ran))
        holder = ran[0]
        await sups[0 if holder == "a" else 1].stop()  # releases the lock
        ran.clear()
        await asyncio.sleep(0.3)
        after = sorted(set(ran))
        await sups[1 if holder == "a" else 0].stop()
        await r.aclose()
        return first, after

    first, after = asyncio.run(scenario())
    assert len(first) == 1, first  # never both
    assert len(after) == 1 and after != first


def test_a_failing_round_does_not_end_the_task(redis_server, rdb):
    async def scenario() -> int:
        r = aioredis.Redis.from_url(redis_server.url, decode_responses=True)
        rounds = 0

        async def flaky() -> None:
            nonlocal rounds
            rounds += 1
            if rounds % 2:
                raise RuntimeError("boom")

        sup = Supervisor(r)
        sup.every("flaky", 0.01, flaky)
        sup.start()
        await asyncio.sleep(0.3)
        await sup.stop()
        await r.aclose()
        return rounds

    assert asyncio.run(scenario()) >= 4


def test_a_killed_holder_is_replaced_after_the_lock_ttl(redis_server, rdb):
    async def scenario() -> bool:
        r = aioredis.Redis.from_url(redis_server.url, decode_responses=True)
        dead = RedisLock(r, LOCK, ttl_ms=200)
        live = RedisLock(r, LOCK, ttl_ms=200)
        assert await dead.acquire() and not await live.acquire()
        await asyncio.sleep(0.3)  # the holder stopped renewing (killed)
        got = await live.acquire()
        await r.aclose()
        return got

    assert asyncio.run(scenario())


def test_stop_ends_a_loop_whose_round_swallowed_the_cancel(redis_server, rdb):
    """asyncio's timeout race can turn a cancel into a TimeoutError inside a client library;
    the loop must still end, or `stop` (and the process's shutdown) hangs forever."""

    async def scenario() -> tuple[bool, int, int]:
        r = aioredis.Redis.from_url(redis_server.url, decode_responses=True)
        rounds = 0

        async def swallows_the_cancel() -> None:
            nonlocal rounds
            rounds += 1
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                if rounds == 1:  # once: a hang without the fix would hang the test run too
                    raise TimeoutError("read timed out") from None
                raise

        async def tick() -> None:
            await asyncio.sleep(0)

        sup = Supervisor(r)
        sup.every("swallows", 0.01, swallows_the_cancel)
        sup.singleton("tick", 0.01, tick, lock=RedisLock(r, LOCK, ttl_ms=1000))
        sup.start()
        await asyncio.sleep(0.1)
        began = asyncio.get_running_loop().time()
        try:
            await asyncio.wait_for(sup.stop(), 3)
            stopped = asyncio.get_running_loop().time() - began < 2
        except TimeoutError:
            stopped = False
        lock_left = await r.exists(LOCK)
        await r.aclose()
        return stopped, rounds, lock_left

    stopped, rounds, lock_left = asyncio.run(scenario())
    assert stopped and rounds == 1
    assert lock_left == 0  # the lock was still released after the stubborn loop ended
