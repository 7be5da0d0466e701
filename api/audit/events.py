"""Writing audit events: the one function every feature calls to record a change.

An event is written in the same MULTI/EXEC (`append`) or Lua call (`event_json` passed as
an ARGV) as the change it records. Events hold ids, actor, action, versions, time and
SHA-256 digests of texts; never raw text or personal data. They carry no hash when
written: the sealer (`api.audit.sealer`) chains them in stream order under the audit key
(`api.audit.chain`), and refuses to chain as fine an event that is not exactly what
`event_json` writes.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from api.store import keys

EVENT_FIELD = "e"
GENESIS_HASH = "0" * 64


def digest(text: str | None) -> str | None:
    """SHA-256 of a text, the only form in which user text enters the audit log."""
    if text is None:
        return None
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def canonical(obj: Any) -> str:
    """Canonical JSON: sorted keys, no spaces, UTF-8 kept (the sealer hashes this)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def stored_event(fields: dict[str, str]) -> Any:
    """The event of a stream entry as a JSON value; a damaged one as its raw text (archived
    and exported as-is, so that verify names it)."""
    raw = fields.get(EVENT_FIELD, "null")
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def event_json(
    actor: str,
    role: str,
    action: str,
    target: str | None,
    versions: dict[str, Any] | None = None,
    /,
    **details: Any,
) -> str:
    """The canonical JSON of one event (for Lua scripts that XADD it themselves)."""
    event: dict[str, Any] = {
        "ts": now_iso(),
        "actor": actor,
        "role": role,
        "action": action,
        "target": target,
        "versions": versions,
    }
    if details:
        event["details"] = details
    return canonical(event)


def append(
    pipe: Any,
    actor: str,
    role: str,
    action: str,
    target: str | None,
    versions: dict[str, Any] | None = None,
    /,
    **details: Any,
) -> None:
    """Queue an audit event on a MULTI pipeline, so it commits with the change it records.

    `actor` is who did it (`user:alice`, `client:portal-a`, `machine`, `cli`), `role` their
    role, `action` a dotted verb (`item.created`, `user.login_failed`), `target` the id of what
    changed; `details` must hold ids and digests only, never raw text or PII.
    """
    pipe.xadd(keys.AUDIT_STREAM, {EVENT_FIELD: event_json(actor, role, action, target,
                                                          versions, **details)})
