"""Compatibility credentials: a SecretId / AccessKeyId with its secret key, per client.

A portal that calls Tencent Cloud TMS or Alibaba Cloud Green through their SDKs signs each
request with an HMAC of a secret key, so the service must read that key back in clear: it
is stored sealed with `api.secretbox` (never in clear in Redis, its AOF or backups).

A credential acts for its client exactly like an API key: items are created by the same
Lua call (`ItemStore.create`), which re-checks and rate-limits a lookup record at
`keys.apikey(credential_hash(secret_id))` holding the client and its rate limit. Revoking a
credential deletes that record, so every process refuses it on its next request.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import string
import time
from dataclasses import asdict, dataclass

import redis.asyncio as aioredis

from api import audit
from api.secretbox import SecretBox
from api.store import keys
from api.store.apikeys import CLIENT_RE
from api.store.connection import unavailable
from api.store.errors import InvalidName, NotFound

ID_PREFIX = "AKID"  # Tencent's own SecretIds start so; Aliyun's SDK accepts any id
_ALNUM = string.ascii_letters + string.digits
CACHE_S = 30.0  # a process re-reads (and re-decrypts) a credential at most this often
NONCE_MEMO = 50_000  # nonces a process remembers (oldest forgotten first; Redis decides)


def credential_hash(secret_id: str) -> str:
    """The "key hash" under which a credential's lookup record and rate window live (the
    prefix keeps it apart from the SHA-256 of any API key)."""
    return hashlib.sha256(f"credential:{secret_id}".encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class CredentialRecord:
    """What `credentials list` shows (never the secret key)."""

    secret_id: str
    client: str
    created_at: str
    revoked_at: str | None = None
    rate_limit: int | None = None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class LiveCredential:
    """A live credential as a request needs it: the client and the key to check HMACs."""

    secret_id: str
    client: str
    secret_key: str

    @property
    def key_hash(self) -> str:
        return credential_hash(self.secret_id)


class CredentialStore:
    def __init__(self, r: aioredis.Redis, box: SecretBox) -> None:
        self.r = r
        self.box = box
        self._cache: dict[str, tuple[LiveCredential, float]] = {}
        self._nonces: dict[tuple[str, str], float] = {}

    async def create(self, client: str, *, actor: str = "cli", role: str = "admin",
                     rate_limit: int | None = None) -> tuple[str, str, CredentialRecord]:
        """A new pair for `client`: (secret id, secret key shown once, record)."""
        if not CLIENT_RE.match(client):
            raise InvalidName("A client name is 1-64 characters of letters, digits, '.', '_' "
                              "or '-'.")
        secret_id = ID_PREFIX + "".join(secrets.choice(_ALNUM) for _ in range(32))
        secret_key = "".join(secrets.choice(_ALNUM) for _ in range(40))
        rec = CredentialRecord(secret_id=secret_id, client=client, created_at=audit.now_iso(),
                               rate_limit=rate_limit)
        stored = rec.to_dict() | {"sealed": self.box.seal(secret_key)}
        lookup = {"id": secret_id, "client": client}
        if rate_limit:
            lookup["rate_limit"] = str(rate_limit)
        async with unavailable(), self.r.pipeline(transaction=True) as pipe:
            pipe.hset(keys.apikey(credential_hash(secret_id)), mapping=lookup)
            pipe.hset(keys.CREDENTIALS, secret_id, json.dumps(stored))
            audit.append(pipe, actor, role, "credential.created", secret_id, None,
                         client=client)
            await pipe.execute()
        return secret_id, secret_key, rec

    async def list(self) -> list[CredentialRecord]:
        raw = await self.r.hgetall(keys.CREDENTIALS)
        recs = [_public(json.loads(v)) for v in raw.values()]
        return sorted(recs, key=lambda x: (x.created_at, x.secret_id))

    async def revoke(self, secret_id: str, *, actor: str = "cli", role: str = "admin"
                     ) -> CredentialRecord:
        """Revoke for good; a revoked or unknown id is `NotFound` (and audits nothing)."""

        async def apply(pipe: aioredis.client.Pipeline) -> dict:
            raw = await pipe.hget(keys.CREDENTIALS, secret_id)
            if raw is None:
                raise NotFound(f"No credential {secret_id!r}.")
            d = json.loads(raw)
            if d.get("revoked_at") is not None:
                raise NotFound(f"Credential {secret_id!r} is already revoked.")
            d["revoked_at"] = audit.now_iso()
            d.pop("sealed", None)  # a revoked secret is never needed again
            pipe.multi()
            pipe.delete(keys.apikey(credential_hash(secret_id)))
            pipe.hset(keys.CREDENTIALS, secret_id, json.dumps(d))
            audit.append(pipe, actor, role, "credential.revoked", secret_id, None,
                         client=d["client"])
            return d

        async with unavailable():
            d = await self.r.transaction(apply, keys.CREDENTIALS, value_from_callable=True)
        self._cache.pop(secret_id, None)
        return _public(d)

    async def live(self, secret_id: str) -> LiveCredential | None:
        """The live credential of `secret_id` (None: unknown or revoked), cached for
        `CACHE_S` so the hot path neither reads Redis nor decrypts on most requests. A
        credential revoked meanwhile is still refused: the item's Lua call checks it."""
        hit = self._cache.get(secret_id)
        now = time.monotonic()
        if hit is not None and hit[1] > now:
            return hit[0]
        if len(secret_id) > 128:
            return None
        async with unavailable():
            raw = await self.r.hget(keys.CREDENTIALS, secret_id)
        d = json.loads(raw) if raw else None
        if d is None or d.get("revoked_at") is not None or "sealed" not in d:
            self._cache.pop(secret_id, None)
            return None
        cred = LiveCredential(secret_id, d["client"], self.box.open(d["sealed"]))
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[secret_id] = (cred, now + CACHE_S)
        return cred

    def forget(self, secret_id: str) -> None:
        self._cache.pop(secret_id, None)

    def nonce_seen(self, secret_id: str, nonce: str) -> bool:
        """True when this process saw `nonce` claimed (or refused) for the credential less
        than its TTL ago: a replay refused before its decision is computed. Only a memo: the
        claim itself is in the item's Lua call (`ItemStore.create`), which every process
        shares; the memo spares a replay to the same process the pipeline's work."""
        expiry = self._nonces.get((secret_id, nonce))
        return expiry is not None and expiry > time.monotonic()

    def note_nonce(self, secret_id: str, nonce: str, ttl_s: int) -> None:
        if len(self._nonces) >= NONCE_MEMO:
            del self._nonces[next(iter(self._nonces))]
        self._nonces[(secret_id, nonce)] = time.monotonic() + ttl_s


def _public(d: dict) -> CredentialRecord:
    return CredentialRecord(**{k: v for k, v in d.items() if k != "sealed"})
