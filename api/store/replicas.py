"""Replicas: waiting for them to confirm a write, and checking them at start.

With `MODERATION_MIN_REPLICA_ACKS=N` an item is acknowledged only once N replicas hold it,
so killing the primary cannot lose it (Sentinel promotes the replica furthest ahead).
`WAIT` counts the replicas that reached the replication offset of the CALLING
CONNECTION's last write, so the writes and the WAIT must share one connection; a pooled
client would spread them over several. `run_then_wait` therefore takes one connection from
the pool and sends the commands, a tiny probe write and the WAIT on it in one round trip.
The probe makes the WAIT cover everything the primary holds at that moment, so it also
confirms an item that an earlier, unconfirmed attempt wrote (a retry that finds it) and the
sealer's state before anything goes to disk.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import redis.asyncio as aioredis
from redis import exceptions as rexc

from api.store import keys
from api.store.connection import UNREACHABLE, UnsafeServer, check_server, unavailable

if TYPE_CHECKING:
    from api.settings import Settings

PROBE_TTL_S = 10


@dataclass(frozen=True, slots=True)
class ReplicaAcks:
    """How many replicas must confirm a write, and how long to wait for them."""

    replicas: int = 0
    timeout_ms: int = 500

    @classmethod
    def from_settings(cls, settings: Settings) -> ReplicaAcks:
        return cls(settings.min_replica_acks, settings.replica_ack_timeout_ms)

    def not_confirmed(self, acked: int) -> str:
        return (f"The store confirmed the write on {acked} of the {self.replicas} replica(s) "
                f"required within {self.timeout_ms} ms; it is not acknowledged: retry with the "
                "same data_id.")


async def run_then_wait(r: aioredis.Redis, commands: list[tuple[Any, ...]],
                        acks: ReplicaAcks) -> tuple[list[Any], int]:
    """Send `commands`, a probe write and `WAIT replicas timeout` on ONE connection.

    Returns the commands' replies (an error reply as its exception object, as a pipeline
    does) and how many replicas confirmed. The WAIT may take up to its timeout, so its
    reply is read with that much more than the socket timeout. Connection errors, READONLY
    and MASTERDOWN raise `StoreUnavailable` (`unavailable()`); the connection is dropped
    after any error, since replies may be left unread on it.
    """
    pool = r.connection_pool
    async with unavailable():
        conn = await pool.get_connection()
        try:
            await conn.send_packed_command(conn.pack_commands([
                *commands, ("SET", keys.WRITE_PROBE, "1", "EX", PROBE_TTL_S),
                ("WAIT", acks.replicas, acks.timeout_ms)]))
            replies: list[Any] = []
            for _ in commands:
                try:
                    replies.append(await conn.read_response())
                except rexc.ResponseError as exc:
                    replies.append(exc)
            await conn.read_response()  # the probe: READONLY / OOM raise here
            read_timeout = acks.timeout_ms / 1000 + (conn.socket_timeout or 0.5)
            acked = await conn.read_response(timeout=read_timeout)
            if acked is None:  # no answer in time: the reply would be left on the socket
                raise rexc.TimeoutError("WAIT did not answer")
        except BaseException:
            await conn.disconnect()
            raise
        finally:
            await pool.release(conn)
    return replies, int(acked)


async def confirmed(r: aioredis.Redis, acks: ReplicaAcks) -> bool:
    """Whether `acks.replicas` replicas hold everything the primary holds now."""
    if acks.replicas <= 0:
        return True
    _, acked = await run_then_wait(r, [], acks)
    return acked >= acks.replicas


async def check_replicas(r: aioredis.Redis, *, password: str | None, timeout: float,
                         required: int = 0) -> list[str]:
    """Run `check_server` on every replica the primary lists (INFO replication), where
    one can be reached from here; `UnsafeServer` names a replica without AOF or with
    eviction (promoted, it would lose or evict items). Returns warnings."""
    warnings: list[str] = []
    try:
        info = await r.info("replication")
    except rexc.ResponseError:
        return ["INFO is not allowed on this server: the replicas were not checked."]
    found = [v for k, v in info.items() if k.startswith("slave") and isinstance(v, dict)]
    if len(found) < required:
        warnings.append(f"the primary has {len(found)} replica(s) connected but "
                        f"MODERATION_MIN_REPLICA_ACKS={required}: items get 503 until enough "
                        "replicas confirm writes.")
    for rep in found:
        where = f"{rep.get('ip')}:{rep.get('port')}"
        client = aioredis.Redis(host=str(rep.get("ip")), port=int(rep.get("port", 0)),
                                password=password, socket_timeout=timeout,
                                socket_connect_timeout=timeout, decode_responses=True)
        try:
            warnings += await check_server(client)
        except UnsafeServer as exc:
            raise UnsafeServer(f"replica {where}: {exc}") from exc
        except (*UNREACHABLE, rexc.AuthenticationError) as exc:
            warnings.append(f"replica {where} could not be reached from here "
                            f"({type(exc).__name__}): its AOF and eviction were not checked.")
        finally:
            await client.aclose()
    return warnings
