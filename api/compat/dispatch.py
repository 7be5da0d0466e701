"""Route vendor SDK calls on `/` to their handlers, as a pure ASGI middleware.

Both vendors' SDKs always call `/` on the endpoint (a path in the endpoint breaks their
signatures), so the service tells them apart by header: `X-TC-Action` is Tencent Cloud TMS,
`x-acs-action` Alibaba Cloud Green. A middleware rather than a route at `/`: requests to
`/` without those headers go on to the app untouched (a web page at `/` stays possible),
and no FastAPI error handler can answer a vendor call in the service's own error form.
The body limit (`api.limits.BodyLimit`) sits outside this middleware and applies too.
"""

from __future__ import annotations

import logging

from starlette.requests import Request

from api.compat import aliyun, tencent
from api.compat.errors import CompatError
from api.secretbox import SecretBox
from api.state import AppState
from api.store.credentials import CredentialStore

log = logging.getLogger("api.compat")
TENCENT = b"x-tc-action"
ALIYUN = b"x-acs-action"


def _vendor(scope: dict) -> bytes | None:
    for name, _ in scope["headers"]:
        if name in (TENCENT, ALIYUN):
            return name
    return None


def credentials_of(app: object, state: AppState) -> CredentialStore:
    """This process's credential store (built on first use: it reads the secrets key)."""
    store = getattr(app.state, "compat_credentials", None)  # type: ignore[attr-defined]
    if store is None or store.r is not state.redis:
        store = CredentialStore(state.redis, SecretBox.from_file(state.settings.secrets_key_path))
        app.state.compat_credentials = store  # type: ignore[attr-defined]
    return store


class CompatDispatch:
    def __init__(self, app) -> None:  # noqa: ANN001
        self.app = app

    async def __call__(self, scope, receive, send) -> None:  # noqa: ANN001
        vendor = _vendor(scope) if scope["type"] == "http" and scope["path"] == "/" else None
        if vendor is None or scope["method"] not in ("GET", "POST"):
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        rid = tencent.request_id()
        body = await request.body()
        state: AppState = scope["app"].state.app_state
        creds = credentials_of(scope["app"], state)
        handler = tencent.handle if vendor == TENCENT else aliyun.handle
        try:
            response = await handler(request, state, creds, body, rid)
        except Exception:  # never a 500 page a vendor SDK cannot read
            log.exception("compatibility call failed", extra={"request_id": rid})
            error = CompatError("store", "Internal error; retry.")
            response = (tencent.error_response(error, rid) if vendor == TENCENT
                        else aliyun.error_response(error, rid, request.headers.get("host", "")))
            response.status_code = 500 if vendor == ALIYUN else 200
        response.headers["X-Request-ID"] = rid
        await response(scope, receive, send)
