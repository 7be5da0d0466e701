"""Finding the Redis primary through Sentinel (README "Running on several machines").

`MODERATION_REDIS_SENTINELS=host:port,…` with `MODERATION_REDIS_MASTER=NAME` travels
inside the service as ONE string, `redis+sentinel://[:password@]host:port,…/NAME`, so every
place that passes a Redis URL around (`serve` to its workers, the CLI's `_redis`) carries
the Sentinel set unchanged and `api.store.connection.connect` builds the right client.

The client is redis-py's `Sentinel(...).master_for(NAME)`: each new connection asks the
Sentinels where the primary is, a connection to a primary that was demoted (READONLY)
is dropped, and connections to a dead one fail and are replaced, so a process follows a
failover by itself. Sentinels are asked without a password; the data nodes with
`MODERATION_REDIS_PASSWORD`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

import redis.asyncio as aioredis
from redis.asyncio.sentinel import Sentinel

SCHEME = "redis+sentinel://"


def parse_sentinels(text: str) -> list[tuple[str, int]]:
    """`host:port,host:port` as pairs; ValueError naming the first bad entry."""
    out = []
    for raw in text.split(","):
        entry = raw.strip()
        host, sep, port = entry.rpartition(":")
        host = host.strip("[]")  # [::1]:26379
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"MODERATION_REDIS_SENTINELS entry {entry!r} is not host:port "
                             "(give a comma-separated list, e.g. 10.0.0.1:26379,10.0.0.2:26379)")
        out.append((host, int(port)))
    return out


def sentinel_url(sentinels: str, master: str, password: str | None) -> str:
    auth = f":{quote(password, safe='')}@" if password else ""
    hosts = ",".join(f"[{h}]:{p}" if ":" in h else f"{h}:{p}"
                     for h, p in parse_sentinels(sentinels))
    return f"{SCHEME}{auth}{hosts}/{quote(master, safe='')}"


def is_sentinel_url(url: str) -> bool:
    return url.startswith(SCHEME)


@dataclass(frozen=True)
class SentinelTarget:
    sentinels: list[tuple[str, int]]
    master: str
    password: str | None

    @classmethod
    def parse(cls, url: str) -> SentinelTarget:
        rest = url.removeprefix(SCHEME)
        hosts, _, master = rest.partition("/")
        password = None
        if "@" in hosts:
            auth, _, hosts = hosts.rpartition("@")
            password = unquote(auth.removeprefix(":")) or None
        return cls(parse_sentinels(hosts), unquote(master), password)


def sentinel_for(target: SentinelTarget, timeout: float) -> Sentinel:
    """The Sentinel client (no password: Sentinels are asked as they are configured)."""
    return Sentinel(target.sentinels, sentinel_kwargs={
        "socket_timeout": timeout, "socket_connect_timeout": timeout,
        "decode_responses": True})


def connect(url: str, *, password: str | None, **kwargs: Any) -> aioredis.Redis:
    """A client of the current primary that follows failovers (lazy: no I/O here)."""
    target = SentinelTarget.parse(url)
    password = password or target.password
    if password:
        kwargs["password"] = password
    timeout = kwargs.get("socket_timeout") or 0.5
    return sentinel_for(target, timeout).master_for(target.master, **kwargs)


async def primary_address(url: str, *, timeout: float) -> tuple[str, int]:
    """Where the Sentinels say the primary is now (MasterNotFoundError when none agrees)."""
    target = SentinelTarget.parse(url)
    sentinel = sentinel_for(target, timeout)
    try:
        host, port = await sentinel.discover_master(target.master)
        return str(host), int(port)
    finally:
        await sentinel.aclose()
