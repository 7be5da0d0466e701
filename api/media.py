"""Refuse request bodies that are not JSON (415) as a pure ASGI middleware.

Every body the `/v1` routes read is JSON; parsing a `text/plain` or form body as JSON
anyway would hide client bugs and let a browser form post to the API without a CORS
preflight. Only the header is looked at (no parsing, no body read), so the hot path pays one
scan of the request headers.
"""

from __future__ import annotations

import json

JSON_TYPE = b"application/json"
BODY_METHODS = frozenset(("POST", "PUT", "PATCH"))


def _is_json(content_type: bytes) -> bool:
    """`application/json`, with or without parameters (`; charset=utf-8`), in any case."""
    return content_type.split(b";", 1)[0].strip().lower() == JSON_TYPE


class JsonOnly:
    """415 `unsupported_media_type` for a POST/PUT/PATCH under `prefix` that carries a body
    whose Content-Type is missing or not `application/json`. A request without a body
    (`/v1/auth/logout`) passes."""

    def __init__(self, app, *, prefix: str = "/v1/") -> None:  # noqa: ANN001
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope, receive, send) -> None:  # noqa: ANN001
        if (scope["type"] != "http" or scope["method"] not in BODY_METHODS
                or not scope["path"].startswith(self.prefix)):
            await self.app(scope, receive, send)
            return
        content_type = None
        has_body = False
        for name, value in scope["headers"]:
            if name == b"content-type":
                content_type = value
            elif name == b"content-length":
                has_body = value.strip() not in (b"", b"0")
            elif name == b"transfer-encoding":
                has_body = True
        if not has_body or (content_type is not None and _is_json(content_type)):
            await self.app(scope, receive, send)
            return
        await _send_415(send, content_type)


async def _send_415(send, content_type: bytes | None) -> None:  # noqa: ANN001
    got = "no Content-Type" if content_type is None else "Content-Type " + repr(
        content_type.decode("latin-1")[:100])
    payload = json.dumps({"error": {
        "code": "unsupported_media_type",
        "message": f"The body must be JSON sent as Content-Type: application/json (got {got}).",
    }}).encode()
    await send({"type": "http.response.start", "status": 415,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(payload)).encode())]})
    await send({"type": "http.response.body", "body": payload})
