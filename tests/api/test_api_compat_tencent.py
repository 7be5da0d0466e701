"""Tencent Cloud TMS `TextModeration` through the REAL `tencentcloud-sdk-python-tms` client,
pointed at the service (uvicorn on loopback) with only `HttpProfile(protocol, endpoint)`
changed: verdict fields, items and the review queue, every refusal as the SDK's exception,
and a response Content-Type that is exactly `application/json` every time."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from api_test_support import RedisProc
from compat_support import (
    Served,
    content_types,
    new_credential,
    served,
    tencent_client,
    tencent_request,
)
from conftest import make_settings
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException

from api.settings import Settings
from moderation.pipeline import Moderator

DRUGS = "出售冰毒，加微信abc123"


@pytest.fixture(scope="module")
def settings(redis_server: RedisProc, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return make_settings(redis_server.url, tmp_path_factory.mktemp("compat-tc"))


@pytest.fixture(scope="module")
def svc(settings: Settings, moderator: Moderator) -> Iterator[Served]:
    with served(settings, moderator) as s:
        yield s


@pytest.fixture
def cred(svc: Served, rdb: redis.Redis, redis_server: RedisProc,
         settings: Settings) -> tuple[str, str]:
    svc.app.state.compat_credentials = None  # no credential cached across a flush
    return new_credential(redis_server.url, settings)


@pytest.fixture
def tc(svc: Served, cred: tuple[str, str]) -> Any:
    client = tencent_client(svc.endpoint, *cred)
    seen = content_types(client)
    yield client
    assert seen and all(ct == "application/json" for ct in seen), seen


def refused(client: Any, req: Any) -> TencentCloudSDKException:
    with pytest.raises(TencentCloudSDKException) as info:
        client.TextModeration(req)
    return info.value


def test_block_with_labels_keywords_positions_and_item(tc: Any, rdb: redis.Redis) -> None:
    resp = tc.TextModeration(tencent_request(DRUGS, DataId="post-1", BizType="comment",
                                             User={"UserId": "u-42"}))
    assert resp.Suggestion == "Block" and resp.Label == "Illegal" and resp.SubLabel == "drugs"
    assert resp.Score == 100 and isinstance(resp.Score, int)
    assert resp.DataId == "post-1" and resp.RequestId
    assert "冰毒" in resp.Keywords and "加微信" in resp.Keywords
    by_label = {d.SubLabel: d for d in resp.DetailResults}
    drugs = by_label["drugs"]
    assert drugs.Suggestion == "Block" and drugs.LibType == 2 and drugs.LibName
    hit = next(h for h in drugs.HitInfos if h.Keyword == "冰毒")
    assert [(p.Start, p.End) for p in hit.Positions] == [(2, 4)]
    assert by_label["advertising"].Label == "Ad"
    assert by_label["advertising"].Suggestion == "Review"
    item = rdb.hgetall("pm:item:portal-a:post-1")
    assert item["status"] == "blocked" and item["channel"] == "comment"
    assert item["author_ref"] == "u-42"


def test_pass_review_queue_and_generated_data_id(tc: Any, rdb: redis.Redis) -> None:
    ok = tc.TextModeration(tencent_request("小区门口的路灯坏了好几天，希望尽快修理。"))
    assert (ok.Suggestion, ok.Label, ok.Score, ok.DetailResults) == ("Pass", "Normal", 0, [])
    assert ok.DataId.startswith("tc-") and rdb.exists(f"pm:item:portal-a:{ok.DataId}")
    review = tc.TextModeration(tencent_request("加微信了解详情", DataId="r-1"))
    assert review.Suggestion == "Review" and review.Label == "Ad"
    item = rdb.hgetall("pm:item:portal-a:r-1")
    assert item["status"] == "pending"
    assert rdb.zscore(f"pm:queue:{item['channel']}", item["item_id"]) is not None


def test_biztype_selects_a_channel_else_the_default(tc: Any, rdb: redis.Redis) -> None:
    tc.TextModeration(tencent_request("你好", DataId="c-1", BizType="profile"))
    tc.TextModeration(tencent_request("你好", DataId="c-2", BizType="my_policy_2024"))
    assert rdb.hget("pm:item:portal-a:c-1", "channel") == "profile"
    assert rdb.hget("pm:item:portal-a:c-2", "channel") == "comment"


def test_same_data_id_is_idempotent_other_content_is_refused(tc: Any) -> None:
    first = tc.TextModeration(tencent_request(DRUGS, DataId="dup-1"))
    again = tc.TextModeration(tencent_request(DRUGS, DataId="dup-1"))
    assert (again.Suggestion, again.Keywords) == (first.Suggestion, first.Keywords)
    err = refused(tc, tencent_request("另一段内容", DataId="dup-1"))
    assert err.code == "ResourceInUse.DataId"


def test_get_form_is_signed_and_answered(svc: Served, cred: tuple[str, str],
                                         rdb: redis.Redis) -> None:
    client = tencent_client(svc.endpoint, *cred)
    client.profile.httpProfile.reqMethod = "GET"
    seen = content_types(client)
    resp = client.TextModeration(tencent_request("加微信", DataId="get-1"))
    assert resp.Suggestion == "Review" and rdb.exists("pm:item:portal-a:get-1")
    assert seen == ["application/json"]


def test_wrong_secret_and_unknown_id(svc: Served, cred: tuple[str, str]) -> None:
    for sid, key, code in ((cred[0], cred[1] + "x", "AuthFailure.SignatureFailure"),
                           ("AKIDunknown0000", cred[1], "AuthFailure.SecretIdNotFound")):
        client = tencent_client(svc.endpoint, sid, key)
        seen = content_types(client)
        assert refused(client, tencent_request("你好")).code == code
        assert seen == ["application/json"]  # else the SDK would not have raised


def test_expired_timestamp(tc: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import time
    from types import SimpleNamespace

    import tencentcloud.common.abstract_client as ac

    # Only the SDK's clock is 301 s behind (the server shares this process's `time`).
    monkeypatch.setattr(ac, "time", SimpleNamespace(time=lambda: time.time() - 301))
    assert refused(tc, tencent_request("你好")).code == "AuthFailure.SignatureExpire"


def test_bad_base64_bad_utf8_and_over_long(tc: Any, rdb: redis.Redis) -> None:
    from tencentcloud.tms.v20201229 import models

    def raw(content: str) -> Any:
        req = models.TextModerationRequest()
        req.from_json_string(json.dumps({"Content": content, "DataId": "bad-1"}))
        return req

    assert refused(tc, raw("不是base64!")).code == "InvalidParameterValue.ErrTextContentType"
    assert refused(tc, raw("5L2g5aW")).code == "InvalidParameterValue.ErrTextContentType"
    bad_utf8 = base64.b64encode(b"\xff\xfe\x00").decode()
    assert refused(tc, raw(bad_utf8)).code == "InvalidParameterValue.ErrTextContentType"
    # 10,000 characters after decoding pass; 10,001 do not (30,003 bytes of base64 input)
    assert tc.TextModeration(tencent_request("好" * 10_000)).Suggestion == "Pass"
    assert refused(tc, tencent_request("好" * 10_001)).code == \
        "InvalidParameterValue.ErrTextContentLen"
    assert refused(tc, tencent_request(" \u200b ")).code == \
        "InvalidParameterValue.ErrTextContentLen"
    assert refused(tc, tencent_request(None)).code == "MissingParameter"
    assert not rdb.exists("pm:item:portal-a:bad-1")


def test_bad_data_id_and_rate_limit(svc: Served, rdb: redis.Redis, redis_server: RedisProc,
                                    settings: Settings) -> None:
    svc.app.state.compat_credentials = None
    client = tencent_client(svc.endpoint, *new_credential(redis_server.url, settings,
                                                          rate_limit=2))
    assert refused(client, tencent_request("你好", DataId="a b")).code == \
        "InvalidParameterValue"
    codes = []
    for i in range(6):
        try:
            client.TextModeration(tencent_request("你好", DataId=f"rl-{i}"))
            codes.append("ok")
        except TencentCloudSDKException as exc:
            codes.append(exc.code)
    assert "RequestLimitExceeded" in codes and codes.count("ok") >= 2


def test_revoked_credential_is_refused(tc: Any, cred: tuple[str, str], svc: Served,
                                       redis_server: RedisProc, settings: Settings) -> None:
    import asyncio

    from api.secretbox import SecretBox
    from api.store.connection import connect
    from api.store.credentials import CredentialStore

    assert tc.TextModeration(tencent_request("你好")).Suggestion == "Pass"

    async def revoke() -> None:
        r = connect(redis_server.url, timeout=5)
        await CredentialStore(r, SecretBox.from_file(settings.secrets_key_path)).revoke(cred[0])
        await r.aclose()

    asyncio.run(revoke())  # another process: this one still has the secret cached
    assert refused(tc, tencent_request("你好")).code == "AuthFailure.SecretIdNotFound"
