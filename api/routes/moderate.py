"""`POST /v1/moderate` and `POST /v1/moderate/batch`: decide, store, answer.

The item (and its audit events) is in Redis before the answer is sent. When Redis is
unreachable the pipeline still answers (degraded mode, CONTRACTS.md): a clean `pass` is
200 with `degraded: true` and `status: "not_stored"`; anything else is 503
`store_unavailable` carrying the decision, so the portal can act on it and must retry.
Redis out of memory is the same answer with code `store_full`.

The pipeline runs in a worker thread for any request over `inline_chars` characters, so a
heavy request never holds the event loop (and /healthz) of its worker.
"""

from __future__ import annotations

import dataclasses
import logging
import time
import uuid
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError

from api import metrics
from api.access_log import note
from api.callbacks import outside_origin
from api.deps import api_key_of, authenticate_client, unauthorized
from api.docs import error
from api.errors import ApiError, body, validation_error
from api.schemas import (
    BatchRequest,
    BatchResponse,
    ModerateRequest,
    ModerateResponse,
    StoreUnavailableBody,
    callback_context,
)
from api.state import AppState
from api.store.errors import StoreError, StoreFull, StoreUnavailable, Unauthorized
from api.store.items import CreateResult, NewItem
from moderation.errors import InputError
from moderation.types import Decision

router = APIRouter(prefix="/v1", tags=["moderation"])
log = logging.getLogger("api.moderate")
NOT_STORED = "not_stored"
M = TypeVar("M", bound=BaseModel)


def request_id(request: Request) -> str:
    rid = request.headers.get("x-request-id", "")
    if 0 < len(rid) <= 128 and rid.replace("-", "").replace("_", "").isalnum():
        return rid
    return uuid.uuid4().hex


def _new_item(client: str, req: ModerateRequest, decision: dict, rid: str) -> NewItem:
    return NewItem(
        client=client, data_id=req.data_id, channel=req.channel, title=req.title,
        content=req.content, decision=decision, author_ref=req.author_ref,
        ip=str(req.ip) if req.ip is not None else None,
        callback_url=str(req.callback_url) if req.callback_url is not None else None,
        request_id=rid,
    )


def _answer(res: CreateResult, rid: str) -> dict[str, Any]:
    item = res.item
    return {**item.decision, "request_id": rid, "data_id": item.data_id,
            "item_id": item.item_id, "status": item.status.value, "duplicate": not res.created}


def _degraded(decision: Decision, data_id: str, rid: str,
              cause: StoreUnavailable | None = None) -> tuple[int, dict[str, Any]]:
    """(status, body) when the item could not be stored (`cause`: unreachable or full)."""
    full = isinstance(cause, StoreFull)
    (metrics.STORE_FULL if full else metrics.STORE_UNAVAILABLE).inc()
    d = dataclasses.replace(decision, degraded=True,
                            degraded_stages=(*decision.degraded_stages, "store")).to_dict()
    d.update(request_id=rid, data_id=data_id, item_id=None, status=NOT_STORED)
    if decision.decision == "pass" and not decision.degraded:
        return 200, d
    why = "Redis is out of memory" if full else "Redis unreachable"
    return 503, body("store_full" if full else "store_unavailable",
                     f"The decision was made but the item was NOT stored or queued ({why}); "
                     "act on the decision and retry.", decision=d)


def _chars(content: Any, title: Any) -> int:
    """Characters of an item's text fields (non-strings count 0: validation refuses them)."""
    return sum(len(v) for v in (content, title) if isinstance(v, str))


async def _decide_one(state: AppState, req: ModerateRequest) -> Decision:
    mod = state.moderator
    if mod.classifier is None:  # lexicon + PII: microseconds for small texts, no thread hop
        if _chars(req.content, req.title) <= state.settings.inline_chars:
            return mod.moderate(req.content, title=req.title, channel=req.channel)
        return await run_in_threadpool(mod.moderate, req.content, title=req.title,
                                       channel=req.channel)
    # the classifier: concurrent requests share one forward pass in a worker thread
    return await state.batcher.moderate(req.content, title=req.title, channel=req.channel)


MODERATE_OPENAPI = {
    "requestBody": {"required": True, "content": {"application/json": {
        "schema": ModerateRequest.model_json_schema(ref_template="#/components/schemas/{model}")
    }}},
    "security": [{"HTTPBearer": []}],
}


def parse_body(raw: bytes, model: type[M], context: dict[str, Any] | None = None) -> M:
    """Validate a JSON body with pydantic-core directly (no FastAPI dependency machinery:
    this is the hot path; it also refuses lone surrogates); errors become the same 4xx codes
    as elsewhere."""
    try:
        return model.model_validate_json(raw, context=context)
    except ValidationError as exc:
        status, code, message = validation_error(list(exc.errors()))
        raise ApiError(status, code, message) from None


@router.post(
    "/moderate",
    openapi_extra=MODERATE_OPENAPI,
    responses={200: {"model": ModerateResponse, "description": "the decision; the item is "
                     "stored (or was already: duplicate)"},
               401: error("missing, unknown or revoked API key"),
               409: error("data_id reused with other content"),
               413: error("body over the size cap"),
               422: error("invalid input (the code says which)"),
               429: error("rate limit; see Retry-After"),
               503: error("decision made, item NOT stored or queued: act on `decision` and "
                          "retry (store_unavailable; store_full when Redis is out of memory)",
                          StoreUnavailableBody)},
)
async def moderate(request: Request) -> JSONResponse:
    """Moderate one item and store it: `{data_id, channel, content, title?, author_ref?, ip?,
    callback_url?}`. The same `data_id` with the same content returns the stored decision
    (`duplicate: true`); other content under a known `data_id` is 409."""
    t0 = time.perf_counter()
    state: AppState = request.app.state.app_state
    key = api_key_of(request.headers.get("authorization"))
    auth = await authenticate_client(state, key, lazy=True)
    note(request, client=auth.caller.client)
    req = parse_body(await request.body(), ModerateRequest,
                     callback_context(state.settings.callback_allow_origins))
    rid = request_id(request)
    decision = await _decide_one(state, req)
    if auth.degraded:
        status, payload = _degraded(decision, req.data_id, rid, auth.store_error)
    else:
        try:
            await _check_callback(state, auth.caller.client, req)
            res = await state.items.create(
                _new_item(auth.caller.client, req, decision.to_dict(), rid),
                key_hash=auth.key_hash, cost=0 if auth.counted else 1)
            status, payload = 200, _answer(res, rid)
            state.remember_key(auth.key_hash, auth.caller)  # still valid: refresh its TTL
        except Unauthorized:
            state.forget_key(auth.key_hash)
            raise unauthorized("Unknown or revoked API key.") from None
        except StoreUnavailable as exc:
            if state.known_key(auth.key_hash) is None:
                raise
            log.warning(exc.code, extra={"request_id": rid})
            status, payload = _degraded(decision, req.data_id, rid, exc)
    if not payload.get("duplicate"):  # a replay returns the stored decision: not a new one
        metrics.record_decision(payload if status == 200 else payload["decision"])
    done = payload if status == 200 else payload["decision"]
    note(request, decision=done["decision"], item_status=done["status"])
    metrics.LATENCY.labels("moderate").observe(time.perf_counter() - t0)
    return JSONResponse(payload, status_code=status, headers={"X-Request-ID": rid})


async def _check_callback(state: AppState, client: str, req: ModerateRequest) -> None:
    """422 `invalid_callback_url` when the client registered a webhook and `callback_url`
    is on another origin (one Redis read, only for requests that name a callback)."""
    if req.callback_url is None:
        return
    why = outside_origin(req.callback_url, await state.webhooks.origin(client))
    if why is not None:
        raise ApiError(422, "invalid_callback_url", why)


def _item_error(index: int, data_id: Any, code: str, message: str, **extra: Any) -> dict:
    return {"index": index, "data_id": data_id if isinstance(data_id, str) else None,
            **body(code, message, **extra)}


BATCH_OPENAPI = {
    "requestBody": {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "required": ["items"], "properties": {"items": {
            "type": "array", "minItems": 1, "maxItems": 100,
            "items": ModerateRequest.model_json_schema(
                ref_template="#/components/schemas/{model}")}}}}}},
    "security": [{"HTTPBearer": []}],
}


@router.post("/moderate/batch", openapi_extra=BATCH_OPENAPI,
             responses={200: {"model": BatchResponse, "description": "one result per item, "
                              "in order: a decision or that item's own error"},
                        401: error("missing, unknown or revoked API key"),
                        413: error("body over the size cap"),
                        422: error("the batch itself is invalid (per-item errors are in the "
                                   "results)"),
                        429: error("rate limit; see Retry-After"),
                        503: error("the store (Redis) is unreachable and the key is not known "
                                   "to this process")})
async def moderate_batch(request: Request) -> JSONResponse:
    """`{"items": [...]}`: up to 100 items, one result each in order; a bad item gets its
    own `error` and does not fail the others. The batch counts its items against the rate
    limit."""
    t0 = time.perf_counter()
    state: AppState = request.app.state.app_state
    key = api_key_of(request.headers.get("authorization"))
    batch = parse_body(await request.body(), BatchRequest)
    rid = request_id(request)
    limit = state.settings.max_batch_items
    if len(batch.items) > limit:
        raise ApiError(422, "batch_too_large", f"A batch holds at most {limit} items.")
    chars = sum(_chars(x.get("content"), x.get("title")) for x in batch.items
                if isinstance(x, dict))
    if chars > state.settings.max_batch_chars:
        raise ApiError(422, "batch_too_large", f"A batch holds at most "
                       f"{state.settings.max_batch_chars} characters of content and titles "
                       f"in all; this one has {chars}.")
    auth = await authenticate_client(state, key, cost=len(batch.items))
    note(request, client=auth.caller.client, items=len(batch.items))
    results: list[dict[str, Any] | None] = [None] * len(batch.items)
    valid: list[tuple[int, ModerateRequest]] = []
    context = callback_context(state.settings.callback_allow_origins)
    for i, raw in enumerate(batch.items):
        try:
            valid.append((i, ModerateRequest.model_validate(raw, context=context)))
        except ValidationError as exc:
            _, code, message = validation_error(list(exc.errors()))
            results[i] = _item_error(i, raw.get("data_id") if isinstance(raw, dict) else None,
                                     code, message)
    cause = auth.store_error
    if not auth.degraded and any(r.callback_url is not None for _, r in valid):
        try:  # the callback_url rule: one read for the whole batch
            registered = await state.webhooks.origin(auth.caller.client)
        except StoreUnavailable as exc:
            registered, cause = None, exc
        kept = []
        for i, req in valid:
            why = None if req.callback_url is None else outside_origin(req.callback_url,
                                                                       registered)
            if why is None:
                kept.append((i, req))
            else:
                results[i] = _item_error(i, req.data_id, "invalid_callback_url", why)
        valid = kept
    as_dicts = [{"content": r.content, "title": r.title, "channel": r.channel} for _, r in valid]
    mod = state.moderator
    if mod.classifier is None and chars <= state.settings.inline_chars:
        decided = mod.moderate_many(as_dicts)
    else:
        decided = await run_in_threadpool(mod.moderate_many, as_dicts)
    to_store: list[tuple[int, ModerateRequest, Decision]] = []
    for (i, req), out in zip(valid, decided, strict=True):
        if isinstance(out, InputError):
            results[i] = _item_error(i, req.data_id, out.code, out.message)
        else:
            to_store.append((i, req, out))
    stored: list[Any] | None = None
    if to_store and not auth.degraded and cause is None:
        try:
            stored = await state.items.create_many(
                [_new_item(auth.caller.client, req, d.to_dict(), rid) for _, req, d in to_store],
                key_hash=auth.key_hash)
        except StoreUnavailable as exc:
            stored, cause = None, exc
    for n, (i, req, decision) in enumerate(to_store):
        res = stored[n] if stored is not None else None
        if res is None:
            status, payload = _degraded(decision, req.data_id, rid, cause)
            results[i] = {"index": i, **payload} if status == 200 else {
                "index": i, "data_id": req.data_id, **payload}
            metrics.record_decision(payload if status == 200 else payload["decision"])
        elif isinstance(res, StoreError):
            results[i] = _item_error(i, req.data_id, res.code, res.message)
        else:
            results[i] = {"index": i, **_answer(res, rid)}
            if res.created:  # a duplicate replay is the stored decision, not a new one
                metrics.record_decision(results[i])
    metrics.LATENCY.labels("moderate_batch").observe(time.perf_counter() - t0)
    return JSONResponse({"request_id": rid, "results": results},
                        headers={"X-Request-ID": rid})
