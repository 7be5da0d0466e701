"""Helpers of the compatibility tests: the service under a real uvicorn on loopback, and
the vendors' REAL SDK clients pointed at it with only the endpoint and protocol changed."""

from __future__ import annotations

import asyncio
import base64
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import uvicorn
from api_test_support import free_port

from api.main import create_app
from api.settings import Settings
from moderation.pipeline import Moderator


class Served:
    """`create_app(settings, moderator)` under uvicorn in a thread, on a free port."""

    def __init__(self, settings: Settings, moderator: Moderator) -> None:
        self.port = free_port()
        self.app = create_app(settings, moderator)
        self.server = uvicorn.Server(uvicorn.Config(
            self.app, host="127.0.0.1", port=self.port, log_level="warning",
            access_log=False, lifespan="on"))
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.endpoint = f"127.0.0.1:{self.port}"
        self.url = f"http://{self.endpoint}"

    def _run(self) -> None:
        asyncio.run(self.server.serve())

    def start(self) -> Served:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() < deadline, "uvicorn not up"
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(15)


@contextmanager
def served(settings: Settings, moderator: Moderator) -> Iterator[Served]:
    s = Served(settings, moderator).start()
    try:
        yield s
    finally:
        s.stop()


def tencent_client(endpoint: str, secret_id: str, secret_key: str) -> Any:
    """The Tencent Cloud TMS SDK client, as a portal builds it, but for the endpoint."""
    from tencentcloud.common import credential
    from tencentcloud.common.profile.client_profile import ClientProfile
    from tencentcloud.common.profile.http_profile import HttpProfile
    from tencentcloud.tms.v20201229 import tms_client

    http = HttpProfile(protocol="http", endpoint=endpoint)
    return tms_client.TmsClient(credential.Credential(secret_id, secret_key), "ap-guangzhou",
                                ClientProfile(httpProfile=http))


def tencent_request(text: str | None = None, **fields: Any) -> Any:
    from tencentcloud.tms.v20201229 import models

    req = models.TextModerationRequest()
    params: dict[str, Any] = dict(fields)
    if text is not None:
        params["Content"] = base64.b64encode(text.encode("utf-8")).decode("ascii")
    req.from_json_string(__import__("json").dumps(params))
    return req


def aliyun_client(endpoint: str, ak: str, secret: str, *, v1: bool = False) -> Any:
    """The Alibaba Cloud Green SDK client; `v1`: the HMAC-SHA1 RPC signature."""
    from alibabacloud_green20220302.client import Client
    from alibabacloud_tea_openapi.models import Config

    config = Config(access_key_id=ak, access_key_secret=secret, endpoint=endpoint,
                    protocol="http", read_timeout=10000, connect_timeout=5000)
    if v1:
        config.signature_algorithm = "v2"
    return Client(config)


def aliyun_call(client: Any, text: str, *, plus: bool = False, service: str =
                "comment_detection", **params: Any) -> Any:
    """Call TextModeration (or TextModerationPlus) as a portal does; returns the body."""
    import json

    from alibabacloud_green20220302 import models

    sp = json.dumps({"content": text, **params}, ensure_ascii=False)
    if plus:
        return client.text_moderation_plus(models.TextModerationPlusRequest(
            service=service, service_parameters=sp)).body
    return client.text_moderation(models.TextModerationRequest(
        service=service, service_parameters=sp)).body


def raw_post(url: str, **kw: Any) -> httpx.Response:
    return httpx.post(url + "/", timeout=10, **kw)


def new_credential(redis_url: str, settings: Settings, client: str = "portal-a",
                   **kw: Any) -> tuple[str, str]:
    """A (SecretId, SecretKey) for `client`, created by the store the CLI uses."""
    from api.secretbox import SecretBox
    from api.store.connection import connect
    from api.store.credentials import CredentialStore

    async def make() -> tuple[str, str]:
        r = connect(redis_url, timeout=5)
        try:
            sid, skey, _ = await CredentialStore(
                r, SecretBox.from_file(settings.secrets_key_path)).create(client, **kw)
            return sid, skey
        finally:
            await r.aclose()

    return asyncio.run(make())


def content_types(tencent: Any) -> list[str]:
    """Every response Content-Type the Tencent SDK client receives from now on (a hook of
    its own requests session: the SDK does not expose response headers)."""
    seen: list[str] = []
    tencent.request.conn._session.hooks["response"].append(
        lambda resp, *a, **k: seen.append(resp.headers.get("Content-Type")))
    return seen


def header(resp: Any, name: str) -> str | None:
    """A header of an Aliyun SDK response, by any case."""
    return {k.lower(): v for k, v in (resp.headers or {}).items()}.get(name.lower())
