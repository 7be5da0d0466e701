"""A compatibility call as an item, exactly like `POST /v1/moderate`: the same pipeline
call (`_decide_one`), the same `ItemStore.create` Lua call under the credential's client
(idempotent `data_id`, 409 on other content, review items queued, the client's rate
limit counted on the credential's lookup record, an Aliyun signature nonce claimed), the
same metrics and log fields."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from starlette.requests import Request

from api import metrics
from api.access_log import note
from api.compat.errors import CompatError
from api.errors import validation_error
from api.routes.moderate import _decide_one, _new_item
from api.schemas import ModerateRequest
from api.state import AppState
from api.store.credentials import CredentialStore, LiveCredential
from api.store.errors import (
    DataIdConflict,
    NonceUsed,
    RateLimited,
    StoreUnavailable,
    Unauthorized,
)
from api.store.items import NonceClaim
from moderation.errors import InputError
from moderation.pipeline import MAX_FIELD_CHARS


@dataclass(frozen=True, slots=True)
class Outcome:
    decision: dict[str, Any]
    data_id: str
    item_id: str
    status: str
    created: bool


def new_data_id(prefix: str) -> str:
    """A data_id for a call that sent none (every such call is a new item)."""
    return f"{prefix}-{uuid.uuid4().hex}"


def channel_of(state: AppState, name: str | None) -> str:
    """`name` when the live policy has that channel, else `compat_default_channel`."""
    channels = state.moderator.channels
    return name if name in channels else state.settings.compat_default_channel


def _note(creds: CredentialStore, nonce: NonceClaim | None) -> None:
    """Remember a nonce the item call claimed or refused (`CredentialStore.nonce_seen`)."""
    if nonce is not None:
        creds.note_nonce(nonce.secret_id, nonce.nonce, nonce.ttl_s)


async def moderate_item(request: Request, state: AppState, creds: CredentialStore,
                        cred: LiveCredential, *, data_id: str, channel: str, content: str,
                        author_ref: str | None, ip: str | None, rid: str,
                        nonce: NonceClaim | None = None) -> Outcome:
    if len(content) > MAX_FIELD_CHARS:
        raise CompatError("too_long", f"The content has {len(content)} characters; the limit "
                          f"is {MAX_FIELD_CHARS}.")
    try:
        req = ModerateRequest.model_validate({
            "data_id": data_id, "channel": channel, "content": content,
            "author_ref": author_ref, "ip": ip})
    except ValidationError as exc:
        _, _code, message = validation_error(list(exc.errors()))
        raise CompatError("invalid", message) from None
    note(request, client=cred.client)
    try:
        decision = await _decide_one(state, req)
    except InputError as exc:
        kind = "empty" if exc.code == "empty_content" else "invalid"
        raise CompatError(kind, exc.message) from None
    try:
        res = await state.items.create(_new_item(cred.client, req, decision.to_dict(), rid),
                                       key_hash=cred.key_hash, cost=1, nonce=nonce)
    except Unauthorized:
        creds.forget(cred.secret_id)
        raise CompatError("unknown_id", "The credential is unknown or revoked.") from None
    except NonceUsed as exc:
        _note(creds, nonce)
        raise CompatError("replay", exc.message) from None
    except DataIdConflict as exc:
        raise CompatError("conflict", exc.message) from None
    except RateLimited:
        raise CompatError("limited", "The credential's rate limit is exceeded; retry in a "
                          "second.") from None
    except StoreUnavailable as exc:
        (metrics.STORE_FULL if exc.code == "store_full" else metrics.STORE_UNAVAILABLE).inc()
        raise CompatError("store", "The decision was made but the item could not be stored "
                          "(Redis unavailable); retry.") from None
    _note(creds, nonce)
    item = res.item
    if res.created:
        metrics.record_decision(item.decision)
    note(request, decision=item.decision["decision"], item_status=item.status.value)
    return Outcome(item.decision, item.data_id, item.item_id, item.status.value, res.created)
