"""`GET /v1/items/{data_id}`: an item's current status, for the client that owns it (the
final human verdict included, never who gave it); `POST …/appeal` re-opens a decided item."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from api.access_log import LogClient
from api.deps import ClientDep, StateDep
from api.docs import error
from api.schemas import DATA_ID_PATTERN, ItemResponse
from moderation.policy import DEFAULT_SLA_MINUTES

router = APIRouter(prefix="/v1/items", tags=["items"])


@router.get("/{data_id}", response_model=None, dependencies=[LogClient],
            responses={200: {"model": ItemResponse, "description": "the item"},
                       401: error("missing, unknown or revoked API key"),
                       404: error("no such item for this client"),
                       422: error("invalid_data_id"),
                       429: error("rate limit; see Retry-After")})
async def get_item(data_id: Annotated[str, Path(pattern=DATA_ID_PATTERN)], auth: ClientDep,
                   state: StateDep) -> dict[str, Any]:
    """Machine decision, human verdict when there is one, and the history of the item.

    Another client's item with the same `data_id` is simply not found."""
    item = await state.items.get(auth.caller.client, data_id)
    return item.public()


class AppealRequest(BaseModel):
    reason: str = Field(min_length=1, max_length=2000, description="why the decision is wrong")
    version: int | None = Field(None, ge=1, description="the version you read (optional)")


@router.post("/{data_id}/appeal", dependencies=[LogClient],
             responses={401: error("missing, unknown or revoked API key"),
                        404: error("no such item for this client"),
                        409: error("not_appealable (not decided), already_appealed, "
                                   "stale_version"),
                        422: error("invalid_data_id or an invalid body")})
async def appeal(data_id: Annotated[str, Path(pattern=DATA_ID_PATTERN)], req: AppealRequest,
                 auth: ClientDep, state: StateDep) -> dict[str, Any]:
    """Re-open a decided item (approved, rejected, or blocked by the machine) for review
    by a reviewer other than the ones who decided it; the answer is the item as
    `GET /v1/items/{data_id}` shows it. An item is appealed once; the appeal's verdict
    comes back like any final verdict (webhook and GET)."""
    item = await state.items.get(auth.caller.client, data_id)
    rules = state.items.channel_rules(item.channel)
    await state.review.verdicts.appeal(
        auth.caller.client, data_id, reason=req.reason, version=req.version,
        sla_minutes=rules.sla_minutes if rules else DEFAULT_SLA_MINUTES)
    return (await state.items.get(auth.caller.client, data_id)).public()
