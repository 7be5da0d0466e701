"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from api import metrics
from api.deps import StateDep
from api.docs import error
from api.errors import body
from api.state import AppState
from api.store import outbox
from api.store.connection import UNREACHABLE, check_writable
from api.store.errors import StoreFull, StoreUnavailable

router = APIRouter(tags=["health"])

NOT_READY = {
    "store_unavailable": ("unreachable", "Redis is unreachable: items cannot be stored."),
    "store_full": ("full", "Redis is out of memory (maxmemory reached): items cannot be "
                           "stored until an operator frees or adds memory."),
}


async def store_problem(state: AppState) -> str | None:
    """None when Redis takes a write now, else the reason (`store_unavailable`,
    `store_full`): a PING alone says "ready" while every write fails with OOM."""
    try:
        await asyncio.wait_for(check_writable(state.redis),
                               state.settings.redis_socket_timeout * 2)
    except StoreFull:
        return "store_full"
    except (TimeoutError, StoreUnavailable, *UNREACHABLE):
        return "store_unavailable"
    return None


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up (it does not look at Redis: see /readyz)."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: error("not ready: Redis unreachable or out of memory "
                                            "(`reason` says which)")})
async def readyz(state: StateDep) -> JSONResponse:
    """Ready when Redis takes a write; reports the lexicon, policy and model versions in use."""
    info: dict[str, Any] = {"versions": state.moderator.versions.to_dict()}
    reason = await store_problem(state)
    if reason is None:
        return JSONResponse({"ready": True, "redis": "ok", **info})
    redis_state, message = NOT_READY[reason]
    return JSONResponse(body("not_ready", message, ready=False, reason=reason,
                             redis=redis_state, **info), status_code=503)


@router.get("/metrics", response_class=Response)
async def prometheus(state: StateDep) -> Response:
    """Prometheus text format; `moderation_store_up` is 0 while Redis refuses writes."""
    try:
        queues = await asyncio.wait_for(state.items.review_queue_stats(),
                                        state.settings.redis_socket_timeout * 2)
        ages = [q.oldest_age_s for q in queues if q.oldest_age_s is not None]
        depth, age = sum(q.depth for q in queues), max(ages) if ages else None
    except (TimeoutError, *UNREACHABLE):
        queues, depth, age = None, None, None
    up = depth is not None and await store_problem(state) is None
    text = metrics.render(depth, age, store_up=up, queues=queues)
    text += metrics.webhook_gauges(await _outbox_counts(state) if depth is not None else None)
    return Response(text, media_type=metrics.CONTENT_TYPE)


async def _outbox_counts(state: AppState) -> dict[str, int] | None:
    """Webhook deliveries waiting and failing, or None when Redis does not answer."""
    try:
        return await asyncio.wait_for(outbox.counts(state.redis),
                                      state.settings.redis_socket_timeout * 2)
    except (TimeoutError, *UNREACHABLE):
        return None
