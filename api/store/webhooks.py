"""Clients' registered webhooks: URL, origin and the signing secret, sealed at rest.

The secret must be read back in clear to sign each delivery, so it is kept encrypted with
`api.secretbox.SecretBox` (the data directory's `secrets.key`), never as plain text in
Redis. It is shown once, when set or rotated. The origin (`scheme://host:port`) is what a
per-request `callback_url` of that client must match.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from pydantic import HttpUrl, TypeAdapter, ValidationError

from api import audit, signing
from api.callbacks import origin_of, origin_text, parse_origins, refusal
from api.secretbox import SecretBox
from api.store import keys
from api.store.apikeys import CLIENT_RE
from api.store.connection import unavailable
from api.store.errors import InvalidName, NotFound

_URL = TypeAdapter(HttpUrl)

# Replace the secret of a registered webhook (absent: nothing written), with its audit event.
ROTATE_LUA = """
-- KEYS[1] webhook hash   KEYS[2] audit stream
-- ARGV[1] sealed secret  ARGV[2] updated_at   ARGV[3] audit event (canonical JSON)
-- Returns 1 when rotated, 0 when the client has no webhook.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
redis.call('HSET', KEYS[1], 'secret', ARGV[1], 'updated_at', ARGV[2])
redis.call('XADD', KEYS[2], '*', 'e', ARGV[3])
return 1
"""


@dataclass(frozen=True, slots=True)
class Webhook:
    """A registered webhook; `sealed_secret` never leaves the service."""

    client: str
    url: str
    origin: str
    created_at: str
    updated_at: str
    sealed_secret: str

    def to_dict(self) -> dict[str, Any]:
        return {"client": self.client, "url": self.url, "origin": self.origin,
                "created_at": self.created_at, "updated_at": self.updated_at}

    @classmethod
    def from_hash(cls, client: str, h: dict[str, str]) -> Webhook:
        return cls(client=client, url=h["url"], origin=h["origin"],
                   created_at=h["created_at"], updated_at=h.get("updated_at", h["created_at"]),
                   sealed_secret=h["secret"])


def checked_url(url: str, allow_origins: str) -> HttpUrl:
    """The parsed webhook URL, or `InvalidName` naming what is wrong with it (not http(s),
    credentials in it, or a non-public host that no admin allowed)."""
    try:
        parsed = _URL.validate_python(url)
    except ValidationError:
        raise InvalidName(f"{url!r} is not an http(s) URL.") from None
    if parsed.username or parsed.password or parsed.fragment:
        raise InvalidName("A webhook URL carries no user, password or #fragment.")
    why = refusal(parsed, parse_origins(allow_origins))
    if why is not None:
        raise InvalidName(why.replace("callback_url", "the webhook URL"))
    return parsed


class WebhookStore:
    """Registered webhooks on one Redis client; the secrets box is opened on first use."""

    def __init__(self, r: aioredis.Redis, box: Callable[[], SecretBox]) -> None:
        self.r = r
        self._box_factory = box
        self._box: SecretBox | None = None
        self._rotate = r.register_script(ROTATE_LUA)

    @property
    def box(self) -> SecretBox:
        if self._box is None:
            self._box = self._box_factory()
        return self._box

    async def set(self, client: str, url: str, *, allow_origins: str = "", actor: str = "cli",
                  role: str = "admin") -> tuple[str, Webhook]:
        """Register (or replace) `client`'s webhook with a new secret: (secret, webhook)."""
        if not CLIENT_RE.match(client):
            raise InvalidName("A client name is 1-64 characters of letters, digits, '.', '_' "
                              "or '-'.")
        parsed = checked_url(url, allow_origins)
        secret = signing.new_secret()
        now = audit.now_iso()
        old = await self.get(client)
        hook = Webhook(client=client, url=str(parsed), origin=origin_text(origin_of(parsed)),
                       created_at=old.created_at if old else now, updated_at=now,
                       sealed_secret=self.box.seal(secret))
        async with self.r.pipeline(transaction=True) as pipe:
            pipe.hset(keys.webhook(client), mapping={
                "url": hook.url, "origin": hook.origin, "secret": hook.sealed_secret,
                "created_at": hook.created_at, "updated_at": hook.updated_at})
            pipe.sadd(keys.WEBHOOKS, client)
            audit.append(pipe, actor, role, "webhook.set", client, None, origin=hook.origin,
                         url_sha256=audit.digest(hook.url))
            async with unavailable():
                await pipe.execute()
        return secret, hook

    async def rotate(self, client: str, *, actor: str = "cli", role: str = "admin"
                     ) -> tuple[str, Webhook]:
        """A new secret for `client`'s webhook (the old one stops signing at once)."""
        secret = signing.new_secret()
        sealed = self.box.seal(secret)
        now = audit.now_iso()
        event = audit.event_json(actor, role, "webhook.secret_rotated", client, None)
        async with unavailable():
            done = await self._rotate(keys=[keys.webhook(client), keys.AUDIT_STREAM],
                                      args=[sealed, now, event])
        if not done:
            raise NotFound(f"Client {client!r} has no webhook.")
        hook = await self.get(client)
        assert hook is not None
        return secret, hook

    async def remove(self, client: str, *, actor: str = "cli", role: str = "admin") -> Webhook:
        hook = await self.get(client)
        if hook is None:
            raise NotFound(f"Client {client!r} has no webhook.")
        async with self.r.pipeline(transaction=True) as pipe:
            pipe.delete(keys.webhook(client))
            pipe.srem(keys.WEBHOOKS, client)
            audit.append(pipe, actor, role, "webhook.removed", client, None)
            await pipe.execute()
        return hook

    async def get(self, client: str) -> Webhook | None:
        h = await self.r.hgetall(keys.webhook(client))
        return Webhook.from_hash(client, h) if h else None

    async def origin(self, client: str) -> str | None:
        """The registered origin of `client` (None: no webhook), for the callback_url rule."""
        async with unavailable():
            return await self.r.hget(keys.webhook(client), "origin")

    async def list(self) -> list[Webhook]:
        clients = sorted(await self.r.smembers(keys.WEBHOOKS))
        hooks = [await self.get(c) for c in clients]
        return [h for h in hooks if h is not None]

    def secret(self, hook: Webhook) -> str:
        """The secret in clear (to sign); `SecretKeyError` under another host's key file."""
        return self.box.open(hook.sealed_secret)
