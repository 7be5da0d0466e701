"""The dry run of a lexicon draft: what it would change on recent traffic.

Each stored item is moderated twice, with the live lexicon and with the draft's, reusing
the item's stored model scores (`labels`): only lexicon, PII and policy run again, so a
thousand items take a fraction of a second and the model is never called. Comparing the
two re-runs (not the stored decision) isolates the draft's own effect from older
lexicons, policies or models that produced the stored decisions.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from api.store.recent_items import ItemText
from moderation.errors import InputError
from moderation.lexicon import Lexicon
from moderation.pipeline import Moderator
from moderation.policy import Policy
from moderation.types import Hit, Label

EXAMPLES = 20


@dataclass(frozen=True, slots=True)
class _Outcome:
    decision: str
    hits: tuple[Hit, ...]


def _labels(decision: dict[str, Any]) -> tuple[Label, ...]:
    return tuple(Label(str(x["label"]), float(x["score"])) for x in decision.get("labels") or ()
                 if isinstance(x, dict) and "label" in x and "score" in x)


def _redecide(mod: Moderator, item: ItemText, labels: tuple[Label, ...]) -> _Outcome:
    """Lexicon + PII + policy with the stored labels (the moderator has no classifier)."""
    d = mod.moderate(item.content, title=item.title, channel=item.channel)
    outcome = mod.policy.decide(item.channel, d.hits, d.pii, labels)
    return _Outcome(outcome.decision, d.hits)


def _hit(h: Hit) -> dict[str, Any]:
    return {"field": h.field, "term": h.term, "category": h.category,
            "severity": h.severity, "start": h.start, "end": h.end, "text": h.text}


def dry_run(items: list[ItemText], live: Lexicon, draft: Lexicon, policy: Policy
            ) -> dict[str, Any]:
    """Compare the live lexicon and the draft's over `items` (runs in a worker thread)."""
    t0 = time.perf_counter()
    before_mod = Moderator(live, policy, None)
    after_mod = Moderator(draft, policy, None)
    transitions: Counter[str] = Counter()
    examples: list[dict[str, Any]] = []
    skipped = changed = hits_changed = 0
    for item in items:
        labels = _labels(item.decision)
        try:
            before = _redecide(before_mod, item, labels)
            after = _redecide(after_mod, item, labels)
        except InputError:  # a channel the policy no longer has, an over-long text
            skipped += 1
            continue
        old = {(h.field, h.term, h.start, h.end) for h in before.hits}
        new = {(h.field, h.term, h.start, h.end) for h in after.hits}
        if old != new:
            hits_changed += 1
        if before.decision == after.decision:
            continue
        changed += 1
        transitions[f"{before.decision}→{after.decision}"] += 1
        if len(examples) < EXAMPLES:
            examples.append({
                "item_id": item.item_id, "data_id": item.data_id, "channel": item.channel,
                "from": before.decision, "to": after.decision,
                "added_hits": [_hit(h) for h in after.hits
                               if (h.field, h.term, h.start, h.end) not in old],
                "removed_hits": [_hit(h) for h in before.hits
                                 if (h.field, h.term, h.start, h.end) not in new],
            })
    return {"items": len(items) - skipped, "skipped": skipped, "changed": changed,
            "unchanged": len(items) - skipped - changed, "hits_changed": hits_changed,
            "transitions": dict(sorted(transitions.items())), "examples": examples,
            "elapsed_ms": round((time.perf_counter() - t0) * 1000, 1)}
