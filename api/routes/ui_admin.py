"""Admin pages: users and API keys (create, disable, change role, change a key's rate
limit), the audit log viewer with its "verify chain" button, and (senior and admin) the
dashboard. Changes go through the same stores as `api.routes.admin`, audited there."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.audit import browse, keyfile
from api.audit.verify import verify
from api.store import dashboard
from api.store.errors import Conflict, InvalidName, NotFound
from api.store.statuses import Role
from api.store.users import Session
from api.ui_charts import stacked
from api.ui_labels import CATEGORY_ZH, DECISION_ZH
from api.ui_render import guard, posted, redirect, render, state_of
from moderation.categories import CATEGORIES

router = APIRouter(prefix="/review/admin", include_in_schema=False)


def _actor(session: Session) -> dict[str, str]:
    return {"actor": f"user:{session.username}", "actor_role": session.role.value}


async def _users_page(request: Request, session: Session, *, status: int = 200,
                      error: str | None = None, new_key: str | None = None) -> Response:
    state = state_of(request)
    return render(request, "users.html", session, status=status, error=error,
                  users=await state.users.list(), apikeys=await state.apikeys.list(),
                  new_key=new_key, default_rate=state.settings.rate_limit_per_s)


@router.get("/users")
async def users_page(request: Request) -> Response:
    session, refused = await guard(request, Role.ADMIN)
    if refused:
        return refused
    assert session is not None
    return await _users_page(request, session)


@router.post("/users/{action}")
async def users_action(request: Request, action: str) -> Response:
    """create | update (role, disabled) a user; create | update | revoke an API key."""
    got = await posted(request, Role.ADMIN)
    if isinstance(got, Response):
        return got
    session, f = got
    state = state_of(request)
    try:
        if action == "create-user":
            await state.users.create(f.get("username", ""), Role(f.get("role", "reviewer")),
                                     f.get("password", ""), **_actor(session))
            return redirect("/review/admin/users?m=user_created")
        if action == "update-user":
            role = f.get("role")
            disabled = {"1": True, "0": False}.get(f.get("disabled", ""))
            await state.users.update(f.get("username", ""),
                                     role=Role(role) if role else None, disabled=disabled,
                                     keep_session=session, **_actor(session))
            return redirect("/review/admin/users?m=user_updated")
        actor = {"actor": f"user:{session.username}", "role": session.role.value}
        if action == "create-key":
            rate = f.get("rate_limit", "")
            key, _ = await state.apikeys.create(f.get("client", ""),
                                                rate_limit=int(rate) if rate.isdigit()
                                                and int(rate) > 0 else None, **actor)
            return await _users_page(request, session, new_key=key, status=201)
        if action == "update-key":
            rate = f.get("rate_limit", "")
            disabled = {"1": True, "0": False}.get(f.get("disabled", ""))
            await state.apikeys.update(
                f.get("id", ""), rate_limit=int(rate) if rate.isdigit() and int(rate) > 0
                else None, default_rate_limit=rate == "default", disabled=disabled, **actor)
            return redirect("/review/admin/users?m=key_updated")
        if action == "revoke-key":
            await state.apikeys.revoke(f.get("id", ""), **actor)
            return redirect("/review/admin/users?m=key_revoked")
    except ValueError:
        return await _users_page(request, session, status=422, error="没有这个角色。")
    except (InvalidName, Conflict) as exc:
        return await _users_page(request, session, status=422 if isinstance(
            exc, InvalidName) else 409, error=_zh(exc))
    except NotFound:
        return await _users_page(request, session, status=404, error="没有找到该用户或密钥。")
    return render(request, "error.html", session, status=404, error="没有这个操作。")


def _zh(exc: Exception) -> str:
    if isinstance(exc, Conflict):
        return "该用户名已存在。"
    text = str(exc)
    if "password" in text:
        return "密码至少需要 8 个字符。"
    return "名称只能包含字母、数字、“.”、“_”或“-”，长度 1–64。"


@router.get("/audit")
async def audit_page(request: Request) -> Response:
    return await _audit(request, None)


@router.post("/audit/verify")
async def audit_verify(request: Request) -> Response:
    got = await posted(request, Role.ADMIN)
    if isinstance(got, Response):
        return got
    session, _ = got
    state = state_of(request)
    s = state.settings
    try:
        key = keyfile.load(s.audit_key_path)
    except keyfile.AuditKeyError as exc:
        return await _audit(request, {"ok": False, "error": exc.message})
    report = await verify(state.redis, s.audit_path, key,
                          max_unsealed_age_s=s.audit_max_unsealed_age_s)
    return await _audit(request, report.to_dict())


async def _audit(request: Request, report: dict[str, Any] | None) -> Response:
    session, refused = await guard(request, Role.ADMIN)
    if refused:
        return refused
    assert session is not None
    qp = request.query_params
    flt = {k: qp.get(k, "")[:100] for k in ("action", "actor", "target")}
    limit_s = qp.get("limit", "200")
    limit = min(1000, int(limit_s)) if limit_s.isdigit() and int(limit_s) > 0 else 200
    state = state_of(request)
    events = await browse.recent(state.redis, state.settings.audit_path, limit=limit, **flt)
    return render(request, "audit.html", session, events=events, report=report,
                  limit=limit, **flt)


OUTCOMES = ["pass", "review", "block"]


@router.get("/dashboard")
async def dashboard_page(request: Request) -> Response:
    session, refused = await guard(request, Role.SENIOR)
    if refused:
        return refused
    assert session is not None
    state = state_of(request)
    stats = await state.review.stats(state.items.channels())
    traffic = await dashboard.traffic(state.redis, days=14)
    days = traffic["days"]
    charts = {
        "outcome": stacked(days, traffic["by_outcome"], OUTCOMES, DECISION_ZH),
        "category": stacked(days, traffic["by_category"], list(CATEGORIES), CATEGORY_ZH),
    }
    throughput: dict[str, int] = {}
    for per_user in stats["verdicts_per_reviewer_per_day"].values():
        for user, n in per_user.items():
            throughput[user] = throughput.get(user, 0) + n
    return render(request, "dashboard.html", session, stats=stats, traffic=traffic,
                  charts=charts, throughput=sorted(throughput.items(), key=lambda p: -p[1]))
