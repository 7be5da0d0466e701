"""Request bodies of the HTTP API (pydantic), so /docs shows them and bad input is a 4xx."""

from __future__ import annotations

from typing import Annotated, Any

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
from api.store.statuses import Role

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
        "admin allowed: MODERATION_CALLBACK_ALLOW_ORIGINS)")


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
