"""Body size cap as a pure ASGI middleware (cheap on the hot path, before any parsing)."""

from __future__ import annotations

import json

from api.errors import ApiError


class BodyLimit:
    """Refuse bodies over `default` bytes (or the per-path override) with 413."""

    def __init__(self, app, *, default: int, overrides: dict[str, int]) -> None:  # noqa: ANN001
        self.app = app
        self.default = default
        self.overrides = overrides

    async def __call__(self, scope, receive, send) -> None:  # noqa: ANN001
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        limit = self.overrides.get(scope["path"], self.default)
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    too_big = int(value) > limit
                except ValueError:
                    too_big = False
                if too_big:
                    await _send_413(send, limit)
                    return
        seen = 0
        exceeded = False

        async def counted():  # noqa: ANN202
            nonlocal seen, exceeded
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    exceeded = True
                    raise ApiError(413, "body_too_large", _message(limit))
            return message

        async def guarded_send(message) -> None:  # noqa: ANN001
            # FastAPI wraps errors raised while reading a body into a 400; answer 413 instead.
            if not exceeded:
                await send(message)
            elif message["type"] == "http.response.start":
                await _send_413(send, limit)

        await self.app(scope, counted, guarded_send)


def _message(limit: int) -> str:
    return f"The body is larger than {limit} bytes."


async def _send_413(send, limit: int) -> None:  # noqa: ANN001
    payload = json.dumps({"error": {"code": "body_too_large", "message": _message(limit)}})
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(payload)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": payload.encode()})
