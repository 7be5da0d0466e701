"""What the evasion layer changes on real, non-offensive text.

Runs the shipped lexicon (through the whole pipeline's policy, model off) over the COLD and
SWSR comments labelled non-offensive, once with the evasion layer and once without it
(`Lexicon(evasion=False)`: no pinyin, homophone or split matching, no Latin word edges;
look-alike folding lives in the normalizer and is on in both, its hits counted apart as
`variant`), and prints how many decisions differ, with every changed text (target: at most
0.3 % of texts, each change defensible).

Usage: .venv/bin/python scripts/bench_evasion.py [--datasets DIR] [--examples 40]
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from moderation.cli_model import datasets_dir  # noqa: E402
from moderation.lexicon import Lexicon  # noqa: E402
from moderation.pipeline import SHIPPED_LEXICON, Moderator  # noqa: E402
from moderation.policy import Policy  # noqa: E402


def non_offensive(datasets: Path) -> list[tuple[str, str]]:
    texts: list[tuple[str, str]] = []
    for split in ("train", "dev", "test"):
        with open(datasets / "cold" / f"{split}.csv", encoding="utf-8-sig", newline="") as fh:
            texts.extend(("cold", r["TEXT"]) for r in csv.DictReader(fh) if r["label"] == "0")
    with open(datasets / "swsr" / "SexComment.csv", encoding="utf-8-sig", newline="") as fh:
        texts.extend(
            ("swsr", r["comment_text"]) for r in csv.DictReader(fh) if r["label"] == "0"
        )
    return [(src, t) for src, t in texts if t.strip()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=Path, default=datasets_dir(None))
    parser.add_argument("--examples", type=int, default=40)
    args = parser.parse_args()
    if not (args.datasets / "cold").is_dir():
        print(f"bench_evasion: no datasets at {args.datasets}", file=sys.stderr)
        return 2
    base = Lexicon.load(SHIPPED_LEXICON)
    plain = Lexicon(base.terms, base.allow, evasion=False)
    policy = Policy.load(None)
    on, off = Moderator(base, policy), Moderator(plain, policy)
    texts = non_offensive(args.datasets)
    changed: list[tuple[str, str, str, str, str]] = []
    kinds: Counter[str] = Counter()
    variant_texts = 0
    for src, text in texts:
        text = text[:10_000]
        a = on.moderate(text, channel="comment")
        b = off.moderate(text, channel="comment")
        if any(h.match_kind == "variant" for h in a.hits):
            variant_texts += 1
        if a.decision != b.decision:
            new = [h for h in a.hits if h.match_kind != "exact"] or list(a.hits)
            kinds.update(h.match_kind for h in new)
            why = "; ".join(f"{h.term}/{h.match_kind}/{h.severity}@{h.text!r}" for h in new)
            if not a.hits:
                why = "dropped: " + "; ".join(f"{h.term}@{h.text!r}" for h in b.hits)
            changed.append((src, b.decision, a.decision, why, text))
    n = len(texts)
    print(f"non-offensive texts: {n} (COLD label 0 + SWSR label 0)")
    print(f"decisions changed by the evasion layer: {len(changed)} "
          f"({100 * len(changed) / n:.3f} %, target <= 0.3 %)")
    print(f"texts with a variant-character hit (normalizer, on in both runs): {variant_texts}")
    print(f"match kinds behind the changes: {dict(kinds)}")
    transitions = Counter((old, new) for _, old, new, _, _ in changed)
    print("transitions:", {f"{o}->{w}": c for (o, w), c in transitions.items()})
    for src, old, new, why, text in changed[: args.examples]:
        print(f"- [{src}] {old} -> {new}: {why}\n    {text[:120]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
