"""`GET /v1/stats` (senior, admin): the review workflow's figures (`api.store.review_stats`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.access_log import LogUser
from api.deps import SeniorDep, StateDep
from api.docs import error

router = APIRouter(prefix="/v1", tags=["review"], dependencies=[LogUser],
                   responses={401: error("not logged in, or the session has ended"),
                              403: error("this needs the senior role")})


@router.get("/stats")
async def stats(_: SeniorDep, state: StateDep) -> dict[str, Any]:
    """Counts by status and queue, overdue items, median time to verdict, verdicts per
    reviewer per day (last 14 UTC days), QA agreement with the machine (sample size and a
    95 % Wilson interval; the machine's error rate is one minus it) and webhook deliveries
    waiting and failing."""
    return await state.review.stats(state.items.channels())
