"""The moderation pipeline: normalize → lexicon → PII → classifier → policy → Decision.

`Moderator` holds one immutable lexicon, policy and (optionally) classifier; swapping a
lexicon version is replacing the reference (`with_lexicon`), so concurrent requests never
see a mix. A stage that fails never lets content through silently: the decision becomes at
least `review`, `degraded: true`, with the failing stage named.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from moderation.categories import DECISION_RANK
from moderation.errors import InputError, ModelLoadError, PolicyError
from moderation.lexicon import Lexicon, LexiconMatch
from moderation.normalize import is_blank
from moderation.pii import find_pii, mask_text
from moderation.policy import Channel, Policy
from moderation.types import Decision, Hit, Label, PiiFinding, Reason, Versions

if TYPE_CHECKING:
    from moderation.classifier import Classifier

log = logging.getLogger(__name__)

MAX_FIELD_CHARS = 10_000
# Evidence kept per field in a decision: 10,000 hit-dense characters hold thousands of
# hits (a 1 MB decision); the policy decides on all of them, the decision lists these.
MAX_HITS_PER_FIELD = 100
MAX_PII_PER_FIELD = 100
REPO_ROOT = Path(__file__).resolve().parent.parent
SHIPPED_LEXICON = REPO_ROOT / "lexicons"


@dataclass(frozen=True, slots=True)
class _Item:
    content: str
    title: str | None
    channel: str


@dataclass(frozen=True, slots=True)
class _Evidence:
    hits: tuple[Hit, ...]
    suppressed: tuple[Hit, ...]
    pii: tuple[PiiFinding, ...]
    masked_text: str
    masked_title: str | None
    failed: tuple[str, ...]


E = TypeVar("E", Hit, PiiFinding)


def cap_per_field(found: Sequence[E], limit: int) -> tuple[tuple[E, ...], int | None]:
    """The first `limit` entries of each field, in order, and the full count when any
    were left out (None when all are kept)."""
    kept: list[E] = []
    per_field: dict[str, int] = {}
    for entry in found:
        n = per_field.get(entry.field, 0)
        per_field[entry.field] = n + 1
        if n < limit:
            kept.append(entry)
    return (tuple(found), None) if len(kept) == len(found) else (tuple(kept), len(found))


def _check_field(value: Any, name: str, *, required: bool) -> str:
    if not isinstance(value, str):
        raise InputError(f"{name} must be a string", code="invalid_type")
    if required and is_blank(value):
        raise InputError(f"{name} is empty", code="empty_content")
    if len(value) > MAX_FIELD_CHARS:
        raise InputError(
            f"{name} has {len(value)} characters; the limit is {MAX_FIELD_CHARS}",
            code="field_too_long",
        )
    return value


class Moderator:
    """Moderates items; thread-safe (all state is read-only)."""

    def __init__(
        self,
        lexicon: Lexicon,
        policy: Policy,
        classifier: Classifier | None = None,
    ) -> None:
        self.lexicon = lexicon
        self.policy = policy
        self.classifier = classifier
        #: Fixed for this moderator's lifetime: a new version is a new Moderator.
        self.versions = Versions(
            lexicon=lexicon.version,
            lexicon_hash=lexicon.content_hash,
            model=classifier.name if classifier is not None else None,
            policy=policy.version,
        )

    @property
    def channels(self) -> tuple[str, ...]:
        return tuple(self.policy.channels)

    def channel_mode(self, channel: str) -> str:
        return self._channel(channel).mode

    def warm_up(self) -> None:
        """Load lazily built tables now (folding table, jieba's dictionary) so the first
        request after start-up or a lexicon swap is as fast as the rest."""
        from moderation.normalize import warm_up as warm_normalize

        warm_normalize()
        if self.lexicon.has_word_terms:
            from moderation.segment import warm_up as warm_segment

            warm_segment()
        self.moderate("预热：小区门口的路灯坏了", title="预热", channel=self.channels[0])

    def with_lexicon(self, lexicon: Lexicon) -> Moderator:
        """A moderator identical to this one but for the lexicon (for hot swaps)."""
        return Moderator(lexicon, self.policy, self.classifier)

    def _channel(self, channel: str) -> Channel:
        try:
            return self.policy.channel(channel)
        except PolicyError as exc:
            raise InputError(exc.message, code="unknown_channel") from None

    def _validate(self, content: Any, title: Any, channel: Any) -> _Item:
        if not isinstance(channel, str):
            raise InputError("channel must be a string", code="invalid_type")
        self._channel(channel)
        return _Item(
            _check_field(content, "content", required=True),
            None if title is None else _check_field(title, "title", required=False),
            channel,
        )

    def moderate(
        self, content: str, *, title: str | None = None, channel: str = "comment"
    ) -> Decision:
        """Moderate one item; raises `InputError` for input we refuse."""
        item = self._validate(content, title, channel)
        labels, model_failed = self._classify([item])
        return self._decide(item, self._evidence(item), labels[0], model_failed)

    def moderate_many(self, items: Sequence[Mapping[str, Any]]) -> list[Decision | InputError]:
        """Moderate a batch (one classifier call); a bad item yields its error, not a failure."""
        checked: list[_Item | InputError] = []
        for raw in items:
            try:
                if not isinstance(raw, Mapping):
                    raise InputError("each item must be an object", code="invalid_type")
                checked.append(
                    self._validate(
                        raw.get("content"), raw.get("title"), raw.get("channel", "comment")
                    )
                )
            except InputError as exc:
                checked.append(exc)
        good = [c for c in checked if isinstance(c, _Item)]
        labels, model_failed = self._classify(good)
        by_item = iter(labels)
        out: list[Decision | InputError] = []
        for c in checked:
            if isinstance(c, InputError):
                out.append(c)
            else:
                out.append(self._decide(c, self._evidence(c), next(by_item), model_failed))
        return out

    # -- stages ---------------------------------------------------------------------------

    def _evidence(self, item: _Item) -> _Evidence:
        failed: list[str] = []
        hits: list[Hit] = []
        suppressed: list[Hit] = []
        findings: list[PiiFinding] = []
        masked: dict[str, str | None] = {"content": item.content, "title": item.title}
        for name, text in (("title", item.title), ("content", item.content)):
            if not text:
                continue
            try:
                found: LexiconMatch = self.lexicon.match(text, name)
                hits.extend(found.hits)
                suppressed.extend(found.suppressed)
            except Exception:  # a broken stage must degrade, never pass silently
                log.exception("lexicon stage failed")
                if "lexicon" not in failed:
                    failed.append("lexicon")
            try:
                field_pii = find_pii(text, name)
                findings.extend(field_pii)
                masked[name] = mask_text(text, field_pii)
            except Exception:
                log.exception("pii stage failed")
                if "pii" not in failed:
                    failed.append("pii")
                masked[name] = "*" * len(text)  # never leak what we could not inspect
        return _Evidence(
            tuple(hits),
            tuple(suppressed),
            tuple(findings),
            masked["content"] or "",
            masked["title"],
            tuple(failed),
        )

    def _classify(self, items: Sequence[_Item]) -> tuple[list[tuple[Label, ...]], bool]:
        if self.classifier is None or not items:
            return [() for _ in items], False
        texts = [f"{i.title}\n{i.content}" if i.title else i.content for i in items]
        try:
            scores = self.classifier.predict(texts)
        except Exception:
            log.exception("classifier stage failed")
            return [() for _ in items], True
        return [
            tuple(Label(name, float(score)) for name, score in s.items()) for s in scores
        ], False

    def _decide(
        self, item: _Item, ev: _Evidence, labels: tuple[Label, ...], model_failed: bool
    ) -> Decision:
        outcome = self.policy.decide(item.channel, ev.hits, ev.pii, labels)
        decision = outcome.decision
        reasons = list(outcome.reasons)
        failed = ev.failed + (("classifier",) if model_failed else ())
        if failed:
            if DECISION_RANK[decision] < DECISION_RANK["review"]:
                decision = "review"
            reasons.append(
                Reason(
                    "degraded",
                    "other",
                    "review",
                    f"处理环节失败：{', '.join(failed)}，转人工审核",
                )
            )
        hits, hits_total = cap_per_field(ev.hits, MAX_HITS_PER_FIELD)
        pii, pii_total = cap_per_field(ev.pii, MAX_PII_PER_FIELD)
        return Decision(
            decision=decision,
            channel=item.channel,
            publish=self.policy.publish(item.channel, decision),
            reasons=tuple(reasons),
            hits=hits,
            pii=pii,
            labels=labels,
            masked_text=ev.masked_text,
            masked_title=ev.masked_title,
            versions=self.versions,
            degraded=bool(failed),
            degraded_stages=failed,
            suppressed=ev.suppressed,
            hits_total=hits_total,
            pii_total=pii_total,
        )


def _resolve_model(model: str | Path | None) -> Path | None:
    """`"default"` → the shipped model if there is one; `None`/`"none"` → no model."""
    if model is None or str(model).lower() == "none":
        return None
    if str(model) == "default":
        try:
            from moderation.classifier import default_model_path
        except ImportError:
            return None
        return default_model_path()
    return Path(model)


def load_moderator(
    lexicon_dir: str | Path | None = None,
    policy_path: str | Path | None = None,
    model: str | Path | None = "default",
    *,
    model_threads: int | None = None,
    quantize: bool = False,
    warm: bool = True,
) -> Moderator:
    """Build a moderator from paths; every failure here is a start-up error, not a 500 later.

    An explicitly named model that fails to load raises `ModelLoadError`; the default
    model is simply absent (with one warning) while none is shipped.
    """
    lexicon = Lexicon.load(lexicon_dir if lexicon_dir is not None else SHIPPED_LEXICON)
    policy = Policy.load(policy_path)
    classifier = None
    path = _resolve_model(model)
    if path is None:
        if model is not None and str(model) == "default":
            log.warning("no classifier model is shipped; running lexicon and PII only")
    else:
        if not path.exists():
            raise ModelLoadError(f"model directory {path} does not exist")
        from moderation.classifier import Classifier

        classifier = Classifier.load(path, threads=model_threads, quantize=quantize)
    moderator = Moderator(lexicon, policy, classifier)
    if warm:
        moderator.warm_up()
    return moderator
