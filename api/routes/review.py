"""The reviewers' JSON API (`/v1/review/…`, session auth): queues, claim, the item with its
evidence, renew, verdict, escalate, and the audited reveal of the unmasked text.

Every write names the version the reviewer read (409 `stale_version` otherwise) and needs
the caller's live lease (409 `lease_lost` once it expired, `not_claimed` without one).
"""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field

from api.access_log import LogUser
from api.deps import ReviewerDep, SeniorDep, StateDep
from api.docs import error
from api.errors import ApiError
from api.store.queues import ESCALATED, claimable
from api.store.statuses import Role
from moderation.categories import CATEGORIES

router = APIRouter(prefix="/v1/review", tags=["review"], dependencies=[LogUser],
                   responses={401: error("not logged in, or the session has ended")})

ITEM_ID_PATTERN = r"^it_[0-9a-f]{32}$"
ItemId = Annotated[str, Path(pattern=ITEM_ID_PATTERN, description="the item's id (it_…)")]
Note = Annotated[str | None, Field(None, max_length=2000)]


class ClaimRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"queue": "comment", "n": 5}]})

    queue: str = Field(max_length=64, description="a channel, escalated, appeals or qa")
    n: int = Field(1, ge=1, le=50, description="how many items, at most")


class VerdictRequest(BaseModel):
    version: int = Field(ge=1, description="the item's version you read")
    verdict: Literal["approve", "reject"]
    reason_code: str = Field(max_length=64, description="a category id")
    note: Note = None


class EscalateRequest(BaseModel):
    version: int = Field(ge=1)
    note: str = Field(max_length=2000, description="why a senior reviewer should decide")


class RenewRequest(BaseModel):
    version: int | None = Field(None, ge=1)


def _now_ms() -> int:
    return int(time.time() * 1000)


@router.get("/queues")
async def queues(session: ReviewerDep, state: StateDep) -> dict[str, Any]:
    """Depth, overdue items and the oldest waiting age (seconds) of each queue you may
    claim (`escalated` for senior reviewers and admins only)."""
    names = claimable(state.items.channels(), session.role)
    stats = await state.review.queue_stats(names, _now_ms())
    return {"queues": [q.to_dict() for q in stats]}


@router.post("/claim", responses={403: error("`escalated` needs the senior role"),
                                  422: error("unknown_queue, or an invalid body")})
async def claim(req: ClaimRequest, session: ReviewerDep, state: StateDep) -> dict[str, Any]:
    """Up to n items of one queue, each leased to you for `lease_seconds` (default 600).
    An empty list means nothing you may take is waiting."""
    channels = state.items.channels()
    if req.queue not in claimable(channels, Role.ADMIN):
        raise ApiError(422, "unknown_queue", f"Unknown queue {req.queue!r}; queues are "
                       f"{', '.join(claimable(channels, Role.ADMIN))}.")
    if req.queue == ESCALATED and not session.role.allows(Role.SENIOR):
        raise ApiError(403, "forbidden", "Only senior reviewers and admins claim escalated "
                       "items.")
    got = await state.review.claims.claim(req.queue, req.n, session.username,
                                          session.role.value)
    return {"items": [c.to_dict() for c in got]}


@router.get("/items/{item_id}", responses={404: error("no such item")})
async def get_item(item_id: ItemId, _: ReviewerDep, state: StateDep) -> dict[str, Any]:
    """The item with its evidence (hits with spans, PII masked, labels, reasons), history
    and `author_history` (the last 20 items of the same author_ref from the same client)."""
    return await state.review.item(item_id, _now_ms())


@router.post("/items/{item_id}/renew",
             responses={404: error("no such item"),
                        409: error("lease_lost, not_claimed or stale_version")})
async def renew(item_id: ItemId, session: ReviewerDep, state: StateDep,
                req: RenewRequest | None = None) -> dict[str, Any]:
    """Extend your lease by `lease_seconds` from now."""
    got = await state.review.claims.renew(item_id, session.username,
                                          req.version if req else None)
    return got.to_dict()


@router.post("/items/{item_id}/verdict",
             responses={404: error("no such item"),
                        409: error("lease_lost, not_claimed or stale_version"),
                        422: error("invalid_reason_code, or an invalid body")})
async def verdict(item_id: ItemId, req: VerdictRequest, session: ReviewerDep,
                  state: StateDep) -> dict[str, Any]:
    """approve or reject with a reason code (a category id). On a channel with second
    review, a first reject waits for another reviewer (`outcome: awaiting_second_review`);
    in `qa` the verdict is recorded as agreement with the machine."""
    if req.reason_code not in CATEGORIES:
        raise ApiError(422, "invalid_reason_code", "reason_code must be one of "
                       + ", ".join(CATEGORIES) + ".")
    out = await state.review.verdicts.verdict(
        item_id, user=session.username, role=session.role.value, version=req.version,
        verdict=req.verdict, reason_code=req.reason_code, note=req.note,
        second_review=state.review.second_review_channels())
    return out.to_dict()


@router.post("/items/{item_id}/escalate",
             responses={404: error("no such item"),
                        409: error("lease_lost, not_claimed, stale_version or "
                                   "cannot_escalate")})
async def escalate(item_id: ItemId, req: EscalateRequest, session: ReviewerDep,
                   state: StateDep) -> dict[str, Any]:
    """Send the item you hold to `escalated`, where senior reviewers and admins claim it."""
    out = await state.review.verdicts.escalate(item_id, user=session.username,
                                               role=session.role.value, version=req.version,
                                               note=req.note)
    return out.to_dict()


@router.post("/items/{item_id}/reveal",
             responses={403: error("needs the senior role"), 404: error("no such item")})
async def reveal(item_id: ItemId, session: SeniorDep, state: StateDep) -> dict[str, Any]:
    """The unmasked title and text (personal data included); the reveal is audited."""
    return await state.review.reveal(item_id, user=session.username,
                                     role=session.role.value)
