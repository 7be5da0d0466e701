"""The ONE place that turns errors into HTTP answers `{"error": {"code", "message"}}`.

Library errors (`moderation.errors`), store errors (`api.store.errors`), request
validation and unknown routes all end here, so no raw exception text (and no user text)
ever reaches a client, and bad input is never a 500.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from redis import exceptions as rexc
from starlette.exceptions import HTTPException as StarletteHTTPException

from api import metrics
from api.store import errors as se
from api.store.connection import failing_over, is_full, store_full
from api.store.lexicon_versions import LexiconInvalid, LexiconStale
from moderation.errors import InputError, ModerationError

log = logging.getLogger("api")

STORE_STATUS: dict[type[se.StoreError], int] = {
    se.StoreUnavailable: 503,
    se.StoreFull: 503,
    se.DataIdConflict: 409,
    se.NotFound: 404,
    se.Conflict: 409,
    se.InvalidName: 422,
    se.Unauthorized: 401,
    se.RateLimited: 429,
    se.NonceUsed: 409,
    se.BatchExceedsRateLimit: 422,
    se.ReviewConflict: 409,
    LexiconStale: 409,
    LexiconInvalid: 422,
    se.DeliveryInFlight: 409,
}

HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
              405: "method_not_allowed", 413: "body_too_large", 415: "unsupported_media_type",
              429: "rate_limited", 503: "unavailable"}


class ApiError(Exception):
    """Raised by routes and dependencies for an answer with a code (never below them)."""

    def __init__(self, status: int, code: str, message: str, *,
                 headers: dict[str, str] | None = None, extra: dict[str, Any] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers
        self.extra = extra or {}


def body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}, **extra}


def respond(status: int, code: str, message: str, *, headers: dict[str, str] | None = None,
            **extra: Any) -> JSONResponse:
    return JSONResponse(body(code, message, **extra), status_code=status, headers=headers)


def store_error_status(exc: se.StoreError) -> tuple[int, dict[str, str] | None]:
    status = STORE_STATUS.get(type(exc), 500)
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, se.RateLimited) else None
    if isinstance(exc, se.Unauthorized):
        headers = {"WWW-Authenticate": "Bearer"}
    return status, headers


def validation_error(errors: list[dict[str, Any]]) -> tuple[int, str, str]:
    """(status, code, message) for pydantic errors, naming the field but never its value."""
    if not errors:
        return 422, "invalid_request", "The request is not valid."
    first = errors[0]
    kind = str(first.get("type", ""))
    loc = [str(p) for p in first.get("loc", ()) if p != "body"]
    field = ".".join(loc)
    if kind == "json_invalid":
        return 400, "invalid_json", "The body is not valid JSON."
    if not field:
        return 422, "invalid_request", "The body must be a JSON object."
    if loc[-1] == "data_id" and kind != "missing":
        return 422, "invalid_data_id", ("data_id must be 1-128 characters of letters, digits, "
                                        "'.', '_', ':' or '-'.")
    if kind == "invalid_callback_url":
        return 422, kind, str(first.get("msg", "callback_url is not allowed."))
    if kind == "missing":
        return 422, "missing_field", f"{field} is required."
    if kind.endswith("_type") or kind in {"string_type", "int_parsing", "bool_parsing"}:
        return 422, "invalid_type", f"{field}: {first.get('msg', 'wrong type')}."
    if kind in {"too_long", "string_too_long"}:
        return 422, "field_too_long", f"{field}: {first.get('msg', 'too long')}."
    if kind == "too_short" and loc[-1] == "items":
        return 422, "empty_batch", "items must hold at least one item."
    return 422, "invalid_field", f"{field}: {first.get('msg', 'invalid value')}."


def install(app: FastAPI) -> None:
    """Register the handlers on an app."""

    @app.exception_handler(ApiError)
    async def _api(_: Request, exc: ApiError) -> JSONResponse:
        return respond(exc.status, exc.code, exc.message, headers=exc.headers, **exc.extra)

    @app.exception_handler(se.StoreError)
    async def _store(_: Request, exc: se.StoreError) -> JSONResponse:
        if isinstance(exc, se.StoreFull):
            metrics.STORE_FULL.inc()
        status, headers = store_error_status(exc)
        return respond(status, exc.code, exc.message, headers=headers,
                       **getattr(exc, "extra", {}))

    @app.exception_handler(rexc.ResponseError)
    async def _response(request: Request, exc: rexc.ResponseError) -> JSONResponse:
        # Store calls outside `unavailable()` (accounts, sessions) still reach here raw: an
        # OOM is `store_full` like any other, every other Redis error stays a logged 500.
        if is_full(exc):
            return await _store(request, store_full())
        if failing_over(exc):  # a demoted primary (READONLY) or a cut replica (MASTERDOWN)
            return await _unreachable(request, exc)
        return await _unexpected(request, exc)

    async def _unreachable(_: Request, exc: Exception) -> JSONResponse:
        return respond(503, "store_unavailable", "The store (Redis) is unreachable.")

    app.add_exception_handler(rexc.ConnectionError, _unreachable)
    app.add_exception_handler(rexc.TimeoutError, _unreachable)

    @app.exception_handler(InputError)
    async def _input(_: Request, exc: InputError) -> JSONResponse:
        return respond(422, exc.code, exc.message)

    @app.exception_handler(ModerationError)
    async def _moderation(_: Request, exc: ModerationError) -> JSONResponse:
        log.error("moderation error %s", exc.code)
        return respond(500, exc.code, exc.message)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        status, code, message = validation_error(list(exc.errors()))
        return respond(status, code, message)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = HTTP_CODES.get(exc.status_code, "http_error")
        message = exc.detail if isinstance(exc.detail, str) else "Request failed."
        return respond(exc.status_code, code, message, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error %s", type(exc).__name__)
        return respond(500, "internal_error", "Internal error; it has been logged.")
