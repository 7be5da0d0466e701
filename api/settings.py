"""The one validated configuration of the service, read once at the entry point.

Every field reads `MODERATION_<NAME>` from the environment (CLI flags are passed in as
init values and win); `REDIS_URL` and `MODERATION_MODEL` are read under those names.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_workers() -> int:
    return os.cpu_count() or 1


class Settings(BaseSettings):
    """Service configuration; see README "Running the service" for the table."""

    model_config = SettingsConfigDict(env_prefix="MODERATION_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    workers: int = Field(default_factory=_default_workers, ge=1)
    data_dir: Path = Path("var")
    lexicon: Path | None = None
    policy: Path | None = None
    model: str | None = Field(
        "default", validation_alias=AliasChoices("model", "MODERATION_MODEL")
    )

    model_threads: int | None = Field(None, ge=1)
    quantize: bool = True

    redis_url: str | None = Field(None, validation_alias=AliasChoices("redis_url", "REDIS_URL"))
    redis_password_file: Path | None = None
    redis_socket_timeout: float = Field(0.5, gt=0)
    redis_appendfsync: Literal["always", "everysec"] = "everysec"
    # High availability (README "Running on several machines"): the primary is found
    # through Sentinel instead of REDIS_URL; a 200 waits for `min_replica_acks` replicas.
    redis_master: str | None = None
    redis_password: str | None = None  # of the data nodes (not of the Sentinels)
    redis_sentinels: str | None = None  # host:port,host:port,...
    min_replica_acks: int = Field(0, ge=0)
    replica_ack_timeout_ms: int = Field(500, ge=1)

    item_ttl_days: float = Field(30, gt=0)
    retention_days: float = Field(180, gt=0)
    audit_dir: Path | None = None
    audit_redis_tail: int = Field(10_000, ge=0)
    sealer_enabled: bool = True
    sealer_interval_s: float = Field(0.5, gt=0)
    audit_key_file: Path | None = None  # default <data_dir>/audit.key; same file on every host
    secrets_key_file: Path | None = None
    audit_max_unsealed_age_s: float = Field(60, gt=0)  # `audit verify` fails beyond this

    rate_limit_per_s: int = Field(10_000, ge=1)
    argon2_time_cost: int = Field(3, ge=1)
    argon2_memory_kib: int = Field(65536, ge=1024)
    session_ttl_s: int = Field(8 * 3600, ge=60)
    login_max_failures: int = Field(5, ge=1)
    login_window_s: int = Field(15 * 60, ge=1)
    max_body_bytes: int = Field(256 * 1024, ge=1024)
    # 200,000 characters as JSON \uXXXX escapes (12 bytes for a surrogate pair) plus each
    # item's other fields fit; a larger body is refused before it is parsed on the loop.
    max_batch_body_bytes: int = Field(4 * 1024 * 1024, ge=1024)
    max_batch_items: int = Field(100, ge=1)
    # Characters of content + title in one batch (422 batch_too_large above it).
    max_batch_chars: int = Field(200_000, ge=1)
    # Requests with more characters than this run the pipeline in a worker thread, so the
    # event loop (and /healthz) never waits for them; smaller ones take microseconds inline.
    inline_chars: int = Field(2_000, ge=0)
    # Idle keep-alive connections close after this; a request's headers and body must
    # arrive within `http_read_timeout_s` of the connection opening (or of the request
    # starting, on a kept-alive connection), else the connection is closed.
    http_keepalive_s: float = Field(5, gt=0)
    http_read_timeout_s: float = Field(10, gt=0)
    degraded_auth_ttl_s: int = Field(600, ge=0)
    cookie_secure: bool = False
    # Comma list of scheme://host[:port] that a callback_url may name although its host is
    # loopback, private or link-local (api/callbacks.py); empty: public hosts only.
    callback_allow_origins: str = ""
    # Compatibility with Tencent Cloud TMS / Alibaba Cloud Green (api/compat): the channel
    # of a call whose BizType / Service names none of ours.
    compat_default_channel: str = "comment"
    # Review workflow: a claim's lease, how often the singleton reaper / SLA task runs, and
    # how many queue entries one claim looks at (items the caller may not take are skipped).
    lease_seconds: int = Field(600, ge=1)
    review_interval_s: float = Field(1.0, gt=0)
    review_claim_scan: int = Field(200, ge=1)
    # Lexicon management: every process compares the store's current lexicon version this
    # often (besides the pub/sub announcement); the dry run's default and largest sample.
    lexicon_poll_s: float = Field(2.0, gt=0)
    lexicon_dry_run_items: int = Field(1000, ge=1)
    lexicon_dry_run_max_items: int = Field(10_000, ge=1)
    # Webhook deliveries (api/workers/outbox.py): one worker per deployment (a Redis lock)
    # POSTs due deliveries; a failure is retried after base * 2^(attempt-1) seconds (jitter
    # -25 %, capped at webhook_backoff_max_s); from attempt `webhook_failing_after` on the
    # delivery is listed as failing (and still retried at the cap). A taken delivery is
    # leased for `webhook_lease_s` (more than the timeout) so no other worker sends it
    # meanwhile; one taken by a worker that died is sent again when the lease ends.
    webhook_worker_enabled: bool = True
    webhook_timeout_s: float = Field(5, gt=0)
    webhook_lease_s: float = Field(30, gt=0)
    webhook_poll_s: float = Field(0.1, gt=0)
    webhook_concurrency: int = Field(32, ge=1)
    webhook_backoff_base_s: float = Field(1, gt=0)
    webhook_backoff_max_s: float = Field(3600, gt=0)
    webhook_failing_after: int = Field(5, ge=1)

    @field_validator("callback_allow_origins")
    @classmethod
    def _origins(cls, value: str) -> str:
        from api.callbacks import parse_origins

        parse_origins(value)  # a bad entry is a start-up error naming it
        return value

    @field_validator("redis_sentinels")
    @classmethod
    def _sentinels(cls, value: str | None, info: ValidationInfo) -> str | None:
        from api.store.sentinel import parse_sentinels

        if value is None or not value.strip():
            return None
        parse_sentinels(value)  # a bad entry is a start-up error naming it
        if info.data.get("redis_url"):
            raise ValueError("set either REDIS_URL or MODERATION_REDIS_SENTINELS, not both")
        if not info.data.get("redis_master"):
            raise ValueError("MODERATION_REDIS_MASTER must name the primary that the "
                             "Sentinels monitor")
        return value.strip()

    @property
    def store_url(self) -> str | None:
        """Where the store is: REDIS_URL, or the Sentinel set as a `redis+sentinel://` URL
        that `api.store.connection.connect` follows through failovers; None: embedded."""
        if self.redis_sentinels and self.redis_master:
            from api.store.sentinel import sentinel_url

            return sentinel_url(self.redis_sentinels, self.redis_master, self.redis_password)
        return self.redis_url

    @property
    def audit_path(self) -> Path:
        """Where sealed JSONL segments go (the data directory unless set)."""
        return self.audit_dir if self.audit_dir is not None else self.data_dir / "audit"

    @property
    def audit_key_path(self) -> Path:
        """The audit chain's HMAC key: in the data directory, never in Redis or the archive."""
        return self.audit_key_file if self.audit_key_file is not None \
            else self.data_dir / "audit.key"

    @property
    def secrets_key_path(self) -> Path:
        """The key that encrypts secrets kept in Redis (`api.secretbox`)."""
        return self.secrets_key_file if self.secrets_key_file is not None \
            else self.data_dir / "secrets.key"

    @property
    def item_ttl_s(self) -> int:
        return int(self.item_ttl_days * 86400)

    @property
    def model_arg(self) -> str | None:
        """`none` (any case) or empty means: run lexicon and PII only."""
        if self.model is None or self.model.strip().lower() in {"", "none"}:
            return None
        return self.model
