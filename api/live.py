"""The one holder of a process's live `Moderator` (pipeline: lexicon, PII, model, policy).

Routes, the micro-batcher and (later) the dry run read `live.current` when they start a
piece of work and keep that object until it ends; a lexicon publish builds a new
`Moderator` off the request path and `swap`s it in with one assignment, so no request
ever sees a half-built automaton.
"""

from __future__ import annotations

from moderation.pipeline import Moderator


class LiveModerator:
    def __init__(self, moderator: Moderator) -> None:
        self._current = moderator

    @property
    def current(self) -> Moderator:
        return self._current

    def swap(self, moderator: Moderator) -> Moderator:
        """Make `moderator` the live one; returns the one it replaced."""
        old, self._current = self._current, moderator
        return old
