"""portal-moderation: the moderation pipeline library.

Nothing in this package imports FastAPI or Redis: the service in `api/` wraps it, and the
CLI runs it offline for re-scans and lexicon checks.
"""

from moderation.types import Decision, Hit, Label, PiiFinding, Reason, Versions

__all__ = ["Decision", "Hit", "Label", "PiiFinding", "Reason", "Versions"]
__version__ = "0.1.0"
