"""Admin routes: accounts and API keys (`admin` role only; every change is audited)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.access_log import LogUser
from api.deps import AdminDep, StateDep
from api.docs import error
from api.errors import ApiError
from api.schemas import ApiKeyCreate, ApiKeyPatch, UserCreate, UserPatch

router = APIRouter(prefix="/v1/admin", tags=["admin"], dependencies=[LogUser],
                   responses={401: error("not logged in, or the session has ended"),
                              403: error("this needs the admin role")})


def _actor(session: Any) -> dict[str, str]:
    return {"actor": f"user:{session.username}", "actor_role": session.role.value}


@router.get("/users")
async def list_users(_: AdminDep, state: StateDep) -> dict[str, Any]:
    return {"users": [u.to_dict() for u in await state.users.list()]}


@router.post("/users", status_code=201,
             responses={409: error("the user exists"), 422: error("invalid body or name")})
async def create_user(req: UserCreate, session: AdminDep, state: StateDep) -> dict[str, Any]:
    user = await state.users.create(req.username, req.role, req.password, **_actor(session))
    return user.to_dict()


@router.patch("/users/{username}", responses={404: error("no such user"),
                                              422: error("invalid body")})
async def update_user(username: str, req: UserPatch, session: AdminDep,
                      state: StateDep) -> dict[str, Any]:
    """Change a role, disable or re-enable, or set a password. A new password, another role
    or disabling ends the user's sessions (an admin changing themself keeps this one)."""
    user = await state.users.update(username, role=req.role, disabled=req.disabled,
                                    password=req.password, keep_session=session,
                                    **_actor(session))
    return user.to_dict()


@router.get("/apikeys")
async def list_apikeys(_: AdminDep, state: StateDep) -> dict[str, Any]:
    return {"apikeys": [k.to_dict() for k in await state.apikeys.list()]}


@router.post("/apikeys", status_code=201, responses={422: error("invalid body or name")})
async def create_apikey(req: ApiKeyCreate, session: AdminDep, state: StateDep) -> JSONResponse:
    """A new key for a client: `key` is shown in this answer only (stored as SHA-256)."""
    key, rec = await state.apikeys.create(req.client, actor=f"user:{session.username}",
                                          role=session.role.value, rate_limit=req.rate_limit)
    return JSONResponse({"key": key, **rec.to_dict()}, status_code=201)


@router.patch("/apikeys/{key_id}", responses={404: error("no such API key, or revoked")})
async def update_apikey(key_id: str, req: ApiKeyPatch, session: AdminDep,
                        state: StateDep) -> dict[str, Any]:
    """Change a key's per-second limit or disable / re-enable it (applies on its next request
    in every process); a revoked key is 404."""
    if not req.model_fields_set:
        raise ApiError(422, "invalid_request", "Give rate_limit and/or disabled.")
    rec = await state.apikeys.update(
        key_id, rate_limit=req.rate_limit,
        default_rate_limit="rate_limit" in req.model_fields_set and req.rate_limit is None,
        disabled=req.disabled, actor=f"user:{session.username}", role=session.role.value)
    return rec.to_dict()


@router.delete("/apikeys/{key_id}", responses={404: error("no such API key")})
async def revoke_apikey(key_id: str, session: AdminDep, state: StateDep) -> dict[str, Any]:
    """Revoke a key for good; revoking it again is 404 (and writes no audit event)."""
    rec = await state.apikeys.revoke(key_id, actor=f"user:{session.username}",
                                     role=session.role.value)
    return rec.to_dict()
