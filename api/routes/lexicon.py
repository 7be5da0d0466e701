"""Lexicon management (`admin` role): versions, drafts, dry run, publish, rollback.

Every change is a draft on a named base version; a publish makes the next version in one
Lua call with its audit event and announces it, so every process swaps within ~2 s. A
publish whose base is no longer current is 409 `stale_version` (no change is ever lost).
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from api import audit
from api.access_log import LogUser
from api.deps import AdminDep
from api.docs import error
from api.errors import ApiError
from api.lexicon_dry_run import dry_run
from api.lexicon_live import LexiconReloader
from api.lexicon_suggest import suggest
from api.state import AppState
from api.store import recent_items
from api.store.lexicon_content import DraftInvalid, adds_block_terms, apply_changes, search
from api.store.lexicon_drafts import AWAITING_APPROVAL, PUBLISHED, LexiconDrafts
from api.store.lexicon_versions import LexiconStale, VersionMeta

router = APIRouter(prefix="/v1/lexicon", tags=["lexicon"], dependencies=[LogUser],
                   responses={401: error("not logged in, or the session has ended"),
                              403: error("this needs the admin role")})
MAX_CHANGES = 100_000
PAGE_SIZE = 50


class TermIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    term: str = Field(max_length=200)
    category: str = Field(max_length=32)
    severity: str = Field(max_length=16)
    match: str | None = Field(None, max_length=16)
    fuzzy: StrictBool = Field(True, description="false: no pinyin, homophone or split forms")
    note: str | None = Field(None, max_length=500)


class AllowIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    phrase: str = Field(max_length=200)
    note: str | None = Field(None, max_length=500)


class DraftCreate(BaseModel):
    """Changes to the current version (or `base_version`); `note` says why."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "add": [{"term": "出售假证", "category": "fraud", "severity": "block"}],
        "remove": ["六合彩"], "allow_add": ["税务局代开发票"], "note": "ticket 1234"}]})
    add: list[TermIn] = Field(default_factory=list, max_length=MAX_CHANGES)
    edit: list[TermIn] = Field(default_factory=list, max_length=MAX_CHANGES)
    remove: list[str] = Field(default_factory=list, max_length=MAX_CHANGES)
    allow_add: list[AllowIn | str] = Field(default_factory=list, max_length=MAX_CHANGES)
    allow_remove: list[str] = Field(default_factory=list, max_length=MAX_CHANGES)
    note: str = Field("", max_length=2000)
    base_version: int | None = Field(None, ge=1)


class DryRunIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    limit: int | None = Field(None, ge=1, description="items to re-moderate (default 1,000)")


class PublishIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str | None = Field(None, max_length=2000)


class RollbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str = Field("", max_length=2000)
    base_version: int | None = Field(None, ge=1, description="the version being replaced; "
                                     "409 stale_version when another publish came first")


def _state(request: Request) -> tuple[AppState, LexiconReloader]:
    return request.app.state.app_state, request.app.state.lexicon_reloader


def _actor(session: Any) -> tuple[str, str]:
    return f"user:{session.username}", session.role.value


def _invalid(problems: list[str]) -> ApiError:
    return ApiError(422, "invalid_lexicon_change",
                    f"{len(problems)} change(s) cannot apply; see `problems`.",
                    extra={"problems": problems[:1000]})


def _stale(base: int, current: int) -> ApiError:
    return ApiError(409, "stale_version", f"Lexicon version {current} was published after "
                    f"version {base}, which this change is based on; start again from the "
                    "current version.", extra={"current_version": current})


def _changes(req: DraftCreate) -> dict[str, Any]:
    return {"add": [t.model_dump(exclude_none=True) for t in req.add],
            "edit": [t.model_dump(exclude_none=True) for t in req.edit],
            "remove": req.remove,
            "allow_add": [a.model_dump(exclude_none=True) if isinstance(a, AllowIn)
                          else {"phrase": a} for a in req.allow_add],
            "allow_remove": req.allow_remove}


@router.get("")
async def current(_: AdminDep, request: Request) -> dict[str, Any]:
    """The current version: `{version, content_hash, published_at, counts}`, and the
    version this process serves (`live_version`: equal within ~2 s of a publish)."""
    state, reloader = _state(request)
    n = await reloader.ensure_seeded()
    meta = await reloader.versions.meta(n)
    live = state.moderator.versions
    return {"version": meta.version, "content_hash": meta.content_hash,
            "published_at": meta.published_at, "counts": meta.counts,
            "live_version": live.lexicon, "live_hash": live.lexicon_hash}


@router.get("/terms")
async def terms(_: AdminDep, request: Request, q: str | None = Query(None, max_length=200),
                category: str | None = None, severity: str | None = None,
                page: int = Query(1, ge=1), per_page: int = Query(PAGE_SIZE, ge=1, le=500),
                version: int | None = Query(None, ge=1)) -> dict[str, Any]:
    """Terms of the current version (or `version`), searched by text (any spelling: `q` is
    folded like the texts) and filtered by category and severity, `per_page` a page."""
    _, reloader = _state(request)
    n = version or await reloader.ensure_seeded()
    content = await reloader.versions.content(n)
    rows = await asyncio.to_thread(search, content, q=q, category=category,
                                   severity=severity)
    start = (page - 1) * per_page
    return {"version": n, "total": len(rows), "page": page, "per_page": per_page,
            "terms": [r.to_dict() for r in rows[start:start + per_page]],
            "allow": [a.to_dict() for a in content.allow] if page == 1 and not
            (q or category or severity) else None}


@router.post("/drafts", status_code=201,
             responses={409: error("base_version is not the current version"),
                        422: error("a change cannot apply (`problems` names each)")})
async def create_draft(req: DraftCreate, session: AdminDep, request: Request) -> JSONResponse:
    """A draft of changes on the current version; checked now (every problem listed), then
    dry-run and published by id."""
    _, reloader = _state(request)
    current_n = await reloader.ensure_seeded()
    base = req.base_version or current_n
    if base != current_n:
        raise _stale(base, current_n)
    changes = _changes(req)
    if not any(changes.values()):
        raise ApiError(422, "empty_draft", "A draft needs at least one change.")
    content = await reloader.versions.content(base)
    actor, role = _actor(session)
    try:
        _, summary = await asyncio.to_thread(apply_changes, content, changes, author=actor,
                                             time=audit.now_iso())
    except DraftInvalid as exc:
        raise _invalid(exc.problems) from None
    draft = await LexiconDrafts(reloader.r).create(
        base=base, changes=changes, note=req.note, actor=actor, role=role, summary=summary,
        adds_block=await asyncio.to_thread(adds_block_terms, content, changes))
    return JSONResponse(draft, status_code=201)


@router.get("/drafts")
async def list_drafts(_: AdminDep, request: Request) -> dict[str, Any]:
    _, reloader = _state(request)
    return {"drafts": await LexiconDrafts(reloader.r).list()}


@router.get("/drafts/{draft_id}", responses={404: error("no such draft")})
async def get_draft(draft_id: str, _: AdminDep, request: Request) -> dict[str, Any]:
    _, reloader = _state(request)
    return await LexiconDrafts(reloader.r).get(draft_id)


@router.post("/drafts/{draft_id}/dry-run", responses={404: error("no such draft")})
async def dry_run_draft(draft_id: str, session: AdminDep, request: Request,
                        req: DryRunIn | None = None) -> dict[str, Any]:
    """Re-moderate the last `limit` stored items (default 1,000) with the live lexicon and
    with the draft's, reusing their stored model scores; report what would change."""
    state, reloader = _state(request)
    settings = state.settings
    limit = min((req.limit if req and req.limit else settings.lexicon_dry_run_items),
                settings.lexicon_dry_run_max_items)
    draft = await LexiconDrafts(reloader.r).get(draft_id)
    base = await reloader.versions.content(draft["base_version"])
    actor, _ = _actor(session)
    try:
        new, _ = await asyncio.to_thread(apply_changes, base, draft["changes"], author=actor,
                                         time=audit.now_iso())
    except DraftInvalid as exc:
        raise _invalid(exc.problems) from None
    items = await recent_items.recent(reloader.r, limit)
    live = state.moderator
    draft_lexicon = await asyncio.to_thread(new.build, None)
    report = await asyncio.to_thread(dry_run, items, live.lexicon, draft_lexicon, live.policy)
    return {"draft_id": draft_id, "base_version": draft["base_version"],
            "live_version": live.versions.lexicon, **report}


async def _publish_draft(request: Request, session: Any, draft: dict[str, Any], *,
                         note: str | None, approved_by: str | None) -> VersionMeta:
    _, reloader = _state(request)
    current_n = await reloader.ensure_seeded()
    base = draft["base_version"]
    if base != current_n:
        raise _stale(base, current_n)
    content = await reloader.versions.content(base)
    actor, role = _actor(session)
    try:
        new, summary = await asyncio.to_thread(apply_changes, content, draft["changes"],
                                               author=draft["author"], time=audit.now_iso())
    except DraftInvalid as exc:
        raise _invalid(exc.problems) from None
    published = {**draft, "status": PUBLISHED, "published_version": base + 1,
                 "published_by": actor, "approved_by": approved_by}
    author = draft["approval_requested_by"] if approved_by else actor
    try:
        meta = await reloader.versions.publish(
            new, base=base, actor=author, role=role, action="publish",
            note=note if note is not None else draft["note"], draft=published,
            approved_by=approved_by, changes=summary)
    except LexiconStale:
        raise _stale(base, await reloader.versions.current() or 0) from None
    await reloader.sync()  # this process at once; the others on the announcement
    return meta


@router.post("/drafts/{draft_id}/publish",
             responses={202: {"description": "two-person rule: waits for another admin"},
                        404: error("no such draft"),
                        409: error("stale_version: another publish came first, or the "
                                   "draft was published already")})
async def publish_draft(draft_id: str, session: AdminDep, request: Request,
                        req: PublishIn | None = None) -> JSONResponse:
    """Publish the draft as the next version (live in every process within ~2 s). Under
    the policy's two-person rule a draft that adds block terms waits (202) for `approve`."""
    state, reloader = _state(request)
    drafts = LexiconDrafts(reloader.r)
    draft = await drafts.get(draft_id)
    if draft["status"] == PUBLISHED:
        raise ApiError(409, "draft_published", f"Draft {draft_id} was published as version "
                       f"{draft['published_version']}.")
    if draft["status"] == AWAITING_APPROVAL:
        raise ApiError(409, "awaiting_approval", "This draft waits for another admin's "
                       f"approval: POST /v1/lexicon/drafts/{draft_id}/approve.")
    if state.moderator.policy.two_person_rule and draft["adds_block_terms"]:
        current_n = await reloader.ensure_seeded()
        if draft["base_version"] != current_n:
            raise _stale(draft["base_version"], current_n)
        actor, role = _actor(session)
        waiting = await drafts.request_approval(draft, actor=actor, role=role)
        return JSONResponse(waiting, status_code=202)
    meta = await _publish_draft(request, session, draft,
                                note=req.note if req else None, approved_by=None)
    return JSONResponse(meta.to_dict())


@router.post("/drafts/{draft_id}/approve",
             responses={403: error("the admin who asked cannot approve"),
                        404: error("no such draft"), 409: error("not awaiting approval, "
                                                                "or stale_version")})
async def approve_draft(draft_id: str, session: AdminDep, request: Request) -> JSONResponse:
    """Two-person rule: a second admin approves, and the draft is published."""
    _, reloader = _state(request)
    draft = await LexiconDrafts(reloader.r).get(draft_id)
    if draft["status"] != AWAITING_APPROVAL:
        raise ApiError(409, "not_awaiting_approval", f"Draft {draft_id} is {draft['status']}, "
                       "not awaiting approval.")
    actor, _ = _actor(session)
    if actor == draft["approval_requested_by"]:
        raise ApiError(403, "same_admin", "Another admin must approve this publish.")
    meta = await _publish_draft(request, session, draft, note=None, approved_by=actor)
    return JSONResponse(meta.to_dict())


@router.get("/versions")
async def versions(_: AdminDep, request: Request) -> dict[str, Any]:
    """Every version, newest first: who published it, why, from which base or rollback."""
    _, reloader = _state(request)
    await reloader.ensure_seeded()
    return {"versions": [m.to_dict() for m in await reloader.versions.list()]}


@router.get("/versions/{n}", responses={404: error("no such version")})
async def version(n: int, _: AdminDep, request: Request) -> dict[str, Any]:
    _, reloader = _state(request)
    return (await reloader.versions.meta(n)).to_dict()


@router.post("/versions/{n}/rollback",
             responses={404: error("no such version"),
                        409: error("stale_version: base_version is not current")})
async def rollback(n: int, session: AdminDep, request: Request,
                   req: RollbackIn | None = None) -> JSONResponse:
    """Publish a new version whose content (and content_hash) equals version n's."""
    _, reloader = _state(request)
    current_n = await reloader.ensure_seeded()
    base = req.base_version if req and req.base_version else current_n
    if base != current_n:
        raise _stale(base, current_n)
    content = await reloader.versions.content(n)
    actor, role = _actor(session)
    try:
        meta = await reloader.versions.publish(
            content, base=base, actor=actor, role=role, action="rollback",
            note=req.note if req else "", rollback_of=n)
    except LexiconStale:
        raise _stale(base, await reloader.versions.current() or 0) from None
    await reloader.sync()
    return JSONResponse(meta.to_dict())


@router.get("/suggestions")
async def suggestions(_: AdminDep, request: Request,
                      limit: int = Query(20, ge=1, le=200)) -> dict[str, Any]:
    """Candidate terms from items reviewers rejected that the lexicon did not hit: keywords
    far more frequent in rejected than in approved texts, with counts and example items."""
    state, reloader = _state(request)
    found = await recent_items.with_status(reloader.r, {"rejected", "approved"})
    lexicon = state.moderator.lexicon
    return await asyncio.to_thread(suggest, found, lexicon, limit)
