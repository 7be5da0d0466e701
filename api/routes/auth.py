"""`POST /v1/auth/login` and `POST /v1/auth/logout` for reviewers and admins."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.access_log import LogUser
from api.deps import SESSION_COOKIE, SessionDep, StateDep
from api.docs import error
from api.schemas import LoginRequest

router = APIRouter(prefix="/v1/auth", tags=["auth"])


@router.post("/login", responses={401: error("wrong username or password"),
                                  422: error("invalid body"),
                                  429: error("too many failures; see Retry-After")})
async def login(req: LoginRequest, state: StateDep) -> JSONResponse:
    """A session token (`Authorization: Bearer …`), also set as an HttpOnly cookie.

    Each attempt takes one of five slots per username per 15-minute window BEFORE the
    password is checked, whichever API process answers; once the slots are used up every
    attempt, the right password too, is 429 with `Retry-After` until the window ends.
    Unknown usernames are counted the same way. A successful login frees the slots taken
    before it."""
    session = await state.users.login(req.username, req.password)
    out: dict[str, Any] = {"token": session.token, "expires_at": session.expires_at,
                           "role": session.role.value}
    resp = JSONResponse(out)
    resp.set_cookie(SESSION_COOKIE, session.token, max_age=state.settings.session_ttl_s,
                    httponly=True, samesite="strict", secure=state.settings.cookie_secure,
                    path="/")
    return resp


@router.post("/logout", dependencies=[LogUser],
             responses={401: error("not logged in, or the session has ended")})
async def logout(session: SessionDep, state: StateDep) -> JSONResponse:
    """End the session (token and cookie)."""
    await state.users.logout(session)
    resp = JSONResponse({"ok": True})
    resp.delete_cookie(SESSION_COOKIE, path="/")
    return resp
