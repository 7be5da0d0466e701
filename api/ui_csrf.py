"""CSRF protection and form bodies of the review pages.

Every form carries a token the page was rendered with, checked before anything changes:

- Logged in: the token is HMAC-SHA256 keyed by the session token (which only the browser's
  HttpOnly cookie holds), so it is per session, needs no storage, dies with the session,
  and another site can neither read nor compute it.
- The login form (no session yet): double submit; a random `csrf_login` cookie
  (HttpOnly, SameSite=Strict) must equal the form's hidden field.

The session cookie is SameSite=Strict as well: the token is the second, independent lock.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from urllib.parse import parse_qs

from fastapi import Request

LOGIN_COOKIE = "csrf_login"
FORM_TYPE = "application/x-www-form-urlencoded"


class CsrfError(Exception):
    """A form without the right token (or not a form at all)."""


def session_token(session_token_value: str) -> str:
    """The CSRF token of a session."""
    return hmac.new(session_token_value.encode(), b"review-ui-csrf",
                    hashlib.sha256).hexdigest()


def new_login_token() -> str:
    return secrets.token_urlsafe(32)


async def form(request: Request) -> dict[str, str]:
    """The fields of an urlencoded form body (first value of each), else `CsrfError`."""
    ctype = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if ctype != FORM_TYPE:
        raise CsrfError("not a form post")
    raw = (await request.body()).decode("utf-8", errors="replace")
    return {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}


def check(expected: str | None, fields: dict[str, str]) -> None:
    got = fields.get("csrf", "")
    if not expected or not got or not hmac.compare_digest(expected.encode(), got.encode()):
        raise CsrfError("missing or wrong CSRF token")
