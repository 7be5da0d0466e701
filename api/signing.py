"""The webhook signature: `X-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>`.

The HMAC is over `"<t>.<raw body>"` under the client's signing secret (the whole secret
string, UTF-8, as `moderation webhook set` printed it). The time is signed with the body
so a receiver can refuse a replayed old request (`verify`'s tolerance), and the body is
signed as the raw bytes sent, so the receiver must check it BEFORE parsing the JSON.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

SECRET_PREFIX = "whsec_"
HEADER = "X-Signature"
DELIVERY_HEADER = "X-Delivery-Id"


def new_secret() -> str:
    """A new signing secret: 32 random bytes, URL-safe, with a recognizable prefix."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def signature(secret: str, t: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of `"<t>.<body>"` under `secret`."""
    return hmac.new(secret.encode("utf-8"), str(t).encode("ascii") + b"." + body,
                    hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, t: int | None = None) -> str:
    """The `X-Signature` header value for `body` sent at `t` (now by default)."""
    t = int(time.time()) if t is None else t
    return f"t={t},v1={signature(secret, t, body)}"


def verify(secret: str, header: str, body: bytes, *, tolerance_s: int = 300,
           now: float | None = None) -> bool:
    """Whether `header` signs `body` under `secret` within `tolerance_s` of now (the check
    a portal runs; the README shows the same in a few lines)."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        t = int(parts["t"])
    except (KeyError, ValueError):
        return False
    now = time.time() if now is None else now
    if abs(now - t) > tolerance_s:
        return False
    return hmac.compare_digest(parts.get("v1", ""), signature(secret, t, body))
