"""Per-channel policy: turns evidence (hits, PII, model scores) into a decision.

Kept apart from the matchers so an operator can change what happens without touching what
is found, and so a stored item's evidence can be re-decided under a new policy (dry runs).
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from moderation.categories import CATEGORIES, DECISION_RANK, DECISIONS
from moderation.errors import PolicyError
from moderation.pii import PII_TYPES
from moderation.types import Hit, Label, PiiFinding, Reason

MODES = ("pre", "post")
#: Names of the review workflow's own queues: a channel may not take one (its queue would
#: be the same as that queue).
RESERVED_CHANNELS = frozenset({"escalated", "appeals", "qa", "pending", "claims"})
DEFAULT_SLA_MINUTES = 240


@dataclass(frozen=True, slots=True)
class ModelRule:
    label: str = "offensive"
    category: str = "abuse"
    review_threshold: float = 0.5
    block_threshold: float | None = None


@dataclass(frozen=True, slots=True)
class Channel:
    name: str
    mode: str
    model_block: bool
    categories: Mapping[str, str] = field(default_factory=dict)
    pii: Mapping[str, str] = field(default_factory=dict)
    model_review_threshold: float | None = None
    model_block_threshold: float | None = None
    # Review workflow: minutes a reviewer has to decide (an item still undecided at twice
    # this escalates by itself), whether a reject needs a second reviewer, and the fraction
    # of machine pass/block decisions sampled into the `qa` queue.
    sla_minutes: int = DEFAULT_SLA_MINUTES
    second_review: bool = False
    qa_sample: float = 0.0


@dataclass(frozen=True, slots=True)
class Outcome:
    decision: str
    reasons: tuple[Reason, ...]


def _outcome(value: Any, where: str) -> str:
    if value not in DECISIONS:
        raise PolicyError(f"{where} must be one of pass, review, block, not {value!r}")
    return str(value)


def _threshold(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise PolicyError(f"{where} must be a number between 0 and 1, not {value!r}")
    return float(value)


def _sla(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 525_600:
        raise PolicyError(f"{where} must be a whole number of minutes from 1 to 525600, "
                          f"not {value!r}")
    return value


def _flag(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise PolicyError(f"{where} must be true or false, not {value!r}")
    return value


def _table(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise PolicyError(f"{where} must be a table")
    return value


def _category_map(value: Any, where: str) -> dict[str, str]:
    out = {}
    for cat, outcome in _table(value, where).items():
        if cat not in CATEGORIES:
            raise PolicyError(f"{where}: unknown category {cat!r}")
        out[cat] = _outcome(outcome, f"{where}.{cat}")
    return out


def _pii_map(value: Any, where: str) -> dict[str, str]:
    out = {}
    for kind, outcome in _table(value, where).items():
        if kind not in PII_TYPES:  # a typo would otherwise be silently ignored
            raise PolicyError(f"{where}: unknown personal-information type {kind!r}")
        out[kind] = _outcome(outcome, f"{where}.{kind}")
    return out


class Policy:
    """A parsed policy file; immutable once loaded."""

    def __init__(self, data: Mapping[str, Any], *, source: str, digest: str) -> None:
        self.name = str(data.get("name", "policy"))
        self.version = f"{self.name}@{digest[:12]}"
        self.source = source
        self.pii = _pii_map(data.get("pii", {}), "pii")
        m = _table(data.get("model", {}), "model")
        block = m.get("block_threshold")
        category = m.get("category", "abuse")
        if category not in CATEGORIES:
            raise PolicyError(f"model.category: unknown category {category!r}")
        self.model = ModelRule(
            label=str(m.get("label", "offensive")),
            category=category,
            review_threshold=_threshold(m.get("review_threshold", 0.5), "model.review_threshold"),
            block_threshold=None if block is None else _threshold(block, "model.block_threshold"),
        )
        lexicon = _table(data.get("lexicon", {}), "lexicon")
        two_person = lexicon.get("two_person_rule", False)
        if not isinstance(two_person, bool):
            raise PolicyError("lexicon.two_person_rule must be true or false")
        #: A lexicon publish that adds `block` terms waits for a second admin's approval.
        self.two_person_rule = two_person
        channels = _table(data.get("channels", {}), "channels")
        if not channels:
            raise PolicyError("the policy defines no [channels.NAME] table")
        self.channels: dict[str, Channel] = {}
        for name, raw in channels.items():
            c = _table(raw, f"channels.{name}")
            if name in RESERVED_CHANNELS:
                raise PolicyError(f"channels.{name}: {name!r} is the name of a review queue; "
                                  "give the channel another name")
            mode = c.get("mode", "pre")
            if mode not in MODES:
                raise PolicyError(f"channels.{name}.mode must be pre or post, not {mode!r}")
            review_t = c.get("model_review_threshold")
            block_t = c.get("model_block_threshold")
            self.channels[name] = Channel(
                name=name,
                mode=mode,
                model_block=bool(c.get("model_block", False)),
                categories=_category_map(c.get("categories", {}), f"channels.{name}.categories"),
                pii=_pii_map(c.get("pii", {}), f"channels.{name}.pii"),
                model_review_threshold=None
                if review_t is None
                else _threshold(review_t, f"channels.{name}.model_review_threshold"),
                model_block_threshold=None
                if block_t is None
                else _threshold(block_t, f"channels.{name}.model_block_threshold"),
                sla_minutes=_sla(c.get("sla_minutes", DEFAULT_SLA_MINUTES),
                                 f"channels.{name}.sla_minutes"),
                second_review=_flag(c.get("second_review", False),
                                    f"channels.{name}.second_review"),
                qa_sample=_threshold(c.get("qa_sample", 0.0), f"channels.{name}.qa_sample"),
            )

    @classmethod
    def from_bytes(cls, raw: bytes, *, source: str) -> Policy:
        try:
            data = tomllib.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise PolicyError(f"{source}: not a valid TOML file ({exc})") from exc
        return cls(data, source=source, digest=hashlib.sha256(raw).hexdigest())

    @classmethod
    def load(cls, path: str | Path | None = None) -> Policy:
        """Load a policy file; `None` loads the one shipped in the package."""
        if path is None:
            raw = resources.files("moderation").joinpath("data/policy.toml").read_bytes()
            return cls.from_bytes(raw, source="shipped")
        try:
            raw = Path(path).read_bytes()
        except OSError as exc:
            raise PolicyError(f"cannot read policy file {path}: {exc.strerror}") from exc
        return cls.from_bytes(raw, source=str(path))

    def channel(self, name: str) -> Channel:
        try:
            return self.channels[name]
        except KeyError:
            known = ", ".join(sorted(self.channels))
            raise PolicyError(f"unknown channel {name!r} (known: {known})") from None

    def publish(self, channel: str, decision: str) -> bool:
        """pass publishes, block never does, review does only on post-moderated channels."""
        if decision == "pass":
            return True
        if decision == "block":
            return False
        return self.channel(channel).mode == "post"

    def decide(
        self,
        channel: str,
        hits: Sequence[Hit],
        pii: Sequence[PiiFinding],
        labels: Sequence[Label],
    ) -> Outcome:
        """Apply the channel's rules; the strictest outcome of any reason wins."""
        ch = self.channel(channel)
        reasons: list[Reason] = []
        seen: set[tuple[str, str]] = set()
        for hit in hits:
            outcome = ch.categories.get(hit.category, hit.severity)
            if outcome != "pass" and (hit.term, outcome) not in seen:
                seen.add((hit.term, outcome))
                reasons.append(
                    Reason(
                        "lexicon",
                        hit.category,
                        outcome,
                        f"命中词库词「{hit.term}」（类别 {hit.category}，处置 {outcome}）",
                    )
                )
        for finding in pii:
            if not finding.validated:
                continue
            outcome = ch.pii.get(finding.type, self.pii.get(finding.type, "pass"))
            if outcome != "pass" and (finding.type, outcome) not in seen:
                seen.add((finding.type, outcome))
                reasons.append(
                    Reason(
                        "pii",
                        "personal_info",
                        outcome,
                        f"含有个人敏感信息：{finding.type}（{finding.masked}）",
                    )
                )
        reasons.extend(self._model_reasons(ch, labels))
        decision = max((r.decision for r in reasons), key=DECISION_RANK.__getitem__, default="pass")
        return Outcome(decision, tuple(reasons))

    def _model_reasons(self, ch: Channel, labels: Sequence[Label]) -> list[Reason]:
        rule = self.model
        score = next((lb.score for lb in labels if lb.label == rule.label), None)
        if score is None:
            return []
        block_t = (
            rule.block_threshold if ch.model_block_threshold is None else ch.model_block_threshold
        )
        review_t = (
            rule.review_threshold
            if ch.model_review_threshold is None
            else ch.model_review_threshold
        )
        can_block = ch.model_block and ch.name != "message"
        if can_block and block_t is not None and score >= block_t:
            outcome = "block"
        elif score >= review_t:
            outcome = "review"
        else:
            return []
        return [
            Reason(
                "model",
                rule.category,
                outcome,
                f"模型判定 {rule.label} 概率 {score:.2f}（阈值 {review_t:.2f}）",
            )
        ]
