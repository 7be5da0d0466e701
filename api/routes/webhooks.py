"""Admin routes of the webhook outbox: see failing deliveries, retry one now (`admin`)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from api.access_log import LogUser
from api.deps import AdminDep, StateDep
from api.docs import error
from api.store.outbox import Outbox

router = APIRouter(prefix="/v1/admin/webhooks", tags=["admin"], dependencies=[LogUser],
                   responses={401: error("not logged in, or the session has ended"),
                              403: error("this needs the admin role")})


@router.get("/deliveries", responses={422: error("invalid state or limit")})
async def list_deliveries(
    _: AdminDep, state: StateDep,
    delivery_state: Annotated[Literal["failing", "waiting"], Query(alias="state")] = "failing",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Deliveries not yet acknowledged: `failing` (past their first retries, still retried;
    by id) or `waiting` (every one, soonest due first), with attempts and the last error."""
    found = await Outbox(state.redis).list(delivery_state, limit)
    return {"deliveries": [d.to_dict() for d in found]}


@router.post("/deliveries/{delivery_id}/retry", status_code=202,
             responses={404: error("no such delivery (delivered, or never was)"),
                        409: error("delivery_in_flight: a worker is sending it now")})
async def retry_delivery(delivery_id: str, session: AdminDep,
                         state: StateDep) -> dict[str, Any]:
    """Send a delivery now instead of at its next backoff time (audited `webhook.retry`);
    its attempts and failing mark stay until a 2xx removes it."""
    await Outbox(state.redis).retry_now(delivery_id, actor=f"user:{session.username}",
                                        role=session.role.value)
    return {"id": delivery_id, "queued": True}
