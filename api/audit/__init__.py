"""The audit log: events written with each change (`events`), chained under a key kept in
the data directory (`chain`, `keyfile`) and archived by one sealer (`sealer`, `files`),
checked and exported (`verify`).

Every feature records its changes through `append` (a MULTI pipeline) or `event_json` (a
Lua script's ARGV), re-exported here so callers write `audit.append(...)`.
"""

from api.audit.events import (
    EVENT_FIELD,
    GENESIS_HASH,
    append,
    canonical,
    digest,
    event_json,
    now_iso,
    stored_event,
)

__all__ = ["EVENT_FIELD", "GENESIS_HASH", "append", "canonical", "digest",
           "event_json", "now_iso", "stored_event"]
