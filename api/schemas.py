"""Request bodies of the HTTP API (pydantic), so /docs shows them and bad input is a 4xx."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    IPvAnyAddress,
    ValidationInfo,
)
from pydantic_core import PydanticCustomError

from api.callbacks import parse_origins, refusal
from api.store.statuses import ItemStatus, Role

DATA_ID_PATTERN = r"^[A-Za-z0-9._:-]{1,128}$"
CALLBACK_ALLOW = "callback_allow_origins"
DataId = Annotated[str, Field(pattern=DATA_ID_PATTERN, description="1-128 of [A-Za-z0-9._:-]")]


def callback_context(allow_origins: str) -> dict[str, Any]:
    """The validation context of a `ModerateRequest`: the origins an admin allowed for
    `callback_url` (the `callback_allow_origins` setting)."""
    return {CALLBACK_ALLOW: parse_origins(allow_origins)}


def _public_callback(url: HttpUrl | None, info: ValidationInfo) -> HttpUrl | None:
    """Refuse a callback to a loopback, private, link-local, multicast or reserved host
    (`invalid_callback_url`); without a context no origin is allowed."""
    if url is None:
        return None
    why = refusal(url, (info.context or {}).get(CALLBACK_ALLOW, frozenset()))
    if why is not None:
        raise PydanticCustomError("invalid_callback_url", why)
    return url


class ModerateRequest(BaseModel):
    """One post, comment or letter to moderate. Text fields hold at most 10,000 characters."""

    model_config = ConfigDict(extra="ignore", json_schema_extra={"examples": [{
        "data_id": "post-20240101-0001", "channel": "comment",
        "content": "小区门口的路灯坏了好几天，希望尽快修理。"}]})

    data_id: DataId
    channel: str = Field(description="post, comment, message or profile (see the policy)")
    content: str
    title: str | None = None
    author_ref: str | None = Field(None, max_length=256,
                                   description="the portal's opaque id of the author")
    ip: IPvAnyAddress | None = None
    callback_url: Annotated[HttpUrl | None, AfterValidator(_public_callback)] = Field(
        None, max_length=2048, description="http(s) URL on a public host (or an origin the "
        "admin allowed: MODERATION_CALLBACK_ALLOW_ORIGINS); once the client has a webhook "
        "(`moderation webhook set`), only on that webhook's origin, and the verdict is POSTed "
        "there instead of the webhook URL")


class BatchRequest(BaseModel):
    """Up to 100 items; each is validated on its own, so one bad item fails only itself."""

    items: list[Any] = Field(min_length=1)


class LoginRequest(BaseModel):
    username: str = Field(max_length=64)
    password: str = Field(max_length=1024)


class UserCreate(BaseModel):
    username: str = Field(max_length=64)
    role: Role
    password: str = Field(min_length=8, max_length=1024)


class UserPatch(BaseModel):
    role: Role | None = None
    disabled: bool | None = None
    password: str | None = Field(None, min_length=8, max_length=1024)


class ApiKeyCreate(BaseModel):
    client: str = Field(max_length=64)
    rate_limit: int | None = Field(None, ge=1, description="items per second; default: service's")


class ApiKeyPatch(BaseModel):
    """`PATCH /v1/admin/apikeys/{id}`: give at least one field. `rate_limit: null` sets the
    key back to the service's default limit."""

    model_config = ConfigDict(extra="forbid")

    rate_limit: int | None = Field(None, ge=1, description="items per second; null: service's")
    disabled: bool | None = Field(None, description="true: the key is refused (401) until "
                                                    "enabled again; it is not revoked")
# Response bodies: for /docs and /openapi.json only. The routes answer with JSONResponse, so
# FastAPI never validates or re-serializes a decision through these (the hot path stays fast).


class ErrorDetail(BaseModel):
    code: str = Field(description="machine-readable, e.g. invalid_data_id, rate_limited")
    message: str = Field(description="one sentence for people; never holds the sent text")


class ErrorBody(BaseModel):
    """Every 4xx and 5xx answer of the service."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"error": {"code": "invalid_data_id", "message": "data_id must be 1-128 characters "
                   "of letters, digits, '.', '_', ':' or '-'."}}]})

    error: ErrorDetail


class HitOut(BaseModel):
    """A lexicon term found in a field; `text` is `original[start:end]` (code points)."""

    field: Literal["content", "title"]
    term: str
    category: str
    severity: Literal["review", "block"]
    start: int
    end: int
    text: str
    match_kind: Literal["exact", "variant", "pinyin", "homophone", "split"] = Field(
        "exact", description="how it matched: as written, through a look-alike or variant "
                             "character, pinyin, a homophone, or split characters")


class PiiOut(BaseModel):
    """Personal information found in a field; the value appears only masked."""

    field: Literal["content", "title"]
    type: str = Field(description="cn_id_card, mobile, landline, bank_card, uscc, email, ipv4…")
    start: int
    end: int
    validated: bool = Field(description="passed every check its type has (checksum, range)")
    masked: str


class ReasonOut(BaseModel):
    source: Literal["lexicon", "pii", "model", "degraded"]
    category: str
    decision: Literal["pass", "review", "block"]
    message: str


class LabelOut(BaseModel):
    label: str
    score: float = Field(ge=0, le=1)


class VersionsOut(BaseModel):
    lexicon: int | None = Field(description="published lexicon version; null when read from disk")
    lexicon_hash: str
    model: str | None = Field(description="null when no classifier is loaded")
    policy: str


class DecisionOut(BaseModel):
    """The pipeline's decision, as `moderation check` prints it."""

    decision: Literal["pass", "review", "block"]
    channel: str
    publish: bool = Field(description="pass: true; block: false; review: false on pre-moderated "
                                      "channels, true on post-moderated ones")
    reasons: list[ReasonOut]
    hits: list[HitOut]
    pii: list[PiiOut]
    labels: list[LabelOut]
    masked_text: str = Field(description="the content with personal information masked")
    masked_title: str | None = Field(None, description="present when a title was sent")
    versions: VersionsOut
    degraded: bool = Field(description="a stage (model, store) was unavailable")
    degraded_stages: list[str] | None = Field(None, description="present when degraded")
    hits_truncated: bool | None = Field(None, description="present (true) when a field had more "
                                        "than 100 hits; `hits` keeps the first 100 per field")
    hits_total: int | None = Field(None, description="all hits, when truncated")
    pii_truncated: bool | None = Field(None, description="as hits_truncated, for `pii`")
    pii_total: int | None = Field(None, description="all findings, when truncated")


class ModerateResponse(DecisionOut):
    """`POST /v1/moderate`: the decision and the stored item."""

    request_id: str = Field(description="the X-Request-ID header sent, else generated")
    data_id: str
    item_id: str | None = Field(description="null when the item was not stored")
    status: str = Field(description="passed, blocked or pending (queued for review); "
                                    "not_stored in degraded mode")
    duplicate: bool | None = Field(None, description="true when this data_id and content were "
                                                     "seen before (the stored decision is sent "
                                                     "again); absent when not stored")


class StoreUnavailableBody(ErrorBody):
    """503 from `/v1/moderate`: the decision was made but the item was not stored; act on it
    and retry so the item is queued."""

    decision: ModerateResponse


class BatchItemOk(ModerateResponse):
    index: int = Field(description="position in the request's items")


class BatchItemError(ErrorBody):
    """One item of a batch that failed on its own; `decision` is there when it was decided but
    could not be stored."""

    index: int
    data_id: str | None
    decision: ModerateResponse | None = None


class BatchResponse(BaseModel):
    """`POST /v1/moderate/batch`: one result per item, in order."""

    request_id: str
    results: list[BatchItemOk | BatchItemError]


class HistoryEntry(BaseModel):
    model_config = ConfigDict(extra="allow")

    at: str
    status: str
    actor: str = Field(description="machine, or user:<name>")
    action: str


class ItemResponse(BaseModel):
    """`GET /v1/items/{data_id}`: the item's current state for the client that owns it."""

    item_id: str
    data_id: str
    channel: str
    status: ItemStatus
    decision: DecisionOut
    verdict: dict[str, Any] | None = Field(description="the reviewer's verdict, once there is one")
    history: list[HistoryEntry]
    created_at: str
    updated_at: str
    version: int
