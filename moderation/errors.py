"""Typed errors of the library.

Lower layers raise these; the CLI turns them into exit codes and the API turns them into
HTTP status codes in one handler, so no raw exception text ever reaches a user.
"""

from __future__ import annotations


class ModerationError(Exception):
    """Base class: every error carries a machine-readable `code` and a sentence for people."""

    code = "moderation_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class InputError(ModerationError):
    """The caller sent something we refuse to moderate (empty, too long, unknown channel)."""

    code = "invalid_input"


class LexiconError(ModerationError):
    """A lexicon file is malformed; the message names file and line so an admin can fix it."""

    code = "lexicon_invalid"

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None) -> None:
        where = f"{path}:{line}: " if path and line else (f"{path}: " if path else "")
        super().__init__(f"{where}{message}")
        self.path = path
        self.line = line


class PolicyError(ModerationError):
    """The policy file is malformed or names an unknown category or channel."""

    code = "policy_invalid"


class ModelLoadError(ModerationError):
    """The classifier directory is missing or corrupt; raised at start-up, never per request."""

    code = "model_unavailable"
