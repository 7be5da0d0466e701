"""The documented label tables, the `credentials` CLI (one stdout line, secret sealed at
rest), and signature edge cases the SDKs never produce."""

from __future__ import annotations

import json

import redis
from api_test_support import RedisProc, cli

from api.compat import labels, rpc_v1, tc3
from api.compat.errors import CompatError
from api.compat.findings import findings
from api.store.credentials import credential_hash
from moderation.categories import CATEGORIES


def test_every_category_has_a_label_in_every_table() -> None:
    for table in (labels.TENCENT_LABELS, labels.ALIYUN_LABELS, labels.ALIYUN_PLUS_LABELS):
        assert set(table) == set(CATEGORIES)
    assert labels.TENCENT_LABELS["pornography"] == "Porn"
    assert labels.TENCENT_LABELS["advertising"] == "Ad"
    assert labels.ALIYUN_LABELS["abuse"] == "profanity"
    assert labels.ALIYUN_SERVICE_CHANNELS["comment_detection"] == "comment"
    assert labels.ALIYUN_SERVICE_CHANNELS["chat_detection"] == "message"
    assert labels.ALIYUN_SERVICE_CHANNELS["nickname_detection"] == "profile"
    assert labels.ALIYUN_RISK == {"pass": "none", "review": "medium", "block": "high"}
    md = labels.markdown_tables()
    assert all(f"| {c} |" in md for c in CATEGORIES)


def test_findings_keep_hits_and_mask_pii() -> None:
    decision = {"decision": "review", "reasons": [
        {"source": "pii", "category": "personal_info", "decision": "review", "message": ""},
        {"source": "lexicon", "category": "advertising", "decision": "review", "message": ""}],
        "hits": [{"field": "content", "term": "加微信", "category": "advertising",
                  "severity": "review", "start": 3, "end": 6, "text": "加 微信"}],
        "pii": [{"field": "content", "type": "cn_id_card", "start": 10, "end": 28,
                 "validated": True, "masked": "110101********8515"}], "labels": []}
    by_cat = {f.category: f for f in findings(decision)}
    assert [(h.keyword, h.start, h.end) for h in by_cat["advertising"].hits] == \
        [("加 微信", 3, 6)]
    assert by_cat["personal_info"].keywords == ["110101********8515"]


def test_signature_refusals() -> None:
    for bad in ("", "TC3-HMAC-SHA256 Credential=x", "Basic abc"):
        try:
            tc3.parse(bad)
            raise AssertionError("accepted " + bad)
        except CompatError as exc:
            assert exc.code == "AuthFailure.InvalidAuthorization"
    try:
        rpc_v1.fields([("AccessKeyId", "a"), ("Signature", "s"), ("SignatureMethod", "HMAC-MD5"),
                       ("SignatureVersion", "1.0"), ("SignatureNonce", "n"),
                       ("Timestamp", "2024-01-01T00:00:00Z"), ("Action", "A"),
                       ("Version", "v")])
        raise AssertionError("HMAC-MD5 accepted")
    except CompatError as exc:
        assert exc.code == "IncompleteSignature"


def test_credentials_cli(redis_server: RedisProc, rdb: redis.Redis, tmp_path) -> None:
    env = {"REDIS_URL": redis_server.url}
    out = cli("credentials", "create", "portal-b", "--data-dir", str(tmp_path), env=env)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) == 1 and len(lines[0].split(" ")) == 2
    secret_id, secret_key = lines[0].split(" ")
    stored = rdb.hget("pm:credentials", secret_id)
    lookup = rdb.hgetall(f"pm:apikey:{credential_hash(secret_id)}")
    assert lookup["client"] == "portal-b"
    assert stored and secret_key not in stored and secret_key not in json.dumps(lookup)
    assert (tmp_path / "secrets.key").stat().st_mode & 0o777 == 0o600
    listed = cli("credentials", "list", "--data-dir", str(tmp_path), env=env)
    assert [json.loads(x)["secret_id"] for x in listed.stdout.splitlines()] == [secret_id]
    assert secret_key not in listed.stdout
    assert cli("credentials", "revoke", secret_id, "--data-dir", str(tmp_path),
               env=env).returncode == 0
    again = cli("credentials", "revoke", secret_id, "--data-dir", str(tmp_path), env=env)
    assert again.returncode == 2 and "already revoked" in again.stderr
    bad = cli("credentials", "create", "bad name!", "--data-dir", str(tmp_path), env=env)
    assert bad.returncode == 2 and bad.stdout == ""
