"""Tencent Cloud API signature v3 (TC3-HMAC-SHA256), as `tencentcloud-sdk-python` signs.

Canonical request: method, `/`, the raw query string (GET form; empty for POST), the
signed headers (`content-type;host`, as sent), and the SHA-256 of the raw body (empty for
GET). The key is derived from the secret key, the UTC date of `X-TC-Timestamp` and the
service (`tms`). Checked here on the bytes received, never on a re-serialized body.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from api.compat.errors import CompatError

ALGORITHM = "TC3-HMAC-SHA256"
SERVICE = "tms"
MAX_SKEW_S = 300  # Tencent refuses timestamps more than 5 minutes off
_AUTH_RE = re.compile(
    r"^TC3-HMAC-SHA256 Credential=([^/,\s]{1,128})/(\d{4}-\d{2}-\d{2})/([a-z0-9]+)/tc3_request,"
    r"\s*SignedHeaders=([a-z0-9;-]+),\s*Signature=([0-9a-f]{64})$")


@dataclass(frozen=True, slots=True)
class Tc3Auth:
    secret_id: str
    date: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str


def parse(authorization: str) -> Tc3Auth:
    """The parts of an `Authorization: TC3-HMAC-SHA256 …` header, else a refusal."""
    m = _AUTH_RE.match(authorization.strip())
    if m is None:
        raise CompatError("auth", "The Authorization header is not a TC3-HMAC-SHA256 "
                          "signature.", code="AuthFailure.InvalidAuthorization")
    secret_id, date, service, signed, signature = m.groups()
    headers = tuple(signed.split(";"))
    if service != SERVICE:
        raise CompatError("auth", f"The credential scope names service {service!r}; this "
                          f"endpoint is {SERVICE!r}.", code="AuthFailure.InvalidAuthorization")
    if "content-type" not in headers or "host" not in headers:
        raise CompatError("auth", "SignedHeaders must include content-type and host.",
                          code="AuthFailure.InvalidAuthorization")
    return Tc3Auth(secret_id, date, service, headers, signature)


def check_time(timestamp: str, date: str, now: float) -> None:
    """`X-TC-Timestamp` within 5 minutes of now, and the scope's date its UTC day."""
    if not timestamp.isdigit() or len(timestamp) > 12:
        raise CompatError("auth", "X-TC-Timestamp must be Unix seconds.",
                          code="InvalidParameter")
    ts = int(timestamp)
    if abs(now - ts) > MAX_SKEW_S:
        raise CompatError("expired", f"The signature timestamp {ts} is more than "
                          f"{MAX_SKEW_S} seconds from the server time {int(now)}.")
    if datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d") != date:
        raise CompatError("auth", "The credential scope date is not the UTC date of "
                          "X-TC-Timestamp.", code="AuthFailure.SignatureFailure")


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


def _header_value(name: str, value: str) -> str:
    """A signed header's canonical value: trimmed; content-type in lower case (Tencent)."""
    value = value.strip()
    return value.lower() if name == "content-type" else value


def signature(secret_key: str, *, method: str, query: str, headers: dict[str, str],
              signed_headers: tuple[str, ...], payload: bytes, timestamp: str, date: str,
              service: str = SERVICE) -> str:
    """The hex TC3 signature of a request (`headers`: lower-case names, values as sent)."""
    canonical_headers = "".join(f"{h}:{_header_value(h, headers.get(h, ''))}\n"
                                for h in signed_headers)
    canonical = "\n".join((method, "/", query, canonical_headers, ";".join(signed_headers),
                           hashlib.sha256(payload).hexdigest()))
    scope = f"{date}/{service}/tc3_request"
    to_sign = "\n".join((ALGORITHM, timestamp, scope,
                         hashlib.sha256(canonical.encode("utf-8")).hexdigest()))
    k = _hmac(("TC3" + secret_key).encode("utf-8"), date)
    k = _hmac(k, service)
    k = _hmac(k, "tc3_request")
    return hmac.new(k, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def verify(auth: Tc3Auth, secret_key: str, **request: object) -> None:
    """Refuse (`AuthFailure.SignatureFailure`) unless the signature matches."""
    expected = signature(secret_key, signed_headers=auth.signed_headers, date=auth.date,
                         service=auth.service, **request)  # type: ignore[arg-type]
    if not hmac.compare_digest(expected, auth.signature):
        raise CompatError("auth", "The request signature does not match: check the "
                          "SecretKey and the signing method.")
