"""Opening the Redis client and checking the server is safe to keep items in.

A call that does not answer within the socket timeout counts as unreachable: the client
is built with that timeout and `unavailable()` turns redis-py's connection errors into
`StoreUnavailable`, which the API answers in degraded mode.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import redis.asyncio as aioredis
from redis import exceptions as rexc
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from api.store.errors import StoreUnavailable

UNREACHABLE = (rexc.ConnectionError, rexc.TimeoutError, OSError)


def connect(url: str, *, timeout: float, password_file: Path | None = None) -> aioredis.Redis:
    """An asyncio client for `redis://`, `rediss://` or `unix://` URLs (lazy: no I/O here)."""
    password = password_file.read_text().strip() if password_file else None
    kwargs = {}
    if password:
        kwargs["password"] = password
    return aioredis.Redis.from_url(
        url,
        decode_responses=True,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        health_check_interval=0,
        # One immediate retry for a connection dropped by a server restart; none on a
        # timeout: a call that does not answer within the timeout is "unreachable".
        retry=Retry(NoBackoff(), 1, supported_errors=(rexc.ConnectionError,)),
        max_connections=256,
        **kwargs,
    )


@asynccontextmanager
async def unavailable() -> AsyncIterator[None]:
    """Map "Redis did not answer" to `StoreUnavailable`; other errors pass through."""
    try:
        yield
    except UNREACHABLE as exc:
        raise StoreUnavailable("The store (Redis) is unreachable.") from exc


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
