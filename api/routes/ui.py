"""Review pages: log in and out, the queues, "claim next" (`/review/…`, HTML forms).

The pages call the same stores as the JSON API (`api.routes.auth`, `api.routes.review`);
every form post carries a CSRF token (`api.ui_csrf`) and answers with a redirect (303) or a
page that says in Chinese what went wrong.
"""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api import ui_csrf
from api.deps import SESSION_COOKIE
from api.store.errors import RateLimited, Unauthorized
from api.store.queues import ESCALATED, claimable
from api.store.statuses import Role
from api.store.users import Session
from api.ui_render import (
    checked_form,
    csrf_refused,
    guard,
    posted,
    redirect,
    render,
    session_of,
    state_of,
)

router = APIRouter(prefix="/review", include_in_schema=False)


def _login_page(request: Request, status: int = 200, error: str | None = None,
                username: str = "") -> HTMLResponse:
    token = ui_csrf.new_login_token()
    resp = render(request, "login.html", None, status=status, error=error,
                  login_csrf=token, username=username)
    resp.set_cookie(ui_csrf.LOGIN_COOKIE, token, httponly=True, samesite="strict",
                    secure=state_of(request).settings.cookie_secure, path="/review")
    return resp


@router.get("", response_class=RedirectResponse)
@router.get("/", response_class=RedirectResponse)
async def home(request: Request) -> Response:
    return redirect("/review/queues" if await session_of(request) else "/review/login")


@router.get("/login")
async def login_page(request: Request) -> Response:
    if await session_of(request) is not None:
        return redirect("/review/queues")
    return _login_page(request)


@router.post("/login")
async def login(request: Request) -> Response:
    try:
        fields = await ui_csrf.form(request)
        ui_csrf.check(request.cookies.get(ui_csrf.LOGIN_COOKIE), fields)
    except ui_csrf.CsrfError:
        return _login_page(request, 403, "登录表单已失效，请重新输入。")
    username = fields.get("username", "")[:64]
    state = state_of(request)
    try:
        session = await state.users.login(username, fields.get("password", "")[:1024])
    except RateLimited as exc:
        minutes = max(1, (exc.retry_after + 59) // 60)
        resp = _login_page(request, 429, f"该账户登录失败次数过多，已被暂时锁定。请在约 "
                           f"{minutes} 分钟后再试（锁定期间即使密码正确也无法登录）。",
                           username)
        resp.headers["Retry-After"] = str(exc.retry_after)
        return resp
    except Unauthorized:
        return _login_page(request, 401, "用户名或密码错误。", username)
    resp = redirect("/review/queues")
    resp.set_cookie(SESSION_COOKIE, session.token, max_age=state.settings.session_ttl_s,
                    httponly=True, samesite="strict", secure=state.settings.cookie_secure,
                    path="/")
    resp.delete_cookie(ui_csrf.LOGIN_COOKIE, path="/review")
    return resp


@router.post("/logout")
async def logout(request: Request) -> Response:
    session = await session_of(request)
    if session is None:
        return redirect("/review/login")
    if await checked_form(request, session) is None:
        return csrf_refused(request, session)
    await state_of(request).users.logout(session)
    resp = redirect("/review/login?m=logged_out")
    resp.delete_cookie(SESSION_COOKIE, path="/")
    return resp


@router.get("/queues")
async def queues(request: Request) -> Response:
    session, refused = await guard(request)
    if refused:
        return refused
    assert session is not None
    state = state_of(request)
    names = claimable(state.items.channels(), session.role)
    stats = await state.review.queue_stats(names, int(time.time() * 1000))
    return render(request, "queues.html", session, queues=stats)


async def claim_next(request: Request, session: Session, queue: str) -> str | None:
    """Claim one item of `queue` for the session; its page's URL, or None when empty."""
    state = state_of(request)
    got = await state.review.claims.claim(queue, 1, session.username, session.role.value)
    return f"/review/items/{got[0].id}?q={queue}" if got else None


def may_claim(request: Request, role: Role, queue: str) -> bool:
    channels = state_of(request).items.channels()
    if queue == ESCALATED:
        return role.allows(Role.SENIOR)
    return queue in claimable(channels, role)


@router.post("/claim")
async def claim(request: Request) -> Response:
    got = await posted(request)
    if isinstance(got, Response):
        return got
    session, fields = got
    queue = fields.get("queue", "")
    if not may_claim(request, session.role, queue):
        return render(request, "error.html", session, status=422,
                      error="没有这个队列，或你无权领取该队列。")
    url = await claim_next(request, session, queue)
    return redirect(url or "/review/queues?m=empty")
