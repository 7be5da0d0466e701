"""What every review page shares: the Jinja2 environment (autoescape on), the logged-in
person of a request, CSRF-checked form reading, flash messages and redirects.

Templates and static files live in `review_ui/` at the top of the project. Flash messages
travel as a short code in the query string (`?m=approved`) and are looked up in `FLASH`:
no text from a URL is ever shown.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from api import ui_csrf, ui_labels
from api.deps import SESSION_COOKIE
from api.state import AppState
from api.store.statuses import Role
from api.store.users import SESSION_PREFIX, Session
from moderation.categories import CATEGORIES

UI_DIR = Path(__file__).resolve().parent.parent / "review_ui"
TEMPLATES = UI_DIR / "templates"
STATIC = UI_DIR / "static"

FLASH: dict[str, tuple[str, str]] = {  # code -> (kind, text)
    "approved": ("ok", "已通过，已为你领取下一条。"),
    "rejected": ("ok", "已驳回，已为你领取下一条。"),
    "escalated": ("ok", "已升级给高级审核员，已为你领取下一条。"),
    "awaiting_second_review": ("ok", "已驳回，等待另一位审核员复核；已为你领取下一条。"),
    "qa_agree": ("ok", "质检结果已记录（与机器一致）。"),
    "qa_disagree": ("ok", "质检结果已记录（与机器不一致）。"),
    "done_empty": ("ok", "判定已保存。该队列已没有可领取的条目。"),
    "empty": ("info", "该队列当前没有你可以领取的条目。"),
    "renewed": ("ok", "租约已续期。"),
    "logged_out": ("info", "你已退出登录。"),
    "draft_created": ("ok", "草稿已创建。请先查看试运行结果，再发布。"),
    "published": ("ok", "新版本已发布，几秒内在所有进程生效。"),
    "awaiting_approval": ("info", "该草稿新增了拦截词，需另一位管理员批准后发布。"),
    "rolled_back": ("ok", "已回滚：新版本的内容与所选版本相同。"),
    "user_created": ("ok", "用户已创建。"),
    "user_updated": ("ok", "用户已更新。"),
    "key_updated": ("ok", "API 密钥已更新。"),
    "key_revoked": ("ok", "API 密钥已吊销。"),
    "forbidden": ("error", "你的角色无权访问该页面。"),
}

# What a refused review write means for the person at the desk (never a silent overwrite).
CONFLICT_ZH = {
    "lease_lost": "你的租约已过期，该条目已退回队列（可能已被他人领取）。你的判定没有保存。",
    "not_claimed": "你没有领取该条目（租约不在你手中），你的判定没有保存。",
    "stale_version": "该条目已被他人修改（版本已过期），你的判定没有保存。请重新打开查看最新内容。",
    "cannot_escalate": "该条目当前不能升级。",
}


def _env() -> Environment:
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)),
                      autoescape=select_autoescape(default=True, default_for_string=True),
                      trim_blocks=True, lstrip_blocks=True)
    env.globals.update(
        CATEGORIES=CATEGORIES, CATEGORY_ZH=ui_labels.CATEGORY_ZH,
        SEVERITY_ZH=ui_labels.SEVERITY_ZH, DECISION_ZH=ui_labels.DECISION_ZH,
        PII_ZH=ui_labels.PII_ZH, STATUS_ZH=ui_labels.STATUS_ZH, QUEUE_ZH=ui_labels.QUEUE_ZH,
        ROLE_ZH=ui_labels.ROLE_ZH, MATCH_ZH=ui_labels.MATCH_ZH,
        VERDICT_ZH=ui_labels.VERDICT_ZH, zh=ui_labels.zh)
    return env


ENV = _env()


def state_of(request: Request) -> AppState:
    return request.app.state.app_state


async def session_of(request: Request) -> Session | None:
    """The person logged in with the `session` cookie (None: not logged in, or ended)."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token or not token.startswith(SESSION_PREFIX):
        return None
    return await state_of(request).users.session(token)


def csrf_of(session: Session) -> str:
    return ui_csrf.session_token(session.token)


def flash(request: Request) -> tuple[str, str] | None:
    return FLASH.get(request.query_params.get("m", ""))


def render(request: Request, name: str, session: Session | None, status: int = 200,
           **ctx: Any) -> HTMLResponse:
    ctx.setdefault("message", flash(request))
    ctx.setdefault("error", None)
    html = ENV.get_template(name).render(
        session=session, csrf=csrf_of(session) if session else "",
        is_senior=bool(session and session.role.allows(Role.SENIOR)),
        is_admin=bool(session and session.role.allows(Role.ADMIN)),
        path=request.url.path, **ctx)
    return HTMLResponse(html, status_code=status)


def redirect(url: str) -> RedirectResponse:
    """303: the browser follows a form post with a GET."""
    return RedirectResponse(url, status_code=303)


def to_login() -> RedirectResponse:
    return redirect("/review/login")


async def checked_form(request: Request, session: Session) -> dict[str, str] | None:
    """The fields of a form post with this session's CSRF token, else None."""
    try:
        fields = await ui_csrf.form(request)
        ui_csrf.check(csrf_of(session), fields)
    except ui_csrf.CsrfError:
        return None
    return fields


def csrf_refused(request: Request, session: Session | None) -> HTMLResponse:
    return render(request, "error.html", session, status=403,
                  error="表单已失效或来源不明（CSRF 校验失败），请返回页面刷新后重试。")


def forbidden(request: Request, session: Session) -> HTMLResponse:
    return render(request, "error.html", session, status=403,
                  error="你的角色无权执行此操作。")


async def guard(request: Request, role: Role = Role.REVIEWER
                ) -> tuple[Session | None, HTMLResponse | RedirectResponse | None]:
    """(session, None) for a person with at least `role`; otherwise (None, the answer:
    the login page for nobody, 403 for too small a role)."""
    session = await session_of(request)
    if session is None:
        return None, to_login()
    if not session.role.allows(role):
        return None, forbidden(request, session)
    return session, None


async def posted(request: Request, role: Role = Role.REVIEWER
                 ) -> tuple[Session, dict[str, str]] | HTMLResponse | RedirectResponse:
    """(session, form fields) of a form post by a person with at least `role` carrying
    this session's CSRF token; otherwise the answer to send (login page, 403)."""
    session, refused = await guard(request, role)
    if refused is not None:
        return refused
    assert session is not None
    fields = await checked_form(request, session)
    if fields is None:
        return csrf_refused(request, session)
    return session, fields
