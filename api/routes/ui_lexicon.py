"""Lexicon pages (admin): search terms; add, edit, disable (remove) a term or an allow-list
entry as a draft; the draft's dry run before its publish; versions with one-click rollback.

Every change goes through the JSON API's own functions (`api.routes.lexicon`: draft, dry
run, publish, approve, rollback), so the rules (base version, two-person rule, audit)
are the same; their refusals are shown on the page.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError

from api.errors import ApiError
from api.routes import lexicon as api_lexicon
from api.store.errors import NotFound
from api.store.lexicon_content import search
from api.store.lexicon_drafts import LexiconDrafts
from api.store.statuses import Role
from api.store.users import Session
from api.ui_render import guard, posted, redirect, render
from moderation.categories import CATEGORIES

router = APIRouter(prefix="/review/admin/lexicon", include_in_schema=False)
PER_PAGE = 50
ERRORS_ZH = {
    "stale_version": "词库在此期间已发布了新版本，本次修改基于旧版本，未应用。"
                     "请在当前版本上重新修改。",
    "invalid_lexicon_change": "修改无法应用：",
    "empty_draft": "草稿至少需要一项修改。",
    "draft_published": "该草稿已发布。",
    "awaiting_approval": "该草稿正在等待另一位管理员批准。",
    "same_admin": "需要另一位管理员批准（不能批准自己提交的草稿）。",
    "not_found": "没有找到。",
}


def _zh(exc: ApiError) -> str:
    text = ERRORS_ZH.get(exc.code, exc.message)
    problems = exc.extra.get("problems") or []
    return text + ("；".join(problems[:5]) if exc.code == "invalid_lexicon_change" else "")


def _body(resp: Response) -> dict[str, Any]:
    return json.loads(bytes(resp.body))


async def _page(request: Request, session: Session, *, status: int = 200,
                error: str | None = None) -> Response:
    reloader = request.app.state.lexicon_reloader
    current = await api_lexicon.current(session, request)
    q = request.query_params.get("q", "")[:200]
    category = request.query_params.get("category", "")
    severity = request.query_params.get("severity", "")
    page_s = request.query_params.get("page", "1")
    page = int(page_s) if page_s.isdigit() and int(page_s) > 0 else 1
    content = await reloader.versions.content(current["version"])
    rows = await asyncio.to_thread(search, content, q=q or None,
                                   category=category if category in CATEGORIES else None,
                                   severity=severity if severity in ("block", "review")
                                   else None)
    start = (page - 1) * PER_PAGE
    drafts = [d for d in await LexiconDrafts(reloader.r).list(20)
              if d["status"] != "published"]
    versions = (await api_lexicon.versions(session, request))["versions"]
    return render(request, "lexicon.html", session, status=status, error=error,
                  current=current, terms=rows[start:start + PER_PAGE], total=len(rows),
                  page=page, pages=max(1, (len(rows) + PER_PAGE - 1) // PER_PAGE), q=q,
                  category=category, severity=severity, allow=content.allow,
                  drafts=drafts, versions=versions[:30])


@router.get("")
async def lexicon_page(request: Request) -> Response:
    session, refused = await guard(request, Role.ADMIN)
    if refused:
        return refused
    assert session is not None
    return await _page(request, session)


def _change(f: dict[str, str]) -> dict[str, Any]:
    """One change of the form, in the JSON API's draft shape."""
    kind = f.get("kind", "")
    term = {"term": f.get("term", ""), "category": f.get("category", ""),
            "severity": f.get("severity", ""), "match": f.get("match") or None}
    if kind in ("add", "edit"):
        return {kind: [term]}
    if kind == "remove":
        return {"remove": [f.get("term", "")]}
    if kind == "allow_add":
        return {"allow_add": [{"phrase": f.get("phrase", "")}]}
    if kind == "allow_remove":
        return {"allow_remove": [f.get("phrase", "")]}
    return {}


@router.post("/draft")
async def create_draft(request: Request) -> Response:
    got = await posted(request, Role.ADMIN)
    if isinstance(got, Response):
        return got
    session, f = got
    base = f.get("base_version", "")
    try:
        req = api_lexicon.DraftCreate(**_change(f), note=f.get("note", "")[:2000],
                                      base_version=int(base) if base.isdigit() else None)
        draft = _body(await api_lexicon.create_draft(req, session, request))
    except ValidationError:
        return await _page(request, session, status=422, error="表单内容不完整或过长。")
    except ApiError as exc:
        return await _page(request, session, status=exc.status, error=_zh(exc))
    return redirect(f"/review/admin/lexicon/drafts/{draft['id']}?m=draft_created")


async def _draft_page(request: Request, session: Session, draft_id: str, *,
                      status: int = 200, error: str | None = None) -> Response:
    try:
        draft = await api_lexicon.get_draft(draft_id, session, request)
    except NotFound:
        return render(request, "error.html", session, status=404, error="没有这个草稿。")
    report = None
    if draft["status"] != "published":
        try:
            report = await api_lexicon.dry_run_draft(draft_id, session, request, None)
        except ApiError as exc:
            error = error or _zh(exc)
    current = await api_lexicon.current(session, request)
    return render(request, "lexicon_draft.html", session, status=status, error=error,
                  draft=draft, report=report, current=current)


@router.get("/drafts/{draft_id}")
async def draft_page(request: Request, draft_id: str) -> Response:
    session, refused = await guard(request, Role.ADMIN)
    if refused:
        return refused
    assert session is not None
    return await _draft_page(request, session, draft_id[:64])


@router.post("/drafts/{draft_id}/{action}")
async def draft_action(request: Request, draft_id: str, action: str) -> Response:
    """`publish` or `approve` (two-person rule) a draft."""
    got = await posted(request, Role.ADMIN)
    if isinstance(got, Response):
        return got
    session, _ = got
    if action not in ("publish", "approve"):
        return render(request, "error.html", session, status=404, error="没有这个操作。")
    try:
        if action == "publish":
            resp = await api_lexicon.publish_draft(draft_id, session, request, None)
        else:
            resp = await api_lexicon.approve_draft(draft_id, session, request)
    except ApiError as exc:
        return await _draft_page(request, session, draft_id, status=exc.status,
                                 error=_zh(exc))
    if resp.status_code == 202:
        return redirect(f"/review/admin/lexicon/drafts/{draft_id}?m=awaiting_approval")
    return redirect("/review/admin/lexicon?m=published")


@router.post("/versions/{n}/rollback")
async def rollback(request: Request, n: int) -> Response:
    got = await posted(request, Role.ADMIN)
    if isinstance(got, Response):
        return got
    session, f = got
    base = f.get("base_version", "")
    req = api_lexicon.RollbackIn(note=f.get("note", "")[:2000],
                                 base_version=int(base) if base.isdigit() else None)
    try:
        await api_lexicon.rollback(n, session, request, req)
    except NotFound:
        return await _page(request, session, status=404, error=f"没有版本 {n}。")
    except ApiError as exc:
        return await _page(request, session, status=exc.status, error=_zh(exc))
    return redirect("/review/admin/lexicon?m=rolled_back")
