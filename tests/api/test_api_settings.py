"""Configuration (CONTRACTS.md): every setting reads MODERATION_<NAME>, REDIS_URL and
MODERATION_MODEL by those names, flags win over the environment; the Redis check."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from api_test_support import RedisProc

from api.settings import Settings
from api.store.connection import UnsafeServer, check_server, connect


@pytest.mark.parametrize(("env", "field", "value"), [
    ({"MODERATION_PORT": "9090"}, "port", 9090),
    ({"MODERATION_HOST": "0.0.0.0"}, "host", "0.0.0.0"),
    ({"MODERATION_WORKERS": "3"}, "workers", 3),
    ({"MODERATION_DATA_DIR": "/srv/mod"}, "data_dir", Path("/srv/mod")),
    ({"MODERATION_LEXICON": "/etc/lex"}, "lexicon", Path("/etc/lex")),
    ({"MODERATION_MODEL": "none"}, "model_arg", None),
    ({"MODERATION_MODEL": "/models/x"}, "model_arg", "/models/x"),
    ({"REDIS_URL": "rediss://u:p@redis.example:6380/1"}, "redis_url",
     "rediss://u:p@redis.example:6380/1"),
    ({"MODERATION_REDIS_SOCKET_TIMEOUT": "0.25"}, "redis_socket_timeout", 0.25),
    ({"MODERATION_ITEM_TTL_DAYS": "7"}, "item_ttl_s", 7 * 86400),
    ({"MODERATION_RATE_LIMIT_PER_S": "50"}, "rate_limit_per_s", 50),
    ({"MODERATION_AUDIT_DIR": "/var/audit"}, "audit_path", Path("/var/audit")),
])
def test_environment_settings(monkeypatch, env, field, value):
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert getattr(Settings(), field) == value


def test_defaults_and_flags_win(monkeypatch):
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setenv("MODERATION_PORT", "9090")
    s = Settings(port=7000)
    assert s.port == 7000 and s.redis_url is None and s.redis_socket_timeout == 0.5
    assert s.item_ttl_days == 30 and s.retention_days == 180 and s.rate_limit_per_s == 10_000
    assert s.audit_path == Path("var") / "audit" and s.workers >= 1


def test_a_server_without_config_is_used_with_a_warning(tmp_path):
    server = RedisProc(tmp_path / "noconfig", "--rename-command", "CONFIG", "").start()
    try:
        async def go() -> list[str]:
            r = connect(server.url, timeout=0.5)
            try:
                return await check_server(r)
            finally:
                await r.aclose()

        (warning,) = asyncio.run(go())
        assert "not checked" in warning
    finally:
        server.stop()


def test_unsafe_setting_is_named(redis_server, rdb):
    rdb.config_set("maxmemory-policy", "volatile-lru")
    try:
        async def go() -> None:
            r = connect(redis_server.url, timeout=0.5)
            try:
                await check_server(r)
            finally:
                await r.aclose()

        with pytest.raises(UnsafeServer, match="maxmemory-policy noeviction"):
            asyncio.run(go())
    finally:
        rdb.config_set("maxmemory-policy", "noeviction")
