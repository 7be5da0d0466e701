"""Alibaba Cloud RPC signature v1 (HMAC-SHA1), as the SDK signs with
`Config(signature_algorithm="v2")`.

Every parameter (query and form body together, `Signature` left out) is sorted and
percent-encoded (`~` kept), joined with `&`, and signed as `METHOD&%2F&<encoded string>`
with the key `secret + "&"`; the signature is base64. `Timestamp` and `SignatureNonce` are
signed parameters, so the freshness and replay checks cover them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from api.compat.errors import CompatError
from api.compat.percent import quote, quote_encoded

REQUIRED = ("AccessKeyId", "Signature", "SignatureMethod", "SignatureVersion",
            "SignatureNonce", "Timestamp", "Action", "Version")


def fields(params: list[tuple[str, str]]) -> dict[str, str]:
    """The signature's parameters by name; a missing or repeated one is refused."""
    out: dict[str, str] = {}
    for k, v in params:
        if k in out:
            raise CompatError("invalid", f"The parameter {k} is given twice.",
                              code="InvalidParameter")
        out[k] = v
    missing = [k for k in REQUIRED if not out.get(k)]
    if missing:
        raise CompatError("auth", f"The request lacks {', '.join(missing)}.",
                          code="IncompleteSignature")
    if out["SignatureMethod"] != "HMAC-SHA1" or out["SignatureVersion"] != "1.0":
        raise CompatError("auth", "Only SignatureMethod HMAC-SHA1 with SignatureVersion 1.0 "
                          "is supported for RPC signatures.", code="IncompleteSignature")
    return out


def signature(secret: str, method: str, params: dict[str, str]) -> str:
    query = "&".join(f"{quote(k)}={quote(v)}" for k, v in sorted(params.items())
                     if k != "Signature")
    to_sign = f"{method}&%2F&{quote_encoded(query)}"
    digest = hmac.new((secret + "&").encode("utf-8"), to_sign.encode("utf-8"),
                      hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def verify(secret: str, method: str, params: dict[str, str]) -> None:
    if not hmac.compare_digest(signature(secret, method, params).encode(),
                               params["Signature"].encode()):
        raise CompatError("auth", "The request signature does not match: check the "
                          "AccessKeySecret and the signing method.")
