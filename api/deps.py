"""Dependencies of the routes, as `Annotated` aliases (full-stack-fastapi-template habit).

Portal clients authenticate with API keys (`pmk_…`), people with session tokens (`pms_…`)
sent as `Authorization: Bearer …` or the `session` cookie. Roles are checked here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.errors import ApiError
from api.state import AppState
from api.store.apikeys import KEY_PREFIX, Caller, hash_key
from api.store.errors import StoreUnavailable
from api.store.statuses import Role
from api.store.users import Session

SESSION_COOKIE = "session"
bearer = HTTPBearer(auto_error=False, description="API key (pmk_…) or session token (pms_…)")


async def get_state(request: Request) -> AppState:  # async: no thread-pool hop
    return request.app.state.app_state


StateDep = Annotated[AppState, Depends(get_state)]
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def unauthorized(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message, headers={"WWW-Authenticate": "Bearer"})


@dataclass(frozen=True, slots=True)
class ClientAuth:
    caller: Caller
    key_hash: str
    degraded: bool  # authenticated from the process's memory while Redis is unreachable
    counted: bool  # this request's items were already counted against the rate limit
    store_error: StoreUnavailable | None = None  # why degraded (StoreFull: out of memory)


def api_key_of(authorization: str | None) -> str:
    """The API key of an `Authorization: Bearer pmk_…` header, else 401."""
    scheme, _, key = (authorization or "").partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key.startswith(KEY_PREFIX):
        raise unauthorized("An API key is required: Authorization: Bearer pmk_…")
    return key


async def authenticate_client(state: AppState, key: str, cost: int = 1, *,
                              lazy: bool = False) -> ClientAuth:
    """The portal client of an API key, counting `cost` items against its rate limit.

    With `lazy`, a key this process has seen is not looked up now: the store re-checks it
    (and counts it) in the same Lua call that stores the item, saving a round trip.
    """
    key_hash = hash_key(key)
    if lazy:
        known = state.known_key(key_hash, fresh=False)
        if known is not None:
            return ClientAuth(known, key_hash, degraded=False, counted=False)
    try:
        caller = await state.apikeys.authenticate(key_hash, cost=cost)
    except StoreUnavailable as exc:
        known = state.known_key(key_hash)
        if known is None:
            raise
        return ClientAuth(known, key_hash, degraded=True, counted=False, store_error=exc)
    if caller is None:
        raise unauthorized("Unknown or revoked API key.")
    state.remember_key(key_hash, caller)
    return ClientAuth(caller, key_hash, degraded=False, counted=True)


async def client_auth(state: StateDep, creds: BearerDep) -> ClientAuth:
    key = api_key_of(f"Bearer {creds.credentials}" if creds is not None else None)
    return await authenticate_client(state, key)


ClientDep = Annotated[ClientAuth, Depends(client_auth)]


async def current_session(request: Request, state: StateDep, creds: BearerDep) -> Session:
    token = creds.credentials if creds is not None else request.cookies.get(SESSION_COOKIE)
    if not token or not token.startswith("pms_"):
        raise unauthorized("Log in first: POST /v1/auth/login.")
    session = await state.users.session(token)
    if session is None:
        raise unauthorized("The session has expired or was ended; log in again.")
    return session


SessionDep = Annotated[Session, Depends(current_session)]


def require_role(role: Role):  # noqa: ANN201 - a FastAPI dependency
    """A dependency that lets through sessions whose role is at least `role`."""

    async def check(session: SessionDep) -> Session:
        if not session.role.allows(role):
            raise ApiError(403, "forbidden", f"This needs the {role.value} role.")
        return session

    return check


AdminDep = Annotated[Session, Depends(require_role(Role.ADMIN))]
SeniorDep = Annotated[Session, Depends(require_role(Role.SENIOR))]
ReviewerDep = Annotated[Session, Depends(require_role(Role.REVIEWER))]
