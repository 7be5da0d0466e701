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
from api.store.connection import UNREACHABLE

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up (it does not look at Redis: see /readyz)."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: error("not_ready: Redis unreachable")})
async def readyz(state: StateDep) -> JSONResponse:
    """Ready when Redis answers; reports the lexicon, policy and model versions in use."""
    info: dict[str, Any] = {"versions": state.moderator.versions.to_dict()}
    try:
        await asyncio.wait_for(state.redis.ping(), state.settings.redis_socket_timeout * 2)
        return JSONResponse({"ready": True, "redis": "ok", **info})
    except (TimeoutError, *UNREACHABLE):
        return JSONResponse(
            body("not_ready", "Redis is unreachable: items cannot be stored.", ready=False,
                 redis="unreachable", **info), status_code=503)


@router.get("/metrics", response_class=Response)
async def prometheus(state: StateDep) -> Response:
    """Prometheus text format."""
    try:
        depth, age = await asyncio.wait_for(state.items.queue_stats(),
                                            state.settings.redis_socket_timeout * 2)
    except (TimeoutError, *UNREACHABLE):
        depth, age = None, None
    return Response(metrics.render(depth, age), media_type=metrics.CONTENT_TYPE)
