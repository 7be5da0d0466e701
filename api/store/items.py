"""Items: one stored record per accepted `/v1/moderate` request, claimed by `data_id`.

The `data_id` is the client's idempotency key, scoped to the client. The claim, the item
hash, the review queue entry and both audit events are written by ONE Lua call
(`CREATE_ITEM_LUA`), so two concurrent requests with one `data_id` give one item and an
accepted item is in Redis (AOF) before the answer leaves.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis import exceptions as rexc

from api import audit
from api.store import keys
from api.store.apikeys import key_rate_limited
from api.store.connection import unavailable
from api.store.errors import (
    DataIdConflict,
    NonceUsed,
    NotFound,
    StoreError,
    StoreUnavailable,
    Unauthorized,
)
from api.store.hset_json import HSET_JSON_LUA
from api.store.queues import QA, SPECIAL_QUEUES, QueueStat, queue_score, queue_stats, severity_of
from api.store.ratelimit import RATE_LIMIT_LUA
from api.store.replicas import ReplicaAcks, run_then_wait
from api.store.statuses import ItemStatus
from moderation.policy import DEFAULT_SLA_MINUTES, Channel, Policy

# Check the API key and its rate limit, claim the data_id and store the item, queue it,
# and audit it: all or nothing, in one round trip. Arguments: `ItemStore._args`.
CREATE_ITEM_LUA = RATE_LIMIT_LUA + HSET_JSON_LUA + """
-- KEYS[1]  item hash                  pm:item:{client}:{data_id}
-- KEYS[2]  item id index              pm:itemid:{item_id}
-- KEYS[3]  the review queue it enters  pm:queue:{channel} or pm:queue:qa (see ARGV[12])
-- KEYS[4]  audit stream               pm:audit
-- KEYS[5]  API key record             pm:apikey:{sha256 of the key}
-- KEYS[6]  rate window of the key     pm:rl:{sha256}:{unix second}
-- ARGV[1]  item id      ARGV[2] content digest   ARGV[3] status
-- ARGV[4]  TTL seconds for a final item (0: never expires)
-- ARGV[5]  created_at ms
-- ARGV[6]  audit event "item.created" (canonical JSON)
-- ARGV[7]  audit event "item.decided" (canonical JSON)
-- ARGV[8]  client the key must belong to   ARGV[9] items to count (0: counted already)
-- ARGV[10] default rate limit per second
-- ARGV[11] the item hash's fields as one JSON object of strings (fewer arguments to pack)
-- KEYS[7]  that queue's age zset       KEYS[8] SLA deadlines   KEYS[9] auto-escalation times
-- KEYS[10] the author's recent items (list; used when ARGV[16] > 0)
-- ARGV[12] '' (no queue) | 'review' (pending: KEYS[3] is the channel's queue) | 'qa' (sampled)
-- ARGV[13] queue score   ARGV[14] SLA deadline ms   ARGV[15] auto-escalation ms
-- ARGV[16] TTL of the author list (0: no author_ref)
-- KEYS[11] (optional) a signature nonce to claim   ARGV[17] its TTL seconds
-- Returns {"created", item_id} | {"exists", HGETALL...} | {"conflict", item_id}
--       | {"unauthorized"} (key revoked) | {"limited"} (over the key's rate limit)
--       | {"nonce_used"} (KEYS[11] already claimed: nothing written)
local rec = redis.call('HMGET', KEYS[5], 'client', 'rate_limit')
if rec[1] ~= ARGV[8] then
  return {'unauthorized'}
end
if KEYS[11] and not redis.call('SET', KEYS[11], '1', 'NX', 'EX', tonumber(ARGV[17])) then
  return {'nonce_used'}
end
local cost = tonumber(ARGV[9])
if cost > 0 and over_limit(KEYS[6], cost, tonumber(rec[2]) or tonumber(ARGV[10])) then
  return {'limited'}
end
local digest = redis.call('HGET', KEYS[1], 'digest')
if digest then
  if digest == ARGV[2] then
    return {'exists', redis.call('HGETALL', KEYS[1])}
  end
  return {'conflict', redis.call('HGET', KEYS[1], 'item_id')}
end
hset_json(KEYS[1], ARGV[11])
redis.call('SET', KEYS[2], KEYS[1])
if ARGV[12] ~= '' then
  redis.call('ZADD', KEYS[3], tonumber(ARGV[13]), ARGV[1])
  redis.call('ZADD', KEYS[7], tonumber(ARGV[5]), ARGV[1])
  if ARGV[12] == 'review' then
    redis.call('ZADD', KEYS[8], tonumber(ARGV[14]), ARGV[1])
    redis.call('ZADD', KEYS[9], tonumber(ARGV[15]), ARGV[1])
  end
end
local author_ttl = tonumber(ARGV[16])
if author_ttl > 0 then
  redis.call('LPUSH', KEYS[10], ARGV[1])
  redis.call('LTRIM', KEYS[10], 0, 20)
  redis.call('EXPIRE', KEYS[10], author_ttl)
end
local ttl = tonumber(ARGV[4])
if ttl > 0 then
  redis.call('EXPIRE', KEYS[1], ttl)
  redis.call('EXPIRE', KEYS[2], ttl)
end
redis.call('XADD', KEYS[4], '*', 'e', ARGV[6])
redis.call('XADD', KEYS[4], '*', 'e', ARGV[7])
return {'created', ARGV[1]}
"""


def content_digest(channel: str, title: str | None, content: str) -> str:
    """"Same content" means equal channel + title + content."""
    return hashlib.sha256(audit.canonical([channel, title, content]).encode()).hexdigest()


def new_item_id(now_ms: int | None = None) -> str:
    """`it_` + creation time (ms, 12 hex digits) + 20 random hex digits: ids sort by age,
    which breaks ties in the review queues (`api.store.queues`)."""
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    return f"it_{ms:012x}{uuid.uuid4().hex[:20]}"


def public_verdict(verdict: dict[str, Any] | None) -> dict[str, Any] | None:
    """The verdict as the portal sees it: never who gave it, nor the reviewer's note."""
    if not verdict:
        return None
    return {k: verdict.get(k) for k in ("verdict", "reason_code", "decided_at", "appeal")
            if k in verdict}


PRIVATE_HISTORY = frozenset({"by", "note", "former_holder"})


def public_history(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """History entries without reviewers' names and notes (the portal's view)."""
    return [{k: v for k, v in e.items() if k not in PRIVATE_HISTORY} for e in history]


_MASKED = (("masked_text", "content"), ("masked_title", "title"))


def stored_decision(decision: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
    """The decision as stored: a masked field equal to its text (nothing was masked) is
    left out, since the item's `request` holds that text; else a long text is stored twice."""
    drop = {k for k, f in _MASKED if k in decision and decision[k] == request.get(f)}
    return {k: v for k, v in decision.items() if k not in drop} if drop else decision


def loaded_decision(h: dict[str, str]) -> dict[str, Any]:
    """The decision of a stored item hash, with the masked fields `stored_decision` left out."""
    decision = json.loads(h["decision"])
    if "masked_text" not in decision or "masked_title" not in decision:
        request = json.loads(h.get("request") or "{}")
        for k, f in _MASKED:
            if k not in decision and request.get(f) is not None:
                decision[k] = request[f]
    return decision


@dataclass(frozen=True, slots=True)
class NewItem:
    """What the API hands the store for one accepted request."""

    client: str
    data_id: str
    channel: str
    title: str | None
    content: str
    decision: dict[str, Any]
    author_ref: str | None = None
    ip: str | None = None
    callback_url: str | None = None
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class StoredItem:
    """An item as read back from Redis."""

    item_id: str
    client: str
    data_id: str
    channel: str
    status: ItemStatus
    decision: dict[str, Any]
    verdict: dict[str, Any] | None
    history: list[dict[str, Any]]
    created_at: str
    updated_at: str
    version: int
    author_ref: str | None

    @classmethod
    def from_hash(cls, h: dict[str, str]) -> StoredItem:
        return cls(
            item_id=h["item_id"],
            client=h["client"],
            data_id=h["data_id"],
            channel=h["channel"],
            status=ItemStatus(h["status"]),
            decision=loaded_decision(h),
            verdict=json.loads(h.get("verdict") or "null"),
            history=json.loads(h.get("history") or "[]"),
            created_at=h["created_at"],
            updated_at=h.get("updated_at", h["created_at"]),
            version=int(h.get("version", "1")),
            author_ref=h.get("author_ref") or None,
        )

    def public(self) -> dict[str, Any]:
        """The item as `GET /v1/items/{data_id}` shows it to its client."""
        return {
            "item_id": self.item_id,
            "data_id": self.data_id,
            "channel": self.channel,
            "status": self.status.value,
            "decision": self.decision,
            "verdict": public_verdict(self.verdict),
            "history": public_history(self.history),
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "version": self.version,
        }


@dataclass(frozen=True, slots=True)
class NonceClaim:
    """A compatibility call's signature nonce, claimed by the item's own Lua call (no
    round trip of its own): a reused one refuses the call before anything is written."""

    secret_id: str
    nonce: str
    ttl_s: int


@dataclass(frozen=True, slots=True)
class CreateResult:
    item: StoredItem
    created: bool


class ItemStore:
    """Item operations on one Redis client."""

    def __init__(self, r: aioredis.Redis, *, ttl_s: int, default_rate: int = 10_000,
                 policy: Callable[[], Policy] | None = None,
                 sample: Callable[[], float] = random.random,
                 acks: ReplicaAcks | None = None) -> None:
        self.r = r
        self.ttl_s = ttl_s
        self.default_rate = default_rate
        # The live policy (a lexicon publish may swap it): channels, SLAs, QA fractions.
        self.policy = policy
        self.sample = sample
        self._create = r.register_script(CREATE_ITEM_LUA)
        self.acks = acks or ReplicaAcks()

    def _review_args(self, item: NewItem, status: ItemStatus, now_ms: int
                     ) -> tuple[str, str, dict[str, str], list[Any]]:
        """Where a new item waits for people: (kind, queue, hash fields, ARGV 12-15).

        A `review` decision waits in its channel's queue under the channel's SLA; a machine
        pass or block enters `qa` with the channel's `qa_sample` probability (drawn here,
        once: a replayed request returns before the script looks at it)."""
        rules = self.channel_rules(item.channel)
        sev = severity_of(item.decision)
        if status is ItemStatus.PENDING:
            sla_ms = (rules.sla_minutes if rules else DEFAULT_SLA_MINUTES) * 60_000
            deadline, escalate = now_ms + sla_ms, now_ms + 2 * sla_ms
            fields = {"kind": "review", "queue": item.channel, "sev": str(sev),
                      "deadline_ms": str(deadline), "queued_ms": str(now_ms)}
            return "review", item.channel, fields, [
                "review", queue_score(sev, deadline, now_ms), deadline, escalate]
        if rules is not None and rules.qa_sample > 0 and self.sample() < rules.qa_sample:
            fields = {"kind": "qa", "queue": QA, "sev": str(sev), "deadline_ms": "0",
                      "queued_ms": str(now_ms)}
            return "qa", QA, fields, ["qa", queue_score(sev, 0, now_ms), 0, 0]
        return "", item.channel, {}, ["", 0, 0, 0]

    def _args(self, item: NewItem, key_hash: str, cost: int, nonce: NonceClaim | None = None
              ) -> tuple[list[str], list[Any], StoredItem]:
        now_ms = int(time.time() * 1000)
        item_id = new_item_id(now_ms)
        status = ItemStatus.for_decision(item.decision["decision"])
        now = audit.now_iso()
        digest = content_digest(item.channel, item.title, item.content)
        history = [{"at": now, "status": status.value, "actor": "machine",
                    "action": "decided", "decision": item.decision["decision"]}]
        request = {"title": item.title, "content": item.content, "ip": item.ip,
                   "callback_url": item.callback_url}
        fields = {
            "item_id": item_id, "client": item.client, "data_id": item.data_id,
            "channel": item.channel, "status": status.value, "digest": digest,
            "decision": json.dumps(stored_decision(item.decision, request), ensure_ascii=False),
            "request": json.dumps(request, ensure_ascii=False),
            "author_ref": item.author_ref or "", "created_at": now, "updated_at": now,
            "created_ms": str(now_ms), "version": "1", "verdict": "null",
            "history": json.dumps(history, ensure_ascii=False),
            "machine": item.decision["decision"],
        }
        _, queue, review_fields, review_argv = self._review_args(item, status, now_ms)
        fields.update(review_fields)
        versions = item.decision.get("versions")
        created = audit.event_json(
            f"client:{item.client}", "client", "item.created", item_id, versions,
            data_id=item.data_id, channel=item.channel, request_id=item.request_id,
            content_sha256=audit.digest(item.content), title_sha256=audit.digest(item.title),
            author_ref_sha256=audit.digest(item.author_ref),
        )
        categories = sorted({r.get("category") for r in item.decision.get("reasons", [])
                             if r.get("category")})
        decided = audit.event_json(
            "machine", "system", "item.decided", item_id, versions,
            decision=item.decision["decision"], status=status.value, categories=categories,
            degraded=bool(item.decision.get("degraded")),
        )
        ttl = self.ttl_s if status.is_final else 0
        flat: list[Any] = [item_id, digest, status.value, ttl, now_ms, created, decided,
                           item.client, cost, self.default_rate,
                           json.dumps(fields, ensure_ascii=False), *review_argv,
                           self.ttl_s if item.author_ref else 0]
        key_list = [keys.item(item.client, item.data_id), keys.item_id(item_id),
                    keys.review_queue(queue), keys.AUDIT_STREAM, keys.apikey(key_hash),
                    keys.rate_window(key_hash, now_ms // 1000), keys.review_queue_age(queue),
                    keys.REVIEW_DUE, keys.REVIEW_ESCALATE,
                    keys.author_items(item.client, item.author_ref or "")]
        if nonce is not None:
            key_list.append(keys.credential_nonce(nonce.secret_id, nonce.nonce))
            flat.append(nonce.ttl_s)
        # Built from the values, not `from_hash(fields)`: that would parse back the JSON just
        # written (decision, history) on every request.
        stored = StoredItem(item_id=item_id, client=item.client, data_id=item.data_id,
                            channel=item.channel, status=status, decision=item.decision,
                            verdict=None, history=history, created_at=now, updated_at=now,
                            version=1, author_ref=item.author_ref or None)
        return key_list, flat, stored

    @staticmethod
    def _result(reply: list[Any], stored: StoredItem, item: NewItem) -> CreateResult:
        kind = reply[0]
        if kind == "created":
            return CreateResult(stored, True)
        if kind == "unauthorized":
            raise Unauthorized("Unknown or revoked API key.")
        if kind == "limited":
            raise key_rate_limited()
        if kind == "nonce_used":
            raise NonceUsed("The signature nonce was already used; each request needs a "
                            "new one.")
        if kind == "exists":
            flat = reply[1]
            return CreateResult(StoredItem.from_hash(dict(zip(flat[::2], flat[1::2],
                                                              strict=True))), False)
        raise DataIdConflict(
            f"data_id {item.data_id!r} is already used by item {reply[1]} with other "
            "content; send a new data_id for new content."
        )

    async def create(self, item: NewItem, *, key_hash: str, cost: int = 1,
                     nonce: NonceClaim | None = None) -> CreateResult:
        """Store a new item, or return the stored one for a repeat with the same content.

        The API key (by its hash) is checked, `nonce` claimed (if given) and `cost` items
        counted against its rate limit in the same call. Raises `DataIdConflict` when the
        data_id exists with other content, `Unauthorized` for a revoked key, `NonceUsed`
        for a nonce claimed before, `RateLimited` over the limit.
        """
        key_list, args, stored = self._args(item, key_hash, cost, nonce)
        if self.acks.replicas > 0:
            reply = (await self._create_acked([(key_list, args)]))[0]
            return self._result(reply, stored, item)
        async with unavailable():
            reply = await self._create(keys=key_list, args=args)
        return self._result(reply, stored, item)

    async def _create_acked(self, calls: list[tuple[list[str], list[Any]]]) -> list[Any]:
        """The create calls, then `WAIT` for `self.acks.replicas` on the same connection
        (`api.store.replicas`); fewer confirmations in time raise `StoreUnavailable`, and the
        client's retry with the same data_id finds the item and waits for it again."""
        sha = self._create.sha
        commands = [("EVALSHA", sha, len(k), *k, *a) for k, a in calls]
        replies, acked = await run_then_wait(self.r, commands, self.acks)
        missing = [i for i, x in enumerate(replies) if isinstance(x, rexc.NoScriptError)]
        if missing:  # a fresh primary (after a failover) has not seen the script yet
            async with unavailable():
                await self.r.script_load(CREATE_ITEM_LUA)
            again, acked = await run_then_wait(self.r, [commands[i] for i in missing],
                                               self.acks)
            for i, reply in zip(missing, again, strict=True):
                replies[i] = reply
        for reply in replies:  # e.g. OOM from inside the script: the same as a plain call
            if isinstance(reply, rexc.ResponseError):
                async with unavailable():
                    raise reply
        if acked < self.acks.replicas:
            raise StoreUnavailable(self.acks.not_confirmed(acked))
        return replies

    async def create_many(self, items: list[NewItem], *, key_hash: str
                          ) -> list[CreateResult | StoreError]:
        """`create` for a batch already counted against the rate limit, in one round trip
        (each item still atomic on its own)."""
        if self.acks.replicas > 0:
            calls, prepared = [], []
            for item in items:
                key_list, args, stored = self._args(item, key_hash, 0)
                calls.append((key_list, args))
                prepared.append((stored, item))
            replies = await self._create_acked(calls)
            return self._results(replies, prepared)
        pipe = self.r.pipeline(transaction=False)
        prepared = []
        for item in items:
            key_list, args, stored = self._args(item, key_hash, 0)
            await self._create(keys=key_list, args=args, client=pipe)
            prepared.append((stored, item))
        async with unavailable():
            replies = await pipe.execute()
        return self._results(replies, prepared)

    def _results(self, replies: list[Any], prepared: list[tuple[StoredItem, NewItem]]
                 ) -> list[CreateResult | StoreError]:
        out: list[CreateResult | StoreError] = []
        for reply, (stored, item) in zip(replies, prepared, strict=True):
            try:
                out.append(self._result(reply, stored, item))
            except StoreError as exc:
                out.append(exc)
        return out

    async def get(self, client: str, data_id: str) -> StoredItem:
        """The client's item with that data_id; `NotFound` also for other clients' items."""
        h = await self.r.hgetall(keys.item(client, data_id))
        if not h:
            raise NotFound(f"No item with data_id {data_id!r} for this client.")
        return StoredItem.from_hash(h)

    async def get_by_id(self, item_id: str) -> StoredItem:
        key = await self.r.get(keys.item_id(item_id))
        h = await self.r.hgetall(key) if key else {}
        if not h:
            raise NotFound(f"No item {item_id!r}.")
        return StoredItem.from_hash(h)

    def channel_rules(self, channel: str) -> Channel | None:
        """A channel's review rules (SLA, second review, QA fraction) under the live policy."""
        return self.policy().channels.get(channel) if self.policy is not None else None

    def channels(self) -> list[str]:
        return list(self.policy().channels) if self.policy is not None else []

    def review_queues(self) -> list[str]:
        """Every review queue: the live policy's channels, `escalated`, `appeals`, `qa`."""
        return [*self.channels(), *SPECIAL_QUEUES]

    async def review_queue_stats(self) -> list[QueueStat]:
        return await queue_stats(self.r, self.review_queues(), int(time.time() * 1000))

    async def queue_stats(self) -> tuple[int, float | None]:
        """Items waiting for people in all review queues (claimed ones not counted), and the
        age in seconds of the one waiting longest (None when all are empty)."""
        stats = await self.review_queue_stats()
        ages = [q.oldest_age_s for q in stats if q.oldest_age_s is not None]
        return sum(q.depth for q in stats), max(ages) if ages else None
