"""Tencent Cloud TMS `TextModeration` (version 2020-12-29) on `/`.

Request: TC3-HMAC-SHA256 signed; POST with a JSON body or GET with query parameters;
`Content` base64 (decoded strictly as UTF-8, then at most 10,000 characters), `DataId`,
`BizType` (a channel name selects that channel), `User.UserId` (→ `author_ref`),
`Device.IP` (→ `ip`). Answer: `{"Response": {Suggestion, Label, SubLabel, Score,
Keywords, DetailResults, DataId, BizType, RequestId, …}}`. Every error is HTTP 200 with
`Response.Error {Code, Message}`: the SDK raises it as `TencentCloudSDKException`.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
import uuid
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse

from api.compat import items, labels, tc3
from api.compat.errors import CompatError
from api.compat.findings import Finding, findings
from api.state import AppState
from api.store.credentials import CredentialStore

ACTION = "TextModeration"
VERSION = "2020-12-29"
CODES = {
    "auth": "AuthFailure.SignatureFailure",
    "expired": "AuthFailure.SignatureExpire",
    "unknown_id": "AuthFailure.SecretIdNotFound",
    "invalid": "InvalidParameterValue",
    "bad_content": "InvalidParameterValue.ErrTextContentType",
    "too_long": "InvalidParameterValue.ErrTextContentLen",
    "empty": "InvalidParameterValue.ErrTextContentLen",
    "missing": "MissingParameter",
    "conflict": "ResourceInUse.DataId",
    "limited": "RequestLimitExceeded",
    "store": "InternalError",
    "action": "InvalidAction",
}


def error_response(exc: CompatError, rid: str) -> JSONResponse:
    code = exc.code or CODES.get(exc.kind, "InternalError")
    return JSONResponse({"Response": {"Error": {"Code": code, "Message": exc.message},
                                      "RequestId": rid}})


def _params(request: Request, body: bytes) -> dict[str, Any]:
    """The call's parameters: the JSON body (POST) or the flat query (GET form, where
    `User.UserId` names a nested field)."""
    if request.method == "GET":
        flat = parse_qsl(request.scope["query_string"].decode("latin-1"),
                         keep_blank_values=True)
        out: dict[str, Any] = {}
        for k, v in flat:
            head, _, rest = k.partition(".")
            if rest:
                out.setdefault(head, {})[rest] = v
            else:
                out[k] = v
        return out
    try:
        params = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise CompatError("invalid", "The body is not valid JSON.",
                          code="InvalidParameter") from None
    if not isinstance(params, dict):
        raise CompatError("invalid", "The body must be a JSON object.",
                          code="InvalidParameter")
    return params


def decode_content(value: Any) -> str:
    """`Content`: base64, strictly; the bytes strictly UTF-8."""
    if value is None or value == "":
        raise CompatError("missing", "The parameter Content is required.")
    if not isinstance(value, str):
        raise CompatError("bad_content", "Content must be a base64 string.")
    try:
        raw = base64.b64decode(value.encode("ascii"), validate=True)
        return raw.decode("utf-8")
    except (binascii.Error, ValueError, UnicodeError):
        raise CompatError("bad_content", "Content must be base64 of UTF-8 text.") from None


def _sub(params: dict[str, Any], name: str, field: str) -> str | None:
    obj = params.get(name)
    value = obj.get(field) if isinstance(obj, dict) else None
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise CompatError("invalid", f"{name}.{field} must be a string.")
    return value


def _detail(f: Finding, lib: str) -> dict[str, Any]:
    positions: dict[tuple[str, str], list[dict[str, int]]] = {}
    for h in f.hits:
        positions.setdefault((h.kind, h.keyword), []).append({"Start": h.start, "End": h.end})
    return {
        "Label": labels.TENCENT_LABELS[f.category], "SubLabel": f.category,
        "Suggestion": labels.TENCENT_SUGGESTION[f.decision], "Keywords": f.keywords,
        "Score": f.score, "LibType": 2 if "lexicon" in f.sources else 0,
        "LibId": "", "LibName": lib if "lexicon" in f.sources else "",
        "HitInfos": [{"Type": "Keyword" if kind == "lexicon" else "PII", "Keyword": kw,
                      "LibName": lib if kind == "lexicon" else "", "Positions": pos}
                     for (kind, kw), pos in positions.items()],
        "Tags": [],
    }


def answer(outcome: items.Outcome, biz_type: str, rid: str) -> dict[str, Any]:
    d = outcome.decision
    found = [f for f in findings(d) if f.category in labels.TENCENT_LABELS]
    versions = d.get("versions") or {}
    lib = f"lexicon@{versions.get('lexicon') or str(versions.get('lexicon_hash', ''))[:12]}"
    top = found[0] if found else None
    return {"Response": {
        "BizType": biz_type, "DataId": outcome.data_id,
        "Suggestion": labels.TENCENT_SUGGESTION[d["decision"]],
        "Label": labels.TENCENT_LABELS[top.category] if top else labels.TENCENT_PASS_LABEL,
        "SubLabel": top.category if top else "",
        "Score": top.score if top else 0,
        "Keywords": list(dict.fromkeys(k for f in found for k in f.keywords)),
        "DetailResults": [_detail(f, lib) for f in found],
        "RiskDetails": [], "Extra": "", "ContextText": "", "HitType": "",
        "RequestId": rid,
    }}


async def handle(request: Request, state: AppState, creds: CredentialStore, body: bytes,
                 rid: str) -> JSONResponse:
    try:
        return JSONResponse(await _handle(request, state, creds, body, rid))
    except CompatError as exc:
        return error_response(exc, rid)


async def _handle(request: Request, state: AppState, creds: CredentialStore, body: bytes,
                  rid: str) -> dict[str, Any]:
    h = request.headers
    auth = tc3.parse(h.get("authorization", ""))
    tc3.check_time(h.get("x-tc-timestamp", ""), auth.date, time.time())
    cred = await creds.live(auth.secret_id)
    if cred is None:
        raise CompatError("unknown_id", f"The SecretId {auth.secret_id} is not found.")
    method = request.method
    query = request.scope["query_string"].decode("latin-1") if method == "GET" else ""
    tc3.verify(auth, cred.secret_key, method=method, query=query,
               headers={k: h.get(k, "") for k in auth.signed_headers},
               payload=b"" if method == "GET" else body, timestamp=h["x-tc-timestamp"])
    if h.get("x-tc-action") != ACTION:
        raise CompatError("action", f"The action {h.get('x-tc-action')!r} is not supported; "
                          f"only {ACTION} is.")
    if h.get("x-tc-version") != VERSION:
        raise CompatError("action", f"Version {h.get('x-tc-version')!r} is not supported; "
                          f"use {VERSION}.", code="NoSuchVersion")
    params = _params(request, body)
    content = decode_content(params.get("Content"))
    data_id = params.get("DataId") or items.new_data_id("tc")
    biz_type = params.get("BizType") or ""
    if not isinstance(data_id, str) or not isinstance(biz_type, str):
        raise CompatError("invalid", "DataId and BizType must be strings.")
    outcome = await items.moderate_item(
        request, state, creds, cred, data_id=data_id,
        channel=items.channel_of(state, biz_type or None), content=content,
        author_ref=_sub(params, "User", "UserId"), ip=_sub(params, "Device", "IP"), rid=rid)
    return answer(outcome, biz_type, rid)


def request_id() -> str:
    return str(uuid.uuid4())
