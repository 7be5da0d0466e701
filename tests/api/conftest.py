"""Fixtures of the API tests: a REAL redis-server (AOF on) in a temp directory, one per
session on a free port, flushed before each test; one app (pipeline loaded once) shared by
the tests through a TestClient.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from api_test_support import RedisProc
from fastapi.testclient import TestClient

from api.main import create_app
from api.settings import Settings
from moderation.pipeline import Moderator, load_moderator


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisProc]:
    server = RedisProc(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture
def rdb(redis_server: RedisProc) -> Iterator[redis.Redis]:
    """A plain client on the session server, flushed before the test."""
    client = redis.Redis.from_url(redis_server.url, decode_responses=True)
    client.flushall()
    yield client
    client.close()


@pytest.fixture(scope="session")
def moderator() -> Moderator:
    """The shipped lexicon and policy, no model: the pipeline the service runs by default."""
    return load_moderator(None, None, None)


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("data")


def make_settings(redis_url: str, data_dir: Path, **over: Any) -> Settings:
    base: dict[str, Any] = dict(redis_url=redis_url, data_dir=data_dir, sealer_enabled=False,
                                webhook_worker_enabled=False,  # webhook tests start theirs
                                model="none", workers=1,
                                # cheap argon2 for tests; the default is 64 MiB, t=3
                                argon2_time_cost=1, argon2_memory_kib=1024)
    base.update(over)
    return Settings(**base)


@pytest.fixture
def settings_for(redis_server: RedisProc, tmp_path: Path) -> Callable[..., Settings]:
    """Settings on the session Redis with a per-test data directory."""
    return lambda **over: make_settings(over.pop("redis_url", redis_server.url),
                                        tmp_path / "data", **over)


@pytest.fixture
def new_app_client(moderator: Moderator) -> Callable[[Settings], TestClient]:
    """A separate app (e.g. with the sealer on); use it as a context manager."""
    return lambda settings: TestClient(create_app(settings, moderator))


@pytest.fixture(scope="session")
def app_client(redis_server: RedisProc, moderator: Moderator,
               data_dir: Path) -> Iterator[TestClient]:
    """One app for the whole session (sealer off: audit tests run it explicitly)."""
    app = create_app(make_settings(redis_server.url, data_dir), moderator)
    with TestClient(app) as client:
        yield client


@pytest.fixture
def client(app_client: TestClient, rdb: redis.Redis) -> TestClient:
    """The shared app on a flushed Redis, with no remembered keys and no cookies."""
    app_client.app.state.app_state.known_keys.clear()
    app_client.cookies.clear()
    return app_client


@pytest.fixture
def call(client: TestClient) -> Callable[..., Any]:
    """Run a coroutine function in the app's event loop (to use its stores directly)."""

    def run(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return client.portal.call(lambda: fn(*args, **kwargs))

    return run


@pytest.fixture
def state(client: TestClient) -> Any:
    return client.app.state.app_state


@pytest.fixture
def new_key(call: Callable[..., Any], state: Any) -> Callable[..., str]:
    def make(client_name: str = "portal-a", **kw: Any) -> str:
        key, _ = call(state.apikeys.create, client_name, **kw)
        return key

    return make


@pytest.fixture
def api_key(new_key: Callable[..., str]) -> str:
    return new_key("portal-a")
