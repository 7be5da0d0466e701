#!/usr/bin/env python3
"""Choose the classifier's review and block thresholds on COLD dev, and show what they do on test.

A checkpoint's scores are its own (a weight soup compresses them, more training spreads them),
so the policy's `review_threshold` and `block_threshold` are re-derived for every model that
ships. The rule the shipped policy follows: review above the lowest threshold whose dev
precision is at least 98 %, block (only where a channel opts in) above the lowest whose dev
precision is at least 99.5 %. Dev selects; test and the anti-bias comments are reported beside
it, never used to choose.

    python scripts/choose_thresholds.py [--model DIR] [--quantize] [--datasets DIR]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from moderation.cli_model import datasets_dir, model_dir  # noqa: E402

REVIEW_PRECISION = 0.98
BLOCK_PRECISION = 0.995
GRID = [round(0.5 + 0.01 * k, 2) for k in range(50)]


def figures(scores: list[float], labels: tuple[int, ...], threshold: float) -> dict[str, float]:
    """Precision, recall and false-positive rate of "offensive above threshold"."""
    tp = sum(1 for s, y in zip(scores, labels, strict=True) if s > threshold and y == 1)
    fp = sum(1 for s, y in zip(scores, labels, strict=True) if s > threshold and y == 0)
    positives = sum(labels)
    negatives = len(labels) - positives
    return {"precision": tp / (tp + fp) if tp + fp else 1.0,
            "recall": tp / positives if positives else 0.0,
            "fpr": fp / negatives if negatives else 0.0}


def lowest(rows: list[dict], key: str, floor: float) -> float | None:
    """The lowest grid threshold whose dev figure `key` reaches `floor`."""
    return next((r["threshold"] for r in rows if r["dev"][key] >= floor), None)


def main(argv: list[str] | None = None) -> int:
    from moderation.classifier import Classifier
    from moderation.training.data import read_cold

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="checkpoint directory (default: the shipped model)")
    parser.add_argument("--quantize", action="store_true", help="int8, as the service serves")
    parser.add_argument("--datasets", help="datasets directory (default: MODERATION_DATASETS)")
    parser.add_argument("--json", action="store_true", help="print the table as JSON")
    args = parser.parse_args(argv)
    path = model_dir(args.model)
    if path is None:
        print("choose_thresholds: no model shipped; pass --model DIR", file=sys.stderr)
        return 2
    root = datasets_dir(args.datasets)
    clf = Classifier.load(path, quantize=args.quantize, batch_size=64)
    sets = {split: read_cold(root, split) for split in ("dev", "test")}
    scores = {split: [s["offensive"] for s in clf.predict(list(data.texts))]
              for split, data in sets.items()}
    test = sets["test"]
    assert test.fine is not None
    anti = [s for s, f in zip(scores["test"], test.fine, strict=True) if f == 3]
    rows = []
    for t in GRID:
        rows.append({"threshold": t,
                     "dev": figures(scores["dev"], sets["dev"].labels, t),
                     "test": figures(scores["test"], test.labels, t),
                     "anti_bias_flagged": sum(1 for s in anti if s > t) / len(anti)})
    review = lowest(rows, "precision", REVIEW_PRECISION)
    block = lowest(rows, "precision", BLOCK_PRECISION)
    result = {"model": clf.name, "quantized": args.quantize,
              "dev_max_score": max(scores["dev"]), "review_threshold": review,
              "block_threshold": block, "rows": rows}
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"{clf.name} ({'int8' if args.quantize else 'fp32'}); dev max score "
          f"{result['dev_max_score']:.3f}")
    print(f"{'thr':>5} {'dev P':>6} {'dev R':>6} {'dev FPR':>7} {'test P':>6} {'test R':>6} "
          f"{'test FPR':>8} {'anti-bias':>9}")
    for r in rows:
        if r["threshold"] in (0.5, review, block) or round(r["threshold"] * 100) % 5 == 0:
            d, s = r["dev"], r["test"]
            mark = " <- review" if r["threshold"] == review else (
                " <- block" if r["threshold"] == block else "")
            print(f"{r['threshold']:5.2f} {d['precision']:6.3f} {d['recall']:6.3f} "
                  f"{d['fpr']:7.1%} {s['precision']:6.3f} {s['recall']:6.3f} {s['fpr']:8.1%} "
                  f"{r['anti_bias_flagged']:9.1%}{mark}")
    print(f"review_threshold = {review}  (lowest with dev precision >= {REVIEW_PRECISION:.1%})")
    print(f"block_threshold = {block}  (lowest with dev precision >= {BLOCK_PRECISION:.1%})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
