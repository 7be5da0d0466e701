"""Alibaba Cloud signature v3 (ACS3-HMAC-SHA256), as the `alibabacloud-tea-openapi` SDK
signs by default.

`Authorization: ACS3-HMAC-SHA256 Credential=AK,SignedHeaders=h1;h2,Signature=hex`. The
canonical request is method, `/`, the sorted query (values percent-encoded, `~` kept), each
signed header `name:value` (trimmed; repeated headers sorted and joined by `,`), the signed
names, and `x-acs-content-sha256`, which must be the SHA-256 of the raw body received. The
SDK signs every header it sends (host, user-agent, accept, content-type, `x-acs-*`); the
service insists on the ones that make a request unique and fresh.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from calendar import timegm
from dataclasses import dataclass
from datetime import UTC, datetime
from time import strptime

from api.compat.errors import CompatError
from api.compat.percent import quote

ALGORITHM = "ACS3-HMAC-SHA256"
MAX_SKEW_S = 900  # Aliyun refuses timestamps more than 15 minutes off
REQUIRED = ("host", "x-acs-action", "x-acs-version", "x-acs-date", "x-acs-signature-nonce",
            "x-acs-content-sha256")
_TIME_RE = re.compile(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)Z")
_AUTH_RE = re.compile(r"^ACS3-HMAC-SHA256\s+Credential=([^,\s]{1,128}),\s*"
                      r"SignedHeaders=([a-z0-9;_-]+),\s*Signature=([0-9a-f]{64})$")


@dataclass(frozen=True, slots=True)
class Acs3Auth:
    access_key_id: str
    signed_headers: tuple[str, ...]
    signature: str


def parse(authorization: str) -> Acs3Auth:
    m = _AUTH_RE.match(authorization.strip())
    if m is None:
        raise CompatError("auth", "The Authorization header is not an ACS3-HMAC-SHA256 "
                          "signature.", code="IncompleteSignature")
    ak, signed, sig = m.groups()
    names = tuple(signed.split(";"))
    missing = [h for h in REQUIRED if h not in names]
    if missing:
        raise CompatError("auth", f"SignedHeaders must include {', '.join(missing)}.",
                          code="IncompleteSignature")
    return Acs3Auth(ak, names, sig)


def parse_time(value: str) -> int:
    """Unix seconds of an ISO 8601 UTC time `YYYY-MM-DDThh:mm:ssZ` (both signatures use it).
    The SDKs' exact form is read by a regular expression (`strptime` alone was a tenth of
    the signature check); anything else goes to `strptime`, which decides as before."""
    m = _TIME_RE.fullmatch(value)
    if m is not None:
        try:
            return int(datetime(*map(int, m.groups()), tzinfo=UTC).timestamp())
        except ValueError:
            pass
    try:
        return timegm(strptime(value, "%Y-%m-%dT%H:%M:%SZ"))
    except (ValueError, OverflowError):
        raise CompatError("invalid", "The timestamp must be YYYY-MM-DDThh:mm:ssZ (UTC).",
                          code="InvalidTimeStamp.Format") from None


def check_time(value: str, now: float) -> None:
    if abs(now - parse_time(value)) > MAX_SKEW_S:
        raise CompatError("expired", f"The timestamp {value} is more than {MAX_SKEW_S} "
                          "seconds from the server time.")


def canonical_query(params: list[tuple[str, str]]) -> str:
    return "&".join(f"{k}={quote(v)}" for k, v in sorted(params))


def signature(secret: str, *, method: str, params: list[tuple[str, str]],
              headers: list[tuple[str, str]], signed_headers: tuple[str, ...],
              content_sha256: str) -> str:
    """The hex ACS3 signature (`headers`: lower-case name/value pairs as received)."""
    values: dict[str, list[str]] = {}
    for name, value in headers:
        if name in signed_headers:
            values.setdefault(name, []).append(value.strip())
    canon_headers = "".join(f"{h}:{','.join(sorted(values.get(h, [])))}\n"
                            for h in sorted(signed_headers))
    canonical = "\n".join((method, "/", canonical_query(params), canon_headers,
                           ";".join(sorted(signed_headers)), content_sha256))
    to_sign = f"{ALGORITHM}\n{hashlib.sha256(canonical.encode('utf-8')).hexdigest()}"
    return hmac.new(secret.encode("utf-8"), to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def verify(auth: Acs3Auth, secret: str, *, body: bytes, content_sha256: str,
           **request: object) -> None:
    if not hmac.compare_digest(hashlib.sha256(body).hexdigest(), content_sha256.lower()):
        raise CompatError("auth", "x-acs-content-sha256 is not the SHA-256 of the body.")
    expected = signature(secret, signed_headers=auth.signed_headers,
                         content_sha256=content_sha256, **request)  # type: ignore[arg-type]
    if not hmac.compare_digest(expected, auth.signature):
        raise CompatError("auth", "The request signature does not match: check the "
                          "AccessKeySecret and the signing method.")
