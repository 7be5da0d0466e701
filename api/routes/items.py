"""`GET /v1/items/{data_id}`: an item's current status, for the client that owns it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from api.access_log import LogClient
from api.deps import ClientDep, StateDep
from api.docs import error
from api.schemas import DATA_ID_PATTERN, ItemResponse

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
