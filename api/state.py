"""What one API process holds while it runs: settings, the pipeline, the Redis stores."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import redis.asyncio as aioredis

from api.batcher import MicroBatcher
from api.live import LiveModerator
from api.secretbox import SecretBox
from api.settings import Settings
from api.store.apikeys import ApiKeyStore, Caller
from api.store.items import ItemStore
from api.store.replicas import ReplicaAcks
from api.store.review import ReviewStore
from api.store.users import UserStore, make_hasher
from api.store.webhooks import WebhookStore
from moderation.pipeline import Moderator


@dataclass
class AppState:
    settings: Settings
    live: LiveModerator
    redis: aioredis.Redis
    items: ItemStore
    apikeys: ApiKeyStore
    users: UserStore
    batcher: MicroBatcher
    review: ReviewStore
    webhooks: WebhookStore
    # key hash -> (caller, monotonic expiry) of keys that authenticated in this process.
    # The hot path sends the hash with the item to ONE Lua call that re-checks the key and
    # its rate limit; while Redis is unreachable a fresh entry lets a known client get its
    # degraded answer. A revoked key is refused by Redis on its next request.
    known_keys: dict[str, tuple[Caller, float]] = field(default_factory=dict)

    @classmethod
    def build(cls, settings: Settings, moderator: Moderator, r: aioredis.Redis) -> AppState:
        live = LiveModerator(moderator)
        return cls(
            settings=settings,
            live=live,
            redis=r,
            items=ItemStore(r, ttl_s=settings.item_ttl_s,
                            default_rate=settings.rate_limit_per_s,
                            policy=lambda: live.current.policy,
                            acks=ReplicaAcks.from_settings(settings)),
            batcher=MicroBatcher(live),
            review=ReviewStore(r, policy=lambda: live.current.policy,
                               lease_s=settings.lease_seconds, ttl_s=settings.item_ttl_s,
                               scan=settings.review_claim_scan),
            apikeys=ApiKeyStore(r, default_rate=settings.rate_limit_per_s),
            users=UserStore(r, session_ttl_s=settings.session_ttl_s,
                            max_failures=settings.login_max_failures,
                            failure_window_s=settings.login_window_s,
                            hasher=make_hasher(settings.argon2_time_cost,
                                               settings.argon2_memory_kib)),
            webhooks=WebhookStore(r, lambda: SecretBox.from_file(settings.secrets_key_path)),
        )

    @property
    def moderator(self) -> Moderator:
        """The live pipeline; read it once per request (a publish may swap it)."""
        return self.live.current

    def remember_key(self, key_hash: str, caller: Caller) -> None:
        self.known_keys[key_hash] = (caller, time.monotonic() + self.settings.degraded_auth_ttl_s)

    def known_key(self, key_hash: str, *, fresh: bool = True) -> Caller | None:
        """The cached caller of a key; with `fresh`, only within `degraded_auth_ttl_s`."""
        hit = self.known_keys.get(key_hash)
        if hit is None or (fresh and hit[1] < time.monotonic()):
            return None
        return hit[0]

    def forget_key(self, key_hash: str) -> None:
        self.known_keys.pop(key_hash, None)
