"""Security headers of the review pages (`/review/…`), as a pure ASGI middleware.

The pages show hostile user text, so the browser is told to run only the service's own
script file and load nothing from elsewhere: `script-src 'self'` (no inline script, no
eval), `style-src 'self'` (no inline style: the templates use classes only), `object-src
'none'`, `frame-ancestors 'none'` (no clickjacking), `form-action 'self'`, `base-uri
'none'`. `/docs` and `/redoc` are left alone: Swagger's page needs an inline script.
"""

from __future__ import annotations

PREFIX = "/review"

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
       "frame-ancestors 'none'; form-action 'self'")

HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
)
NO_STORE = (b"cache-control", b"no-store")  # pages hold personal data: never cached
STATIC = PREFIX + "/static/"


def applies(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


class UiSecurityHeaders:
    """Adds `HEADERS` to every response under `/review` (and `no-store` to pages)."""

    def __init__(self, app) -> None:  # noqa: ANN001
        self.app = app

    async def __call__(self, scope, receive, send) -> None:  # noqa: ANN001
        if scope["type"] != "http" or not applies(scope["path"]):
            await self.app(scope, receive, send)
            return
        page = not scope["path"].startswith(STATIC)

        async def send_with_headers(message) -> None:  # noqa: ANN001
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                extra = [h for h in HEADERS if h[0] not in names]
                if page and NO_STORE[0] not in names:
                    extra.append(NO_STORE)
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)
