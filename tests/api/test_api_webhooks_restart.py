"""Deliveries survive the service: one enqueued while no worker runs is sent when the
service starts, and one whose worker died while sending it is sent again by the next
worker once its lease ends (real `serve` processes, a real receiver)."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import Iterator
from typing import Any

import pytest
from api_test_support import Serve, base_env, cli, stop_serves
from test_api_webhooks import checked, enqueue, review_item
from webhook_receiver import Receiver

from api.store import keys
from api.store.connection import connect
from api.store.outbox import Outbox


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver().start()
    yield rec
    rec.stop()


def serve_env(redis_url: str, receiver: Receiver, **extra: str) -> dict[str, str]:
    return base_env(REDIS_URL=redis_url, MODERATION_CALLBACK_ALLOW_ORIGINS=receiver.origin,
                    MODERATION_WEBHOOK_POLL_S="0.05", **extra)


def set_by_cli(redis_url: str, data_dir: Any, receiver: Receiver) -> str:
    res = cli("webhook", "set", "portal-a", "--url", receiver.url(), env={
        "REDIS_URL": redis_url, "MODERATION_DATA_DIR": str(data_dir),
        "MODERATION_CALLBACK_ALLOW_ORIGINS": receiver.origin})
    assert res.returncode == 0, res.stderr
    return res.stdout.strip()


def test_enqueued_while_down_is_delivered_when_serve_starts(client, api_key, rdb,
                                                            redis_server, tmp_path, receiver):
    data_dir = tmp_path / "data"
    secret = set_by_cli(redis_server.url, data_dir, receiver)
    review_item(client, api_key)  # the test app runs no delivery worker: the service is "down"
    delivery_id = enqueue(rdb, "portal-a", "post-1")
    time.sleep(0.5)
    assert receiver.requests == []
    serves: list[Serve] = []
    try:
        serves.append(Serve(serve_env(redis_server.url, receiver), data_dir,
                            tmp_path / "serve.log"))
        serves[0].wait_ready()
        got = receiver.wait_for(1, timeout=20)[0]
        assert got.headers["x-delivery-id"] == delivery_id and checked(secret, got)
        deadline = time.monotonic() + 5
        while rdb.exists(keys.delivery(delivery_id)):
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        stop_serves(serves)
    assert len(receiver.requests) == 1


def test_a_delivery_whose_worker_died_mid_send_is_sent_after_a_restart(
        client, api_key, rdb, redis_server, tmp_path, receiver):
    data_dir = tmp_path / "data"
    secret = set_by_cli(redis_server.url, data_dir, receiver)
    review_item(client, api_key)
    receiver.delays = [3.0]  # the first request hangs: serve is killed while it waits
    env = serve_env(redis_server.url, receiver, MODERATION_WEBHOOK_TIMEOUT_S="2",
                    MODERATION_WEBHOOK_LEASE_S="4")
    serves: list[Serve] = []
    try:
        serves.append(Serve(env, data_dir, tmp_path / "serve1.log"))
        serves[0].wait_ready()
        delivery_id = enqueue(rdb, "portal-a", "post-1")
        receiver.wait_for(1, timeout=20)
        assert serves[0].stop(signal.SIGKILL) == -signal.SIGKILL
        assert rdb.exists(keys.delivery(delivery_id))  # not acknowledged: still in the outbox
        serves.append(Serve(env, data_dir, tmp_path / "serve2.log"))
        serves[1].wait_ready()
        got = receiver.wait_for(2, timeout=30)
        deadline = time.monotonic() + 5
        while rdb.exists(keys.delivery(delivery_id)):
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        stop_serves(serves)
    assert [json.loads(g.body)["attempt"] for g in got] == [1, 2]
    assert {g.headers["x-delivery-id"] for g in got} == {delivery_id}
    assert checked(secret, got[1]) and len(receiver.requests) == 2


def test_a_leased_delivery_waits_for_its_lease_then_goes(client, api_key, rdb, tmp_path,
                                                         redis_server, receiver,
                                                         new_app_client, settings_for):
    """Two workers never send one delivery at once: one taken (and its worker gone) is left
    alone by another worker until the lease ends."""
    data_dir = tmp_path / "data"
    secret = set_by_cli(redis_server.url, data_dir, receiver)
    review_item(client, api_key)
    delivery_id = enqueue(rdb, "portal-a", "post-1")

    async def take() -> None:
        r = connect(redis_server.url, timeout=2)
        try:
            assert [d.id for d in await Outbox(r).take_due(10, 2.0)] == [delivery_id]
        finally:
            await r.aclose()

    asyncio.run(take())
    taken_at = time.time()
    settings = settings_for(webhook_worker_enabled=True, webhook_poll_s=0.05,
                            callback_allow_origins=receiver.origin)
    with new_app_client(settings):
        got = receiver.wait_for(1, timeout=10)[0]
    assert got.at - taken_at >= 1.9  # not before the first lease ended
    assert json.loads(got.body)["attempt"] == 2 and checked(secret, got)
