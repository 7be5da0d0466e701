"""Micro-batching for the classifier path: concurrent requests share one forward pass.

While one batch runs in a worker thread, new requests queue up; the next batch takes them
all (up to `max_batch`). There is no timer, so a lone request waits for nothing, and under
load the model sees batches instead of single texts (far cheaper per item on CPU). The
lexicon-only path does not use this: it answers inline in microseconds.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi.concurrency import run_in_threadpool

from api.live import LiveModerator
from moderation.errors import InputError
from moderation.types import Decision


class MicroBatcher:
    def __init__(self, live: LiveModerator, *, max_batch: int = 32) -> None:
        self.live = live
        self.max_batch = max_batch
        self._pending: list[tuple[dict[str, Any], asyncio.Future[Decision]]] = []
        self._task: asyncio.Task[None] | None = None

    async def moderate(self, content: str, *, title: str | None, channel: str) -> Decision:
        """Like `Moderator.moderate` (raises its `InputError`), batched with its neighbours."""
        fut: asyncio.Future[Decision] = asyncio.get_running_loop().create_future()
        self._pending.append(({"content": content, "title": title, "channel": channel}, fut))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain())
        return await fut

    async def _drain(self) -> None:
        while self._pending:
            batch = self._pending[: self.max_batch]
            del self._pending[: self.max_batch]
            try:
                results = await run_in_threadpool(self.live.current.moderate_many,
                                                  [item for item, _ in batch])
            except Exception as exc:  # a failed stage must fail these requests, not hang them
                for _, fut in batch:
                    if not fut.done():
                        fut.set_exception(exc)
                continue
            for (_, fut), res in zip(batch, results, strict=True):
                if fut.done():  # the client went away
                    continue
                if isinstance(res, InputError):
                    fut.set_exception(res)
                else:
                    fut.set_result(res)
