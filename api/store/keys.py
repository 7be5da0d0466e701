"""Every Redis key name the service uses, in one place (rq's habit).

Keys are plain strings under one prefix so an operator can read them with `redis-cli`.
Redis Cluster is out of scope: the Lua scripts touch several of these keys in one call.
"""

from __future__ import annotations

PREFIX = "pm:"

# Items: one hash per (client, data_id); an index from item id to that key.
PENDING_QUEUE = PREFIX + "queue:pending"  # zset item_id -> created_at ms (review queue)

# Audit stream and its sealer's state.
AUDIT_STREAM = PREFIX + "audit"
AUDIT_HASHES = PREFIX + "audit:hashes"  # hash stream id -> {seq, hash, flags} (Redis tail)
# hash: last_id, last_hash, seq, lost, key_id, anchor_id, anchor_hash, anchor_seq
AUDIT_STATE = PREFIX + "audit:state"
AUDIT_LOCK = PREFIX + "audit:sealer:lock"  # string owner token with a TTL

# Accounts.
APIKEY_INDEX = PREFIX + "apikeys"  # hash key id -> JSON record (no secret)
USERS = PREFIX + "users"  # set of usernames

# Readiness: /readyz and /metrics SET this tiny key (short TTL) to prove writes succeed.
WRITE_PROBE = PREFIX + "probe:write"

# Pub/sub channel for version bumps (lexicon reloads, later issues).
VERSION_CHANNEL = PREFIX + "versions"

# Reserved for the next issues, named here so every feature shares one key space:
CLAIMS = PREFIX + "queue:claims"  # zset item_id -> lease expiry ms (review workflow)
QA_QUEUE = PREFIX + "queue:qa"  # zset item_id -> created ms (sampled machine decisions)
LEXICON_VERSIONS = PREFIX + "lexicon:versions"  # hash version -> JSON (lexicon management)
LEXICON_CURRENT = PREFIX + "lexicon:current"  # string: the live version number


def webhook(client: str) -> str:
    """A client's registered webhook (URL, origin, signing secret sealed by `api.secretbox`)."""
    return f"{PREFIX}webhook:{client}"


def author_items(client: str, author_ref: str) -> str:
    """Recent item ids of one author of one client (review `author_history`)."""
    return f"{PREFIX}author:{client}:{author_ref}"


def item(client: str, data_id: str) -> str:
    """The hash holding one item: text, decision, status, history."""
    return f"{PREFIX}item:{client}:{data_id}"


def item_id(item_id_: str) -> str:
    """Index from the service's item id to the item's hash key."""
    return f"{PREFIX}itemid:{item_id_}"


def apikey(key_hash: str) -> str:
    """Lookup from a key's SHA-256 to its id and client."""
    return f"{PREFIX}apikey:{key_hash}"


def rate_window(key_hash: str, second: int) -> str:
    """Fixed one-second rate-limit window of one API key."""
    return f"{PREFIX}rl:{key_hash}:{second}"


def user(username: str) -> str:
    return f"{PREFIX}user:{username}"


def user_sessions(username: str) -> str:
    """Set of the session hashes of one user, so disabling a user ends them all."""
    return f"{PREFIX}usersessions:{username}"


def session(token_hash: str) -> str:
    return f"{PREFIX}session:{token_hash}"


def login_failures(username: str) -> str:
    return f"{PREFIX}loginfail:{username}"


# Webhook outbox (review workflow): deliveries waiting, by due time; one hash per delivery.
OUTBOX = PREFIX + "outbox"  # zset delivery_id -> due ms
OUTBOX_FAILING = PREFIX + "outbox:failing"  # set of delivery ids past their first retries


def delivery(delivery_id: str) -> str:
    """One webhook delivery: client, item key, event, attempts, last error."""
    return f"{PREFIX}delivery:{delivery_id}"


# Compatibility credentials (Tencent SecretId / Aliyun AccessKeyId pairs; compatibility).
CREDENTIALS = PREFIX + "credentials"  # hash secret id -> JSON record (secret key sealed)


def credential_nonce(secret_id: str, nonce: str) -> str:
    """A signature nonce already used by one credential (Aliyun replay check; short TTL)."""
    return f"{PREFIX}nonce:{secret_id}:{nonce}"

# Review workflow: one zset per queue (channels, `escalated`, `appeals`, `qa`), scored so
# that ZRANGE gives the claim order (api/store/queues.py); beside each, a zset of the time
# each item entered it (oldest age). Scripts reach queues by prefix + name, and items by
# `ITEM_ID_PREFIX` + id, since which ones they touch is only known inside the script.
QUEUE_PREFIX = PREFIX + "queue:"  # + queue name: zset item_id -> claim-order score
QUEUE_AGE_PREFIX = PREFIX + "queueage:"  # + queue name: zset item_id -> entered ms
ITEM_ID_PREFIX = PREFIX + "itemid:"
REVIEW_DUE = PREFIX + "review:due"  # zset item_id -> SLA deadline ms (not yet overdue)
REVIEW_ESCALATE = PREFIX + "review:escalate"  # zset item_id -> 2 x SLA ms (auto-escalation)
REVIEW_COUNTS = PREFIX + "review:counts"  # hash status -> final verdicts given (totals)
REVIEW_QA = PREFIX + "review:qa"  # hash "n", "agree", "<channel>:<machine>:n|agree"
REVIEW_TTV = PREFIX + "review:ttv"  # list of recent times to verdict (ms), newest first
REVIEW_LOCK = PREFIX + "review:lock"  # singleton lease reaper + SLA escalation


def review_queue(name: str) -> str:
    """A review queue (a channel name, `escalated`, `appeals` or `qa`)."""
    return QUEUE_PREFIX + name


def review_queue_age(name: str) -> str:
    return QUEUE_AGE_PREFIX + name


def verdicts_day(day: str) -> str:
    """Final verdicts per reviewer on one UTC day (YYYY-MM-DD): hash username -> count."""
    return f"{PREFIX}review:verdicts:{day}"


# Lexicon management: immutable versions, drafts (LEXICON_VERSIONS / LEXICON_CURRENT above).
LEXICON_DRAFTS = PREFIX + "lexicon:drafts"  # zset draft id -> created ms


def lexicon_version(version: int) -> str:
    """The content of one immutable lexicon version (JSON: term rows and allow phrases)."""
    return f"{PREFIX}lexicon:version:{version}"


def lexicon_draft(draft_id: str) -> str:
    """One draft: its base version, changes, author, status (JSON)."""
    return f"{PREFIX}lexicon:draft:{draft_id}"


# Webhooks (review workflow): which clients registered one; the delivery worker's lock.
WEBHOOKS = PREFIX + "webhooks"  # set of client names with a `webhook(client)` hash
OUTBOX_LOCK = PREFIX + "outbox:lock"  # string owner token with a TTL (one worker at a time)
DELIVERY_PREFIX = delivery("")  # the outbox worker's Lua builds delivery keys from ids
