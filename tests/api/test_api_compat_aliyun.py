"""Alibaba Cloud Green `TextModeration` / `TextModerationPlus` through the REAL
`alibabacloud-green20220302` client with only `Config(endpoint, protocol)` changed, under
both signatures (ACS3-HMAC-SHA256 by default, the v1 HMAC-SHA1 RPC signature with
`signature_algorithm="v2"`): answers, items, refusals (HTTP 4xx for signatures, HTTP 200
with Code ≠ 200 for business errors) and an exact `application/json` Content-Type."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis
from alibabacloud_green20220302 import models
from alibabacloud_tea_openapi.exceptions import ClientException
from api_test_support import RedisProc
from compat_support import Served, aliyun_client, header, new_credential, served
from conftest import make_settings

from api.settings import Settings
from moderation.pipeline import Moderator

DRUGS = "出售冰毒，加微信abc123"


@pytest.fixture(scope="module")
def settings(redis_server: RedisProc, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return make_settings(redis_server.url, tmp_path_factory.mktemp("compat-ali"))


@pytest.fixture(scope="module")
def svc(settings: Settings, moderator: Moderator) -> Iterator[Served]:
    with served(settings, moderator) as s:
        yield s


@pytest.fixture
def cred(svc: Served, rdb: redis.Redis, redis_server: RedisProc,
         settings: Settings) -> tuple[str, str]:
    svc.app.state.compat_credentials = None
    return new_credential(redis_server.url, settings)


def call(client: Any, text: str, *, plus: bool = False, service: str = "comment_detection",
         **params: Any) -> Any:
    """The SDK call; asserts the response's Content-Type; returns the body as a dict."""
    sp = json.dumps({"content": text, **params}, ensure_ascii=False)
    if plus:
        resp = client.text_moderation_plus(models.TextModerationPlusRequest(
            service=service, service_parameters=sp))
    else:
        resp = client.text_moderation(models.TextModerationRequest(
            service=service, service_parameters=sp))
    assert header(resp, "content-type") == "application/json"
    assert resp.status_code == 200
    return resp.body.to_map()


def refused(client: Any, text: str = "你好", **kw: Any) -> ClientException:
    with pytest.raises(ClientException) as info:
        call(client, text, **kw)
    return info.value


@pytest.mark.parametrize("v1", [False, True], ids=["acs3", "rpc-v1"])
def test_text_moderation_both_signatures(svc: Served, cred: tuple[str, str], v1: bool,
                                         rdb: redis.Redis) -> None:
    client = aliyun_client(svc.endpoint, *cred, v1=v1)
    body = call(client, DRUGS, dataId="a-1", accountId="acct-7")
    assert body["Code"] == 200 and isinstance(body["Code"], int) and body["RequestId"]
    data = body["Data"]
    assert data["labels"] == "contraband,ad" and data["dataId"] == "a-1"
    reason = json.loads(data["reason"])
    assert reason["riskLevel"] == "high" and "冰毒" in reason["riskWords"].split(",")
    item = rdb.hgetall("pm:item:portal-a:a-1")
    assert item["status"] == "blocked" and item["author_ref"] == "acct-7"
    ok = call(client, "今天天气很好")["Data"]
    assert ok["labels"] == "" and json.loads(ok["reason"])["riskLevel"] == "none"
    assert ok["dataId"].startswith("ali-")


@pytest.mark.parametrize("v1", [False, True], ids=["acs3", "rpc-v1"])
def test_text_moderation_plus(svc: Served, cred: tuple[str, str], v1: bool,
                              rdb: redis.Redis) -> None:
    client = aliyun_client(svc.endpoint, *cred, v1=v1)
    data = call(client, "请加微信了解", plus=True, service="chat_detection_pro",
                dataId="p-1")["Data"]
    assert data["RiskLevel"] == "medium" and data["DataId"] == "p-1"
    assert isinstance(data["Score"], int)
    (res,) = data["Result"]
    assert res["Label"] == "pt_to_contact" and res["Description"] == "advertising"
    assert res["RiskPositions"] == [{"RiskWord": "加微信", "StartPos": 1, "EndPos": 4}]
    item = rdb.hgetall("pm:item:portal-a:p-1")
    assert item["status"] == "pending" and item["channel"] == "message"
    assert rdb.zscore(f"pm:queue:{item['channel']}", item["item_id"]) is not None
    clean = call(client, "你好", plus=True)["Data"]
    assert clean["RiskLevel"] == "none" and clean["Result"][0]["Label"] == "nonLabel"


def test_service_table_maps_channels(svc: Served, cred: tuple[str, str],
                                     rdb: redis.Redis) -> None:
    client = aliyun_client(svc.endpoint, *cred)
    for service, channel in (("nickname_detection", "profile"), ("chat_detection", "message"),
                             ("llm_query_moderation", "comment"), ("unknown_x", "comment")):
        call(client, "你好", service=service, dataId=f"s-{service}")
        assert rdb.hget(f"pm:item:portal-a:s-{service}", "channel") == channel


@pytest.mark.parametrize("v1", [False, True], ids=["acs3", "rpc-v1"])
def test_wrong_secret_unknown_id_expired(svc: Served, cred: tuple[str, str], v1: bool,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    err = refused(aliyun_client(svc.endpoint, cred[0], cred[1] + "x", v1=v1))
    assert (err.status_code, err.code) == (400, "SignatureDoesNotMatch")
    err = refused(aliyun_client(svc.endpoint, "AKIDnope", cred[1], v1=v1))
    assert (err.status_code, err.code) == (404, "InvalidAccessKeyId.NotFound")
    from datetime import datetime, timedelta

    from alibabacloud_tea_openapi import utils

    # Only the SDK's clock is 16 minutes behind.
    monkeypatch.setattr(utils.Utils, "get_timestamp", staticmethod(lambda: (
        datetime.utcnow() - timedelta(minutes=16)).strftime("%Y-%m-%dT%H:%M:%SZ")))
    err = refused(aliyun_client(svc.endpoint, *cred, v1=v1))
    assert (err.status_code, err.code) == (400, "InvalidTimeStamp.Expired")


@pytest.mark.parametrize("v1", [False, True], ids=["acs3", "rpc-v1"])
def test_reused_nonce_is_refused(svc: Served, cred: tuple[str, str], v1: bool,
                                 monkeypatch: pytest.MonkeyPatch, rdb: redis.Redis) -> None:
    from alibabacloud_tea_openapi import utils

    monkeypatch.setattr(utils.Utils, "get_nonce", staticmethod(lambda: "same-nonce-1"))
    client = aliyun_client(svc.endpoint, *cred, v1=v1)
    assert call(client, "你好", dataId="n-1")["Code"] == 200
    err = refused(client, "你好", dataId="n-2")
    assert (err.status_code, err.code) == (400, "SignatureNonceUsed")
    assert not rdb.exists("pm:item:portal-a:n-2")


def test_business_errors_are_http_200_with_a_code(svc: Served, cred: tuple[str, str],
                                                  rdb: redis.Redis) -> None:
    client = aliyun_client(svc.endpoint, *cred)
    assert call(client, DRUGS, dataId="d-1")["Code"] == 200
    assert call(client, DRUGS, dataId="d-1")["Data"]["labels"] == "contraband,ad"  # replay
    conflict = call(client, "别的内容", dataId="d-1")
    assert conflict["Code"] == 409 and "d-1" in conflict["Message"]
    assert call(client, "好" * 10_000)["Code"] == 200
    assert call(client, "好" * 10_001)["Code"] == 400
    assert call(client, "好", dataId="bad id")["Code"] == 400
    assert call(client, "")["Code"] == 400


def test_tampered_body_and_unsigned_requests(svc: Served, cred: tuple[str, str]) -> None:
    r = httpx.post(svc.url + "/", headers={"x-acs-action": "TextModeration"},
                   data={"Service": "comment_detection",
                         "ServiceParameters": json.dumps({"content": "x"})})
    assert r.status_code == 400 and r.headers["content-type"] == "application/json"
    assert r.json()["Code"] == "IncompleteSignature"
    r = httpx.post(svc.url + "/", headers={"X-TC-Action": "TextModeration"}, json={})
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    assert r.json()["Response"]["Error"]["Code"] == "AuthFailure.InvalidAuthorization"
    # `/` without a vendor header is not the compatibility endpoint
    assert httpx.post(svc.url + "/", json={}).status_code in (404, 405)
