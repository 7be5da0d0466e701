"""Opening the Redis client and checking the server is safe to keep items in.

A call that does not answer within the socket timeout counts as unreachable: the client
is built with that timeout and `unavailable()` turns redis-py's connection errors into
`StoreUnavailable`, which the API answers in degraded mode. A write refused because Redis
reached `maxmemory` (OOM, from a command or from inside a Lua script) becomes `StoreFull`,
the same degraded answer under its own code.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from redis import exceptions as rexc
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from api.store import keys, sentinel
from api.store.errors import StoreFull, StoreUnavailable

UNREACHABLE = (rexc.ConnectionError, rexc.TimeoutError, OSError)
# Redis 7 answers `-OOM command not allowed when used memory > 'maxmemory'` (redis-py:
# OutOfMemoryError); older servers wrap it in a script error, hence the text check too.
_OOM_TEXT = "command not allowed when used memory"
WRITE_PROBE_TTL_S = 10
# uvloop raises this RuntimeError (not a ConnectionError) when redis-py writes to a socket
# the server closed, e.g. the old primary during a Sentinel failover.
_CLOSED_TRANSPORT_TEXT = "unable to perform operation on"


def closed_transport(exc: RuntimeError) -> bool:
    """True for the event loop's "write on a closed socket" error: the store went away."""
    text = str(exc)
    return _CLOSED_TRANSPORT_TEXT in text and "closed=True" in text


def is_full(exc: BaseException) -> bool:
    """Whether a Redis error means "out of memory: writes are refused"."""
    return isinstance(exc, rexc.OutOfMemoryError) or (
        isinstance(exc, rexc.ResponseError) and _OOM_TEXT in str(exc))


def store_full() -> StoreFull:
    return StoreFull("The store (Redis) is out of memory (maxmemory reached): nothing can be "
                     "stored until an operator frees or adds memory.")


def connect(url: str, *, timeout: float, password_file: Path | None = None) -> aioredis.Redis:
    """An asyncio client for `redis://`, `rediss://` or `unix://` URLs, or for the primary
    of a Sentinel set (`redis+sentinel://`, `api.store.sentinel`); lazy: no I/O here."""
    password = password_file.read_text().strip() if password_file else None
    kwargs: dict[str, Any] = dict(
        decode_responses=True,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        health_check_interval=0,
        # One immediate retry for a connection dropped by a server restart; none on a
        # timeout: a call that does not answer within the timeout is "unreachable".
        retry=Retry(NoBackoff(), 1, supported_errors=(rexc.ConnectionError,)),
        max_connections=256,
    )
    if sentinel.is_sentinel_url(url):
        return sentinel.connect(url, password=password, **kwargs)
    if password:
        kwargs["password"] = password
    return aioredis.Redis.from_url(url, **kwargs)


def failing_over(exc: BaseException) -> bool:
    """Whether a Redis error means "this node is not (or no longer) a writable primary":
    a demoted primary answers READONLY, a replica cut from its primary MASTERDOWN."""
    # NOSCRIPT reaching us means the client's automatic reload of the script did not help:
    # the load and the retry went to different nodes while the primary was changing.
    return isinstance(exc, (rexc.ReadOnlyError, rexc.MasterDownError, rexc.NoScriptError))


@asynccontextmanager
async def unavailable() -> AsyncIterator[None]:
    """Map "Redis did not answer" to `StoreUnavailable` and "Redis is out of memory" to
    `StoreFull`; other errors pass through."""
    try:
        yield
    except UNREACHABLE as exc:
        raise StoreUnavailable("The store (Redis) is unreachable.") from exc
    except rexc.ResponseError as exc:
        if is_full(exc):
            raise store_full() from exc
        if failing_over(exc):
            raise StoreUnavailable("The store (Redis) is failing over to a new primary.") \
                from exc
        raise
    except RuntimeError as exc:
        if closed_transport(exc):
            raise StoreUnavailable("The store (Redis) closed the connection.") from exc
        raise


async def check_writable(r: aioredis.Redis) -> None:
    """Prove that Redis takes writes now: one SET of a tiny key with a short TTL.

    Cheap (one round trip, a few bytes of AOF) and exact: Redis refuses it for the same
    reason it would refuse an item (`maxmemory` reached under `noeviction`), which
    comparing INFO's used_memory with maxmemory would only approximate. Raises
    `StoreFull` or `StoreUnavailable`.
    """
    async with unavailable():
        await r.set(keys.WRITE_PROBE, "1", ex=WRITE_PROBE_TTL_S)


class UnsafeServer(Exception):
    """The server would lose items (no AOF) or evict them (eviction policy)."""


async def check_server(r: aioredis.Redis) -> list[str]:
    """Raise `UnsafeServer` naming the setting when AOF is off or eviction is on.

    Returns warnings (e.g. CONFIG is disabled on a managed server, so nothing was checked).
    """
    try:
        aof = await r.config_get("appendonly")
        policy = await r.config_get("maxmemory-policy")
    except rexc.ResponseError:
        return ["CONFIG GET is not allowed on this server: appendonly and "
                "maxmemory-policy were not checked."]
    if aof.get("appendonly") != "yes":
        raise UnsafeServer(
            "Redis has appendonly=" + str(aof.get("appendonly")) +
            "; set `appendonly yes` so accepted items survive a restart."
        )
    if policy.get("maxmemory-policy") != "noeviction":
        raise UnsafeServer(
            "Redis has maxmemory-policy=" + str(policy.get("maxmemory-policy")) +
            "; set `maxmemory-policy noeviction` so pending items are never evicted."
        )
    return []
