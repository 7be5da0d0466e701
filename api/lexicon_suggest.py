"""Candidate lexicon terms from confirmed evasions: what reviewers rejected but the lexicon
did not hit, compared with what they approved.

Texts are folded like the lexicon (`normalize`: noise between characters, traditional
forms and numerals undone) and every run of 2 to 5 characters is counted once per item:
evasive spellings (加薇芯) are not dictionary words, so a segmenter cuts them differently
from one text to the next, while character runs find them wherever they occur. A
candidate occurs in at least two rejected items and is at least `MIN_RATIO` times as
frequent (per item, smoothed) in rejected texts as in approved ones; terms already in
the lexicon are left out. An admin reviews the list and accepts terms into a draft:
nothing is added by itself.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from api.store.recent_items import ItemText
from moderation.lexicon import Lexicon
from moderation.normalize import normalize

MIN_REJECTED = 2
MIN_RATIO = 3.0
EXAMPLES = 3


MIN_LEN, MAX_LEN = 2, 5


def _candidates(text: str) -> set[str]:
    folded = normalize(text).text
    out = {folded[i:i + n] for n in range(MIN_LEN, MAX_LEN + 1)
           for i in range(len(folded) - n + 1)}
    return {w for w in out if not w.isascii()}


def suggest(items: list[ItemText], lexicon: Lexicon, limit: int = 20) -> dict[str, Any]:
    rejected = [i for i in items if i.status == "rejected" and not i.decision.get("hits")]
    approved = [i for i in items if i.status == "approved"]
    known = {t.key for t in lexicon.terms}
    rej: Counter[str] = Counter()
    examples: dict[str, list[str]] = defaultdict(list)
    for item in rejected:
        for word in _candidates(f"{item.title or ''} {item.content}"):
            rej[word] += 1
            if len(examples[word]) < EXAMPLES:
                examples[word].append(item.item_id)
    app: Counter[str] = Counter()
    for item in approved:
        app.update(_candidates(f"{item.title or ''} {item.content}") & rej.keys())
    n_rej, n_app = max(len(rejected), 1), max(len(approved), 1)
    scored = []
    for word, r in rej.items():
        if r < MIN_REJECTED or word in known:
            continue
        ratio = (r / n_rej) / ((app[word] + 0.5) / (n_app + 1))
        if ratio >= MIN_RATIO:
            scored.append({"term": word, "rejected": r, "approved": app[word],
                           "score": round(ratio, 2), "examples": examples[word]})
    scored.sort(key=lambda s: (-s["score"], -s["rejected"], s["term"]))
    return {"rejected_items": len(rejected), "approved_items": len(approved),
            "suggestions": _drop_contained(scored[:2000])[:limit]}


def _drop_contained(scored: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Leave out a candidate contained in a longer one with the same rejected count."""
    out = []
    for s in scored:
        if any(s["term"] != o["term"] and s["term"] in o["term"] and
               o["rejected"] == s["rejected"] for o in scored):
            continue
        out.append(s)
    return out
