"""Keeps a process's live lexicon on the store's current version (the reload listener).

At start-up the store is seeded with version 1 from the lexicon the process loaded
(`lexicons/` or `--lexicon`) when it holds no version yet; a store that has versions wins
over the directory. Then a per-process background task listens on
`keys.VERSION_CHANNEL` and, as a safety net for a missed announcement (a dropped
connection, a Redis restart), compares the current version every `poll_s` seconds. A new
version is built in a worker thread, never on the event loop, and swapped in with
`LiveModerator.swap`: requests keep the moderator they started with, none sees a
half-built automaton.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import redis.asyncio as aioredis

from api import audit
from api.live import LiveModerator
from api.store import keys
from api.store.lexicon_content import Content
from api.store.lexicon_versions import LexiconVersions
from moderation.lexicon import Lexicon, with_version
from moderation.pipeline import Moderator

log = logging.getLogger("api.lexicon")
#: One wait for a message: under the Redis socket timeout, so a quiet channel is not an error.
_WAIT_S = 0.25


def _build(live: Moderator, content: Content, version: int) -> Moderator:
    """The new moderator (runs in a worker thread: seconds for a 64k-term list)."""
    lexicon: Lexicon = content.build(version)
    moderator = live.with_lexicon(lexicon)
    moderator.warm_up()
    return moderator


class LexiconReloader:
    """One process's follower of the current lexicon version."""

    def __init__(self, r: aioredis.Redis, live: LiveModerator, *, poll_s: float = 2.0) -> None:
        self.r = r
        self.live = live
        self.versions = LexiconVersions(r)
        self.poll_s = poll_s
        self._lock = asyncio.Lock()
        self._pubsub: Any = None
        self.reloads = 0
        #: The lexicon this process loaded from its directory: what seeds a fresh store.
        self.seed_lexicon = live.current.lexicon

    @property
    def version(self) -> int | None:
        return self.live.current.lexicon.version

    async def ensure_seeded(self) -> int:
        """The current version, after seeding version 1 from this process's directory when
        the store holds none (a fresh data directory, or a store emptied since)."""
        current = await self.versions.current()
        if current is None:
            lexicon = self.seed_lexicon
            content = Content.from_terms(lexicon.terms, lexicon.allow, author="system",
                                         time=audit.now_iso())
            current = await self.versions.seed(content)
        return current

    async def start(self) -> None:
        """Seed version 1 on a fresh store, then serve the current version."""
        await self.ensure_seeded()
        await self.sync()

    async def sync(self) -> bool:
        """Swap in the current version when it is not the live one; True when swapped."""
        async with self._lock:
            # The listener only follows: it never writes (a store emptied under a running
            # service is re-seeded by the next start or lexicon call, not by a poll).
            current = await self.versions.current()
            if current is None or current == self.version:
                return False
            t0 = time.perf_counter()
            meta = await self.versions.meta(current)
            live = self.live.current
            same = next((lx for lx in (live.lexicon, self.seed_lexicon)
                         if lx.content_hash == meta.content_hash), None)
            if same is not None:
                # same content (the seed of this process's own directory, or a rollback to
                # what it serves): relabel, no rebuild
                moderator = live.with_lexicon(with_version(same, current))
            else:
                content = await self.versions.content(current)  # decoded off the loop
                moderator = await asyncio.to_thread(_build, live, content, current)
            self.live.swap(moderator)
            self.reloads += 1
            log.info("lexicon version %s live (%.0f ms)", current,
                     (time.perf_counter() - t0) * 1000)
            return True

    async def _subscribe(self) -> Any:
        if self._pubsub is None:
            pubsub = self.r.pubsub(ignore_subscribe_messages=True)
            await pubsub.subscribe(keys.VERSION_CHANNEL)
            self._pubsub = pubsub
        return self._pubsub

    async def _drop(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            with contextlib.suppress(Exception):
                await pubsub.aclose()

    async def run(self) -> None:
        """One round: wait up to `poll_s` for an announcement, then sync (the poll)."""
        try:
            pubsub = await self._subscribe()
            deadline = time.monotonic() + self.poll_s
            while time.monotonic() < deadline:
                message = await pubsub.get_message(timeout=_WAIT_S)
                if message is not None and message.get("type") == "message":
                    break
        except Exception:
            await self._drop()  # resubscribe next round; the poll below still runs
            with contextlib.suppress(Exception):
                await self.sync()
            raise
        await self.sync()

    async def stop(self) -> None:
        await self._drop()
