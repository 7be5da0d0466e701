"""Typed errors of the store; `api.errors` maps each to one HTTP status and code."""

from __future__ import annotations


class StoreError(Exception):
    """Base: a machine-readable `code` and a sentence safe to show a client."""

    code = "store_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class StoreUnavailable(StoreError):
    """Redis did not answer within the socket timeout (or refused the connection)."""

    code = "store_unavailable"


class StoreFull(StoreUnavailable):
    """Redis refused a write because it reached `maxmemory` (OOM; it never evicts items).

    A kind of `StoreUnavailable`: the item cannot be stored now, so the API answers in
    degraded mode (the decision, not stored) with its own code, and `/readyz` says why.
    """

    code = "store_full"


class DataIdConflict(StoreError):
    """The client reused a `data_id` with other content while the item still exists."""

    code = "data_id_conflict"


class NotFound(StoreError):
    code = "not_found"


class Conflict(StoreError):
    """A record with that name already exists."""

    code = "conflict"


class InvalidName(StoreError):
    code = "invalid_name"


class Unauthorized(StoreError):
    code = "unauthorized"


class NonceUsed(StoreError):
    """A signature nonce (Aliyun replay check) was already used by the credential: the
    item call refused before writing anything."""

    code = "nonce_used"


class RateLimited(StoreError):
    """Too many requests; `retry_after` is in whole seconds."""

    code = "rate_limited"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = max(1, int(retry_after))


class BatchExceedsRateLimit(StoreError):
    """A batch with more items than its key may send in one second: no retry can succeed,
    so it is refused before anything is counted (the client must split it)."""

    code = "batch_exceeds_rate_limit"


class ReviewConflict(StoreError):
    """A review write that the item's state refuses (409), its `code` saying why:
    `stale_version` (the item changed since it was read), `lease_lost` (the caller's lease
    expired and the item went back to its queue), `not_claimed` (the caller holds no lease
    on it), `not_appealable`, `cannot_escalate`, `already_decided`."""

    def __init__(self, code: str, message: str, **extra: object) -> None:
        super().__init__(message)
        self.code = code
        self.extra = extra


class DeliveryInFlight(StoreError):
    """An admin asked to retry a webhook delivery that a worker is sending right now."""

    code = "delivery_in_flight"
