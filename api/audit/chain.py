"""The rules of the keyed chain, shared by the sealer and verify.

Each sealed event has a sequence number `seq` (1, 2, 3… over the life of the deployment,
never reused) and `hash = HMAC-SHA256(key, prev_hash ‖ canonical JSON of {"event", "id",
"seq", flags…})`. The stream id and seq are hashed with the event, so reordering, renumbering
or dropping events breaks the chain; the key (`api.audit.keyfile`) means nobody without it
can re-hash a rewritten chain.

Flags are anomalies the sealer found and sealed INTO the chain rather than hiding them:
`broken` (the event was not canonical JSON of the expected shape: edited before sealing),
`lost_before` (events vanished from the stream before they could be sealed) and `repaired`
(the sealer's state in Redis was missing or rewound and was restored from its signed head
copy on disk). Verify reports every flagged event as a break.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime
from typing import Any

from api.audit.events import canonical

FLAGS = ("broken", "lost_before", "repaired")
EVENT_REQUIRED = frozenset({"ts", "actor", "role", "action", "target", "versions"})
EVENT_FIELDS = EVENT_REQUIRED | {"details"}
MAX_TS_SKEW_S = 600  # an event's ts vs its stream id's time (clocks of API hosts vs Redis)


def body(stream_id: str, seq: int, event_text: str, flags: dict[str, Any] | None = None) -> str:
    """Canonical JSON of {"event", "id", "seq", flags…}, built without re-parsing the event
    (already canonical JSON: the sealer checked it; a broken one is sealed as a string)."""
    parts = {"event": event_text, "id": json.dumps(stream_id), "seq": str(seq)}
    for name, value in (flags or {}).items():
        parts[name] = canonical(value)
    return "{" + ",".join(f"{json.dumps(k)}:{v}" for k, v in sorted(parts.items())) + "}"


def chain_hash(key: bytes, prev_hash: str, stream_id: str, seq: int, event_text: str,
               flags: dict[str, Any] | None = None) -> str:
    msg = prev_hash + body(stream_id, seq, event_text, flags)
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).hexdigest()


def stream_ms(stream_id: str) -> int:
    return int(stream_id.partition("-")[0])


def _ts_ms(ts: str) -> int | None:
    try:
        return int(datetime.fromisoformat(ts).timestamp() * 1000)
    except (ValueError, TypeError):
        return None


def malformed(raw: str | None, stream_id: str) -> str | None:
    """Why a stored event cannot be sealed as it is (None when it is well-formed).

    Events are written by `event_json` only, so anything else (not canonical JSON, other
    fields, a time far from when Redis received it) was edited or forged in Redis."""
    if raw is None:
        return "the entry has no event field"
    try:
        event = json.loads(raw)
    except ValueError:
        return "not JSON"
    if not isinstance(event, dict):
        return "not a JSON object"
    if canonical(event) != raw:
        return "not canonical JSON (edited after it was written)"
    if not EVENT_REQUIRED <= event.keys() <= EVENT_FIELDS:
        return "fields differ from an audit event's"
    if not all(isinstance(event[k], str) for k in ("ts", "actor", "role", "action")):
        return "ts, actor, role and action must be strings"
    if not (event["target"] is None or isinstance(event["target"], str)):
        return "target must be a string or null"
    if not (event["versions"] is None or isinstance(event["versions"], dict)):
        return "versions must be an object or null"
    if "details" in event and not isinstance(event["details"], dict):
        return "details must be an object"
    ts = _ts_ms(event["ts"])
    if ts is None:
        return "ts is not an ISO time"
    drift = (stream_ms(stream_id) - ts) / 1000
    if abs(drift) > MAX_TS_SKEW_S:
        side = "older" if drift > 0 else "newer"
        return f"ts is {abs(drift):.0f} s {side} than its stream id (backdated or moved)"
    return None


def event_text(raw: str | None, broken: bool) -> str:
    """What is hashed for an event: its canonical JSON, or a broken one as a JSON string."""
    if broken:
        return canonical(raw if raw is not None else "")
    return raw or ""


def describe(flags: dict[str, Any]) -> str:
    """A flagged event as one sentence for verify's report."""
    said = []
    if "broken" in flags:
        said.append(f"the event was malformed when sealed ({flags['broken']}): edited before "
                    "sealing?")
    if "lost_before" in flags:
        said.append(f"{flags['lost_before']} event(s) were removed from the stream before "
                    "they could be sealed")
    if "repaired" in flags:
        said.append(f"the sealer found its Redis state {flags['repaired']}")
    return "; ".join(said)


def parse_meta(raw: str | None) -> dict[str, Any] | None:
    """A sealed event's stored `{seq, hash, flags…}` in Redis (None: missing or unreadable)."""
    if raw is None:
        return None
    try:
        meta = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(meta, dict) or not isinstance(meta.get("seq"), int) or "hash" not in meta:
        return None
    return meta
