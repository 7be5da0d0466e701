"""Alibaba Cloud Green `TextModeration` and `TextModerationPlus` (version 2022-03-02) on `/`.

Request: RPC style, form-encoded `Service` and `ServiceParameters` (a JSON string with
`content`, `dataId`, `accountId` → `author_ref`), signed with ACS3-HMAC-SHA256 (the SDK's
default) or the v1 HMAC-SHA1 RPC signature (`signature_algorithm="v2"`). Both carry a
timestamp (15 minutes of skew at most) and a nonce that is refused when reused.
Signature errors are HTTP 4xx `{RequestId, Code, Message}`; business errors HTTP 200 with
`Code` ≠ 200. `TextModeration` answers camelCase `Data{labels, reason, dataId}`;
`TextModerationPlus` PascalCase `Data{RiskLevel, Score, Result[…], DataId}`.
"""

from __future__ import annotations

import json
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from api.compat import acs3, items, labels, percent, rpc_v1
from api.compat.errors import CompatError
from api.compat.findings import findings
from api.state import AppState
from api.store.credentials import CredentialStore, LiveCredential
from api.store.items import NonceClaim

ACTIONS = ("TextModeration", "TextModerationPlus")
VERSION = "2022-03-02"
NONCE_TTL_S = 2 * acs3.MAX_SKEW_S + 60  # a nonce is kept while its timestamp is acceptable
NONCE_USED = "The signature nonce was already used; each request needs a new one."
# Refusals by the gateway: HTTP status and code (the SDK raises ClientException).
GATEWAY = {
    "auth": (400, "SignatureDoesNotMatch"),
    "expired": (400, "InvalidTimeStamp.Expired"),
    "unknown_id": (404, "InvalidAccessKeyId.NotFound"),
    "replay": (400, "SignatureNonceUsed"),
    "limited": (400, "Throttling.User"),
    "action": (400, "InvalidAction.NotFound"),
}
# Business errors: HTTP 200 with this `Code` in the body.
BUSINESS = {"invalid": 400, "bad_content": 400, "too_long": 400, "empty": 400,
            "missing": 400, "conflict": 409, "store": 500}
STATUS_OF_CODE = {"IncompleteSignature": 400, "InvalidTimeStamp.Format": 400,
                  "InvalidParameter": 400, "InvalidVersion": 400}


def error_response(exc: CompatError, rid: str, host: str) -> JSONResponse:
    if exc.kind in BUSINESS and exc.code is None:
        return JSONResponse({"Code": BUSINESS[exc.kind], "Message": exc.message,
                             "RequestId": rid})
    status, code = GATEWAY.get(exc.kind, (400, "InvalidParameter"))
    if exc.code is not None:
        code = exc.code
        status = STATUS_OF_CODE.get(code, status)
    return JSONResponse({"RequestId": rid, "HostId": host, "Code": code,
                         "Message": exc.message}, status_code=status)


def _form(body: bytes) -> list[tuple[str, str]]:
    try:
        return percent.parse_form(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise CompatError("invalid", "The body must be a UTF-8 form (application/"
                          "x-www-form-urlencoded).", code="InvalidParameter") from None


async def _authenticate(request: Request, creds: CredentialStore, body: bytes,
                        form: list[tuple[str, str]]
                        ) -> tuple[LiveCredential, str, str, NonceClaim]:
    """Check the signature (ACS3 or RPC v1) and time: (credential, action, version, nonce).
    The nonce is claimed by the item's own Lua call (`ItemStore.create`), not here: one
    Redis round trip per call, and a reused nonce still writes nothing."""
    h = request.headers
    query = percent.parse_form(request.scope["query_string"].decode("latin-1"), "replace")
    now = time.time()
    authorization = h.get("authorization", "")
    if authorization.startswith(acs3.ALGORITHM):
        auth = acs3.parse(authorization)
        acs3.check_time(h.get("x-acs-date", ""), now)
        cred = await _live(creds, auth.access_key_id)
        acs3.verify(auth, cred.secret_key, body=body,
                    content_sha256=h.get("x-acs-content-sha256", ""), method=request.method,
                    params=query, headers=[(k.decode("latin-1"), v.decode("latin-1"))
                                           for k, v in request.scope["headers"]])
        nonce, action, version = (h["x-acs-signature-nonce"], h["x-acs-action"],
                                  h["x-acs-version"])
    elif any(k == "Signature" for k, _ in query):
        params = rpc_v1.fields(query + form)
        acs3.check_time(params["Timestamp"], now)
        cred = await _live(creds, params["AccessKeyId"])
        rpc_v1.verify(cred.secret_key, request.method, params)
        nonce, action, version = params["SignatureNonce"], params["Action"], params["Version"]
    else:
        raise CompatError("auth", "The request is not signed (ACS3-HMAC-SHA256 or the RPC "
                          "HMAC-SHA1 signature).", code="IncompleteSignature")
    if len(nonce) > 128 or creds.nonce_seen(cred.secret_id, nonce):
        raise CompatError("replay", NONCE_USED)
    return cred, action, version, NonceClaim(cred.secret_id, nonce, NONCE_TTL_S)


async def _live(creds: CredentialStore, access_key_id: str) -> LiveCredential:
    cred = await creds.live(access_key_id)
    if cred is None:
        raise CompatError("unknown_id", f"Specified access key is not found: {access_key_id}.")
    return cred


def _service_parameters(form: list[tuple[str, str]]) -> tuple[str, dict[str, Any]]:
    fields = dict(form)
    service = fields.get("Service", "")
    try:
        sp = json.loads(fields.get("ServiceParameters") or "")
    except ValueError:
        raise CompatError("invalid", "ServiceParameters must be a JSON object.") from None
    if not isinstance(sp, dict):
        raise CompatError("invalid", "ServiceParameters must be a JSON object.")
    return service, sp


def _str_or_none(sp: dict[str, Any], name: str) -> str | None:
    value = sp.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise CompatError("invalid", f"ServiceParameters.{name} must be a string.")
    return value


def text_moderation(outcome: items.Outcome, account_id: str | None) -> dict[str, Any]:
    d = outcome.decision
    found = findings(d)
    words = list(dict.fromkeys(k for f in found for k in f.keywords))
    reason: dict[str, Any] = {"riskLevel": labels.ALIYUN_RISK[d["decision"]]}
    if found:
        reason["riskTips"] = ",".join(f"{labels.ALIYUN_LABELS[f.category]}_{f.category}"
                                      for f in found)
        reason["riskWords"] = ",".join(words)
    return {"labels": ",".join(dict.fromkeys(labels.ALIYUN_LABELS[f.category] for f in found)),
            "reason": json.dumps(reason, ensure_ascii=False), "dataId": outcome.data_id,
            "accountId": account_id or "", "descriptions": ",".join(f.category for f in found)}


def text_moderation_plus(outcome: items.Outcome, account_id: str | None) -> dict[str, Any]:
    d = outcome.decision
    found = findings(d)
    result = [{"Label": labels.ALIYUN_PLUS_LABELS[f.category], "Confidence": f.score,
               "Description": f.category, "RiskWords": ",".join(f.keywords),
               "RiskPositions": [{"RiskWord": h.keyword, "StartPos": h.start, "EndPos": h.end}
                                 for h in f.hits]}
              for f in found]
    if not result:
        result = [{"Label": labels.ALIYUN_PLUS_PASS_LABEL, "Description": "未检测出风险"}]
    return {"RiskLevel": labels.ALIYUN_RISK[d["decision"]],
            "Score": found[0].score if found else 0, "Result": result,
            "DataId": outcome.data_id, "AccountId": account_id or ""}


async def handle(request: Request, state: AppState, creds: CredentialStore, body: bytes,
                 rid: str) -> JSONResponse:
    try:
        return JSONResponse(await _handle(request, state, creds, body, rid))
    except CompatError as exc:
        return error_response(exc, rid, request.headers.get("host", ""))


async def _handle(request: Request, state: AppState, creds: CredentialStore, body: bytes,
                  rid: str) -> dict[str, Any]:
    if request.method != "POST":
        raise CompatError("action", "Alibaba Cloud Green calls are POST requests.",
                          code="InvalidParameter")
    form = _form(body)
    cred, action, version, nonce = await _authenticate(request, creds, body, form)
    if action not in ACTIONS or action != request.headers.get("x-acs-action"):
        raise CompatError("action", f"The action {action!r} is not supported; use "
                          f"{' or '.join(ACTIONS)}.")
    if version != VERSION:
        raise CompatError("action", f"Version {version!r} is not supported; use {VERSION}.",
                          code="InvalidVersion")
    service, sp = _service_parameters(form)
    content = sp.get("content")
    if not isinstance(content, str) or not content:
        raise CompatError("missing", "ServiceParameters.content is required (a string).")
    account_id = _str_or_none(sp, "accountId")
    outcome = await items.moderate_item(
        request, state, creds, cred, data_id=_str_or_none(sp, "dataId") or
        items.new_data_id("ali"),
        channel=items.channel_of(state, labels.ALIYUN_SERVICE_CHANNELS.get(service)),
        content=content, author_ref=account_id, ip=None, rid=rid, nonce=nonce)
    data = (text_moderation_plus if action == "TextModerationPlus" else text_moderation)(
        outcome, account_id)
    return {"Code": 200, "Data": data, "Message": "OK", "RequestId": rid}
