"""Reading the audit log back for the admin's viewer: newest events first, filtered.

Events not yet archived are read from the Redis stream, older ones from the JSONL segments
in the audit directory (newest segment first); the scan stops once `limit` events matched
or `scan` events were read, so a large log never stalls a page.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from api.audit import files
from api.audit.events import stored_event
from api.store import keys
from api.store.connection import unavailable

SCAN = 20_000


def matches(event: Any, *, action: str, actor: str, target: str) -> bool:
    if not isinstance(event, dict):
        return not (action or actor or target)
    return (not action or str(event.get("action", "")).startswith(action)) \
        and (not actor or actor in str(event.get("actor", ""))) \
        and (not target or target in str(event.get("target", "")))


def _from_segments(audit_dir: Path, want: int, budget: int, **flt: str) -> list[dict]:
    out: list[dict] = []
    for path in reversed(files.segments(audit_dir)):
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        for line in reversed(lines):
            budget -= 1
            if budget < 0 or len(out) >= want:
                return out
            try:
                row = json.loads(line)
            except ValueError:
                continue
            if matches(row.get("event"), **flt):
                out.append({"id": row.get("id"), "seq": row.get("seq"), "sealed": True,
                            "event": row.get("event")})
    return out


async def recent(r: aioredis.Redis, audit_dir: Path, *, action: str = "", actor: str = "",
                 target: str = "", limit: int = 200) -> list[dict[str, Any]]:
    flt = {"action": action, "actor": actor, "target": target}
    async with unavailable():
        entries = await r.xrevrange(keys.AUDIT_STREAM, count=SCAN)
    out: list[dict[str, Any]] = []
    for sid, fields in entries:
        event = stored_event(fields)
        if matches(event, **flt):
            out.append({"id": sid, "seq": None, "sealed": None, "event": event})
            if len(out) >= limit:
                return out
    more = await asyncio.to_thread(_from_segments, audit_dir, limit - len(out),
                                   SCAN - len(entries), **flt)
    seen = {e["id"] for e in out}
    return out + [e for e in more if e["id"] not in seen]
