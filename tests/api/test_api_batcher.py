"""The classifier path's micro-batcher: concurrent requests share forward passes and get
exactly the decisions they would get one by one."""

from __future__ import annotations

import asyncio

import pytest

from api.batcher import MicroBatcher
from api.live import LiveModerator
from moderation.errors import InputError
from moderation.pipeline import load_moderator

TEXTS = ["这种人真是垃圾，滚出去", "小区门口的路灯坏了好几天，希望尽快修理。", "出售冰毒",
         "你们这些人都是废物", "请问社保卡丢了怎么补办？", "我要投诉拆迁办，补偿款没有到位"]


@pytest.fixture(scope="module")
def model_moderator():
    mod = load_moderator(None, None, "default", model_threads=1)
    if mod.classifier is None:
        pytest.skip("no shipped model")
    return mod


def test_concurrent_requests_are_batched_with_identical_decisions(model_moderator):
    calls: list[int] = []
    original = model_moderator.moderate_many

    def counting(items):
        calls.append(len(items))
        return original(items)

    spy = type("Spy", (), {"moderate_many": staticmethod(counting)})()
    batcher = MicroBatcher(LiveModerator(spy), max_batch=8)

    async def run():
        return await asyncio.gather(
            *(batcher.moderate(t, title=None, channel="comment") for t in TEXTS * 2),
            batcher.moderate("", title=None, channel="comment"),
            return_exceptions=True)

    results = asyncio.run(run())
    assert isinstance(results[-1], InputError) and results[-1].code == "empty_content"
    for text, got in zip(TEXTS * 2, results[:-1], strict=True):
        want = model_moderator.moderate(text, channel="comment").to_dict()
        assert got.to_dict()["decision"] == want["decision"]
        assert [label["label"] for label in got.to_dict()["labels"]] == [
            label["label"] for label in want["labels"]]
    assert sum(calls) == len(TEXTS) * 2 + 1 and max(calls) <= 8 and len(calls) < len(TEXTS) * 2
