"""The item page of the review desk and its forms: verdict, escalate, renew, reveal.

Writes go through the review store exactly like `api.routes.review`: each names the
version the page was rendered with, and a lost or stale lease comes back as a page that
says so (409), never as a silent overwrite. After a verdict the next item of the same
queue is claimed, so a reviewer can work through a queue from the keyboard alone.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from api.routes.review import ITEM_ID_PATTERN
from api.routes.ui import claim_next, may_claim
from api.store.errors import NotFound, ReviewConflict
from api.store.statuses import Role
from api.store.users import Session
from api.ui_highlight import control_summary, marks_for, segments
from api.ui_render import CONFLICT_ZH, guard, posted, redirect, render, state_of
from moderation.categories import CATEGORIES

router = APIRouter(prefix="/review/items", include_in_schema=False)
ItemId = Path(pattern=ITEM_ID_PATTERN)
DIGIT_REASONS = 10  # keys 1-9 and 0


def _now_ms() -> int:
    return int(time.time() * 1000)


def reason_order(decision: dict[str, Any]) -> list[str]:
    """Reason codes in keyboard order: the item's own categories first, `other` last."""
    seen: list[str] = []
    for h in decision.get("hits") or []:
        if h.get("category") in CATEGORIES and h["category"] not in seen:
            seen.append(h["category"])
    for r in decision.get("reasons") or []:
        if r.get("category") in CATEGORIES and r["category"] not in seen:
            seen.append(r["category"])
    if decision.get("pii") and "personal_info" not in seen:
        seen.append("personal_info")
    rest = [c for c in CATEGORIES if c not in seen and c != "other"]
    return [*seen, *rest, *([] if "other" in seen else ["other"])]


def _fields(view: dict[str, Any], revealed: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Title and content, each cut into highlight segments."""
    decision = view["decision"]
    hits, pii = decision.get("hits") or [], decision.get("pii") or []
    out = []
    title = revealed["title"] if revealed else view.get("masked_title")
    text = revealed["content"] if revealed else view.get("masked_text")
    for name, label, value in (("title", "标题", title), ("content", "正文", text)):
        if value is None:
            continue
        out.append({"name": name, "label": label, "length": len(value),
                    "segments": segments(value, marks_for(name, hits, pii)),
                    "controls": control_summary(value)})
    return out


async def item_page(request: Request, session: Session, item_id: str, *, status: int = 200,
                    error: str | None = None, revealed: dict[str, Any] | None = None,
                    note: str = "") -> Response:
    state = state_of(request)
    try:
        view = await state.review.item(item_id, _now_ms())
    except NotFound:
        return render(request, "error.html", session, status=404, error="没有这个条目。")
    held = view["holder"] == session.username
    queue = request.query_params.get("q") or view.get("queue") or view["channel"]
    reasons = reason_order(view["decision"])
    return render(request, "item.html", session, status=status, error=error, item=view,
                  fields=_fields(view, revealed), revealed=revealed is not None, held=held,
                  queue=queue, reasons=reasons,
                  digit_reasons=reasons[:DIGIT_REASONS], note=note)


@router.get("/{item_id}")
async def item(request: Request, item_id: str = ItemId) -> Response:
    session, refused = await guard(request)
    if refused:
        return refused
    assert session is not None
    return await item_page(request, session, item_id)


def _conflict(exc: ReviewConflict) -> str:
    return CONFLICT_ZH.get(exc.code, "该条目的状态已变化，你的操作没有保存。")


@router.post("/{item_id}/decide")
async def decide(request: Request, item_id: str = ItemId) -> Response:
    """approve / reject (with a reason code) / escalate, then the next item of the queue."""
    got = await posted(request)
    if isinstance(got, Response):
        return got
    session, f = got
    action, note = f.get("action", ""), f.get("note", "")[:2000]
    reason = f.get("reason_code", "")
    if not f.get("version", "").isdigit() or action not in ("approve", "reject", "escalate"):
        return await item_page(request, session, item_id, status=422, note=note,
                               error="表单不完整（缺少版本或操作），请重新打开该条目。")
    if action != "escalate" and reason not in CATEGORIES:
        return await item_page(request, session, item_id, status=422, note=note,
                               error="请选择一个理由代码。")
    verdicts = state_of(request).review
    try:
        if action == "escalate":
            await verdicts.verdicts.escalate(item_id, user=session.username,
                                             role=session.role.value,
                                             version=int(f["version"]), note=note)
            outcome = "escalated"
        else:
            out = await verdicts.verdicts.verdict(
                item_id, user=session.username, role=session.role.value,
                version=int(f["version"]), verdict=action, reason_code=reason,
                note=note or None, second_review=verdicts.second_review_channels())
            outcome = out.outcome if out.outcome in ("qa_agree", "qa_disagree",
                                                     "awaiting_second_review") \
                else ("approved" if action == "approve" else "rejected")
    except ReviewConflict as exc:
        return await item_page(request, session, item_id, status=409, error=_conflict(exc),
                               note=note)
    except NotFound:
        return render(request, "error.html", session, status=404, error="没有这个条目。")
    return await _next(request, session, f.get("queue", ""), outcome)


async def _next(request: Request, session: Session, queue: str, outcome: str) -> Response:
    code = outcome if outcome in ("approved", "rejected", "escalated", "qa_agree",
                                  "qa_disagree", "awaiting_second_review") else "approved"
    if queue and may_claim(request, session.role, queue):
        url = await claim_next(request, session, queue)
        if url:
            return redirect(f"{url}&m={code}")
    return redirect("/review/queues?m=done_empty")


@router.post("/{item_id}/renew")
async def renew(request: Request, item_id: str = ItemId) -> Response:
    got = await posted(request)
    if isinstance(got, Response):
        return got
    session, f = got
    version = int(f["version"]) if f.get("version", "").isdigit() else None
    try:
        await state_of(request).review.claims.renew(item_id, session.username, version)
    except ReviewConflict as exc:
        return await item_page(request, session, item_id, status=409, error=_conflict(exc))
    except NotFound:
        return render(request, "error.html", session, status=404, error="没有这个条目。")
    q = f.get("queue", "")
    return redirect(f"/review/items/{item_id}?m=renewed" + (f"&q={q}" if q.isidentifier()
                                                           else ""))


@router.post("/{item_id}/reveal")
async def reveal(request: Request, item_id: str = ItemId) -> Response:
    """The unmasked text for a senior reviewer or admin (audited by the store)."""
    got = await posted(request, Role.SENIOR)
    if isinstance(got, Response):
        return got
    session, _ = got
    try:
        revealed = await state_of(request).review.reveal(item_id, user=session.username,
                                                         role=session.role.value)
    except NotFound:
        return render(request, "error.html", session, status=404, error="没有这个条目。")
    return await item_page(request, session, item_id, revealed=revealed)
