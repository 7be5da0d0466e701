"""A decision regrouped by category, the shape both vendors' answers are built from.

Each category with a reason that is not `pass` becomes one `Finding`: its strongest
decision, a 0-100 integer score (lexicon and PII findings are certain: 100; the model's
is its probability), and every lexicon hit (the original text and its code-point span,
end exclusive) or PII finding (masked: raw personal data never leaves in an answer).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from moderation.categories import DECISION_RANK


@dataclass(frozen=True, slots=True)
class Hit:
    keyword: str
    start: int
    end: int
    kind: str  # "lexicon" | "pii"


@dataclass
class Finding:
    category: str
    decision: str
    score: int
    hits: list[Hit] = field(default_factory=list)
    sources: set[str] = field(default_factory=set)

    @property
    def keywords(self) -> list[str]:
        return list(dict.fromkeys(h.keyword for h in self.hits))


def _model_score(decision: dict[str, Any]) -> int:
    scores = [float(x.get("score", 0)) for x in decision.get("labels", ())]
    return int(round(max(scores) * 100)) if scores else 100


def findings(decision: dict[str, Any]) -> list[Finding]:
    """Non-pass findings, strongest first (the first is the answer's main label)."""
    by_cat: dict[str, Finding] = {}
    for reason in decision.get("reasons", ()):
        verdict = reason.get("decision", "pass")
        cat = reason.get("category") or "other"
        if verdict == "pass" or verdict not in DECISION_RANK:
            continue
        score = _model_score(decision) if reason.get("source") == "model" else 100
        f = by_cat.get(cat)
        if f is None:
            f = by_cat[cat] = Finding(cat, verdict, score)
        elif DECISION_RANK[verdict] > DECISION_RANK[f.decision]:
            f.decision = verdict
        f.score = max(f.score, score)
        f.sources.add(str(reason.get("source")))
    for h in decision.get("hits", ()):
        f = by_cat.get(h.get("category"))
        if f is not None and h.get("field", "content") == "content":
            f.hits.append(Hit(h["text"], int(h["start"]), int(h["end"]), "lexicon"))
    pii = by_cat.get("personal_info")
    if pii is not None and "pii" in pii.sources:
        for p in decision.get("pii", ()):
            if p.get("field", "content") == "content":
                pii.hits.append(Hit(p["masked"], int(p["start"]), int(p["end"]), "pii"))
    return sorted(by_cat.values(), key=lambda f: (-DECISION_RANK[f.decision], -f.score))
