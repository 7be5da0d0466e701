"""The app factory: `create_app(settings, moderator)`; nothing is built at import time.

`moderation serve` runs it through uvicorn (`api.main:create_app`, factory) in each worker:
the pipeline is loaded once per process here; Redis is connected in the lifespan, where
the workers' supervisor starts the background tasks (`api.workers.tasks`).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from api import docs, errors, parent_watch
from api.access_log import AccessLog
from api.compat.dispatch import CompatDispatch
from api.lexicon_live import LexiconReloader
from api.limits import BodyLimit
from api.logs import configure_logging
from api.media import JsonOnly
from api.routes import admin, auth, health, items, moderate, webhooks
from api.routes import lexicon as lexicon_routes
from api.routes import review as review_routes
from api.routes import stats as stats_routes
from api.routes import ui as ui_routes
from api.routes import ui_admin as ui_admin_routes
from api.routes import ui_item as ui_item_routes
from api.routes import ui_lexicon as ui_lexicon_routes
from api.settings import Settings
from api.state import AppState
from api.store.connection import UNREACHABLE, connect
from api.store.errors import StoreUnavailable
from api.ui_render import STATIC as UI_STATIC
from api.ui_security import UiSecurityHeaders
from api.workers.supervisor import Supervisor
from api.workers.tasks import add_lexicon_reload, build_supervisor
from moderation.pipeline import Moderator, load_moderator

log = logging.getLogger("api")


async def _close(supervisor: Supervisor, r: Any) -> None:
    """Stop the background tasks and close the Redis pool (the lifespan's shutdown)."""
    await supervisor.stop()
    await r.aclose()


def create_app(settings: Settings | None = None, moderator: Moderator | None = None) -> FastAPI:
    """Build the service. Without arguments, settings come from the environment (workers)."""
    parent_watch.guard_from_env()  # a worker spawned by `serve` ends when `serve` dies
    settings = settings or Settings()
    if settings.store_url is None:
        raise RuntimeError("REDIS_URL is not set; start the service with `moderation serve`.")
    if moderator is None:
        configure_logging()
        moderator = load_moderator(settings.lexicon, settings.policy, settings.model_arg,
                                   model_threads=settings.model_threads,
                                   quantize=settings.quantize, warm=False)

    moderator.warm_up()  # idempotent; an injected moderator may not be warm yet

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        r = connect(settings.store_url, timeout=settings.redis_socket_timeout,
                    password_file=settings.redis_password_file)
        app.state.app_state = AppState.build(settings, moderator, r)
        reloader = app.state.lexicon_reloader = LexiconReloader(
            r, app.state.app_state.live, poll_s=settings.lexicon_poll_s)
        try:  # seed version 1 on a fresh store, serve the current version
            await reloader.start()
        except (StoreUnavailable, *UNREACHABLE):
            log.warning("lexicon versions not read at start (Redis unreachable); "
                        "the reload listener retries")
        # Everything loaded so far (jieba's dictionary, lexicon, model) lives for the whole
        # process: keep it out of the cyclic GC, whose full passes over it stall requests.
        gc.collect()
        gc.freeze()
        supervisor = build_supervisor(app.state.app_state)
        add_lexicon_reload(supervisor, reloader)
        supervisor.start()
        try:
            yield
        finally:
            # Bounded: a shutdown that waits forever on Redis would ignore every later SIGTERM.
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(_close(supervisor, r), timeout=5)

    app = FastAPI(
        title="portal-moderation",
        version="0.1.0",
        description="Content moderation for government portals. Every error is "
                    '`{"error": {"code", "message"}}`.',
        lifespan=lifespan,
        docs_url=None,  # FastAPI's pages load from a CDN; api.docs serves them offline
        redoc_url=None,
    )
    errors.install(app)
    for module in (moderate, items, auth, admin, health):
        app.include_router(module.router)
    app.include_router(review_routes.router)
    app.include_router(stats_routes.router)
    app.include_router(lexicon_routes.router)
    app.include_router(webhooks.router)  # admin: the webhook outbox
    app.include_router(ui_routes.router)  # the review pages (/review/…)
    app.include_router(ui_item_routes.router)
    app.include_router(ui_lexicon_routes.router)
    app.include_router(ui_admin_routes.router)
    app.mount("/review/static", StaticFiles(directory=UI_STATIC), name="review-static")
    docs.install(app)  # after the API's routes, which are matched first
    app.add_middleware(CompatDispatch)  # vendor SDK calls on `/` (inside the body limit)
    app.add_middleware(BodyLimit, default=settings.max_body_bytes,
                       overrides={"/v1/moderate/batch": settings.max_batch_body_bytes})
    app.add_middleware(JsonOnly)
    app.add_middleware(UiSecurityHeaders)  # CSP and friends on /review/ only
    app.add_middleware(AccessLog)  # added last = outermost: it sees the 413s of BodyLimit too
    return app
