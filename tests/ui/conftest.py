"""Fixtures of the browser tests: Debian's chromium driven by Playwright against a REAL
`moderation serve --workers 1 --no-model` process on a test redis-server.

They skip (with the reason) only when /usr/bin/chromium is missing: `scripts/test.sh`
installs it with apt (`scripts/install.sh --browser`), so CI runs them. Playwright's own
browser downloads are never used.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "api"))

from api_test_support import RedisProc, Serve, base_env, stop_serves  # noqa: E402
from review_support import PASSWORD, PEOPLE, POLICY  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if CHROMIUM.exists():
        return
    skip = pytest.mark.skip(reason="/usr/bin/chromium is missing: run `scripts/install.sh "
                            "--browser` (apt-get install chromium) to run the browser tests")
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).parent == here:
            item.add_marker(skip)


class Site:
    """The running service, its Redis, an API key and the people (review_support.PEOPLE)."""

    def __init__(self, serve: Serve, redis_url: str, key: str, data_dir: Path) -> None:
        self.serve = serve
        self.url = serve.url
        self.redis_url = redis_url
        self.key = key
        self.data_dir = data_dir

    def moderate(self, data_id: str, content: str, channel: str = "comment",
                 **extra: object) -> dict:
        import httpx

        r = httpx.post(self.url + "/v1/moderate", headers={"Authorization": f"Bearer {self.key}"},
                       json={"data_id": data_id, "channel": channel, "content": content,
                             **extra}, timeout=30)
        assert r.status_code == 200, r.text
        return r.json()

    def item(self, data_id: str) -> dict:
        import httpx

        r = httpx.get(self.url + f"/v1/items/{data_id}",
                      headers={"Authorization": f"Bearer {self.key}"}, timeout=30)
        assert r.status_code == 200, r.text
        return r.json()

    def redis(self):  # noqa: ANN201
        import redis

        return redis.Redis.from_url(self.redis_url, decode_responses=True)


async def _seed(redis_url: str) -> str:
    import redis.asyncio as aioredis

    from api.store.apikeys import ApiKeyStore
    from api.store.users import UserStore, make_hasher

    r = aioredis.Redis.from_url(redis_url, decode_responses=True)
    try:
        users = UserStore(r, hasher=make_hasher(1, 1024))
        for name, role in PEOPLE.items():
            await users.create(name, role, PASSWORD)
        key, _ = await ApiKeyStore(r, default_rate=10_000).create("portal-a")
        return key
    finally:
        await r.aclose()


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is missing")
    tmp = tmp_path_factory.mktemp("ui")
    redis_proc = RedisProc(tmp / "redis").start()
    policy = tmp / "policy.toml"
    policy.write_text(POLICY, encoding="utf-8")
    serves: list[Serve] = []
    try:
        key = asyncio.run(_seed(redis_proc.url))
        env = base_env(REDIS_URL=redis_proc.url, MODERATION_POLICY=str(policy),
                       MODERATION_REVIEW_INTERVAL_S="0.2", MODERATION_LEXICON_POLL_S="0.5")
        serve = Serve(env, tmp / "data", tmp / "serve.log")
        serves.append(serve)
        serve.wait_ready(60)
        yield Site(serve, redis_proc.url, key, tmp / "data")
    finally:
        stop_serves(serves)
        redis_proc.stop()


@pytest.fixture(scope="session")
def browser(site: Site) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, site: Site):  # noqa: ANN001, ANN201
    """A fresh browser context (no cookies) whose dialogs are recorded, never accepted."""
    context = browser.new_context(base_url=site.url, locale="zh-CN",
                                  viewport={"width": 1360, "height": 900})
    pg = context.new_page()
    pg.dialogs = []  # type: ignore[attr-defined]

    def on_dialog(d) -> None:  # noqa: ANN001
        pg.dialogs.append(d.message)  # type: ignore[attr-defined]
        d.dismiss()

    pg.on("dialog", on_dialog)
    pg.set_default_timeout(10_000)
    yield pg
    context.close()
