"""Request bodies of the HTTP API (pydantic), so /docs shows them and bad input is a 4xx."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, IPvAnyAddress

from api.store.statuses import Role

DATA_ID_PATTERN = r"^[A-Za-z0-9._:-]{1,128}$"
DataId = Annotated[str, Field(pattern=DATA_ID_PATTERN, description="1-128 of [A-Za-z0-9._:-]")]


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
    callback_url: HttpUrl | None = Field(None, max_length=2048)


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
