"""Value types a decision is made of.

Every piece of evidence reads like Presidio's results: what fired, where (code-point
offsets into the ORIGINAL field text, end exclusive) and why, so a reviewer or an auditor
can replay the decision.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Field = Literal["content", "title"]
Outcome = Literal["pass", "review", "block"]


@dataclass(frozen=True, slots=True)
class Hit:
    """One lexicon term found in a field; `text` is `original[start:end]`.

    `match_kind` says how the term matched: `exact` (as written, up to what normalization
    folds), `variant` (through a look-alike or variant character: `сеx`, `薬`), `pinyin`
    (`mi药`, `miyao`, initials), `homophone` (`谜药`) or `split` (`木仓` for 枪).
    """

    field: str
    term: str
    category: str
    severity: str
    start: int
    end: int
    text: str
    match_kind: str = "exact"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class PiiFinding:
    """One piece of personal information; `validated` means every check of its type passed."""

    field: str
    type: str
    start: int
    end: int
    validated: bool
    masked: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Label:
    """One model label with its score (0-1) on the whole text (max over windows)."""

    label: str
    score: float

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "score": round(self.score, 6)}


@dataclass(frozen=True, slots=True)
class Reason:
    """Why the decision is what it is, in words a reviewer understands.

    `source` is `lexicon`, `pii`, `model` or `degraded`; `category` is one of
    `moderation.categories.CATEGORIES` (reviewers' reason codes are the same ids).
    """

    source: str
    category: str
    decision: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Versions:
    """What produced a decision: enough to replay it later."""

    lexicon: int | None
    lexicon_hash: str
    model: str | None
    policy: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer for one item (title + content) on one channel.

    `hits` and `pii` keep at most a fixed number of entries per field (the policy saw them
    all), so a hit-dense text cannot make a decision of megabytes; `hits_total` /
    `pii_total` are the full counts when entries were left out, else None.
    """

    decision: str
    channel: str
    publish: bool
    reasons: tuple[Reason, ...]
    hits: tuple[Hit, ...]
    pii: tuple[PiiFinding, ...]
    labels: tuple[Label, ...]
    masked_text: str
    masked_title: str | None
    versions: Versions
    degraded: bool = False
    degraded_stages: tuple[str, ...] = field(default=())
    suppressed: tuple[Hit, ...] = field(default=())
    hits_total: int | None = None
    pii_total: int | None = None

    def to_dict(self, *, include_suppressed: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "decision": self.decision,
            "channel": self.channel,
            "publish": self.publish,
            "reasons": [r.to_dict() for r in self.reasons],
            "hits": [h.to_dict() for h in self.hits],
            "pii": [p.to_dict() for p in self.pii],
            "labels": [label.to_dict() for label in self.labels],
            "masked_text": self.masked_text,
            "versions": self.versions.to_dict(),
            "degraded": self.degraded,
        }
        if self.masked_title is not None:
            out["masked_title"] = self.masked_title
        if self.degraded:
            out["degraded_stages"] = list(self.degraded_stages)
        if self.hits_total is not None:
            out["hits_truncated"] = True
            out["hits_total"] = self.hits_total
        if self.pii_total is not None:
            out["pii_truncated"] = True
            out["pii_total"] = self.pii_total
        if include_suppressed:
            out["suppressed"] = [h.to_dict() for h in self.suppressed]
        return out
