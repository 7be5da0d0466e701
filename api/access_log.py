"""The request log: one JSON line per HTTP request on the `api.access` logger.

A pure ASGI middleware (no BaseHTTPMiddleware: that costs a task and a body copy on the hot
path). It logs what it sees itself (method, the route's path TEMPLATE, status, time) plus
what routes and dependencies `note` on the request (the API key's client, the session's
user, the decision and the item's status). It never logs the raw path, query string, body
or any header value but the request id, so no user text or personal data reaches the log.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

from fastapi import Depends, Request

from api.deps import ClientAuth, ClientDep, SessionDep
from api.store.users import Session

log = logging.getLogger("api.access")
#: The scope key of the dict that routes fill with `note` (shared by reference with every
#: scope copy made below the middleware).
FIELDS = "access_log"
REQUEST_ID = b"x-request-id"


def note(request: Request, **fields: Any) -> None:
    """Add ids or outcomes to this request's log line (never text or personal data)."""
    request.scope.setdefault(FIELDS, {}).update(fields)


async def _note_client(request: Request, auth: ClientDep) -> ClientAuth:
    note(request, client=auth.caller.client)
    return auth


async def _note_user(request: Request, session: SessionDep) -> Session:
    note(request, user=session.username)
    return session


#: Route dependencies that log the caller; FastAPI caches the authentication they share with
#: the route, so a request is authenticated (and rate-counted) once.
LogClient = Depends(_note_client)
LogUser = Depends(_note_user)


def valid_request_id(raw: bytes) -> str | None:
    """The caller's X-Request-ID when it is a sane id (the same rule as the moderate route)."""
    rid = raw.decode("latin-1")
    if 0 < len(rid) <= 128 and rid.replace("-", "").replace("_", "").isalnum():
        return rid
    return None


def route_template(scope: dict[str, Any]) -> str | None:
    """`/v1/items/{data_id}`, not the raw path (which may hold anything); None when no
    route matched (404)."""
    route = scope.get("route")
    if route is not None:
        return getattr(route, "path_format", None)
    mounted = scope.get("root_path", "")[len(scope.get("app_root_path", "")):]
    if mounted and "endpoint" in scope:  # a Mount (static files) records only its root_path
        return f"{mounted}/{{path}}"
    return None


class AccessLog:
    """Log one line when each HTTP response has been sent (or the app failed)."""

    def __init__(self, app) -> None:  # noqa: ANN001
        self.app = app

    async def __call__(self, scope, receive, send) -> None:  # noqa: ANN001
        if scope["type"] != "http" or not log.isEnabledFor(logging.INFO):
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        fields: dict[str, Any] = {}
        scope[FIELDS] = fields
        status = 500  # what the server answers when the app raises before responding
        rid: str | None = None

        async def logged_send(message) -> None:  # noqa: ANN001
            nonlocal status, rid
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", ()))
                rid = next((v.decode("latin-1") for k, v in headers
                            if k.lower() == REQUEST_ID), None)
                if rid is None:  # routes other than /v1/moderate* do not set one
                    rid = _incoming_id(scope) or uuid.uuid4().hex
                    message = {**message, "headers": [*headers, (REQUEST_ID, rid.encode())]}
            await send(message)

        try:
            await self.app(scope, receive, logged_send)
        finally:
            line = {"request_id": rid or _incoming_id(scope) or uuid.uuid4().hex,
                    "method": scope["method"], "route": route_template(scope),
                    "status": status, "ms": round((time.perf_counter() - t0) * 1000, 2)}
            for key, value in fields.items():
                line.setdefault(key, value)  # what routes noted, never replacing the above
            log.info("request", extra=line)


def _incoming_id(scope: dict[str, Any]) -> str | None:
    for name, value in scope["headers"]:
        if name == REQUEST_ID:
            return valid_request_id(value)
    return None
