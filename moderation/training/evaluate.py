"""The evaluation report: whole-file figures plus COLD's clean and anti-bias views.

Top-level figures always cover the whole file. COLD test shares 39 texts with train (4 of them
with other labels), so the same figures without those texts go under
`without_train_overlap`; its fine-grained label 3 (anti-bias speech, the closest thing to a
citizen's legitimate post about a group) gets its own false-positive rate under `anti_bias`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from moderation.training.data import LabeledTexts
from moderation.training.metrics import report

ANTI_BIAS = 3


def positive_index(labels: Sequence[str]) -> int:
    """The class counted as a flag: `offensive` when named, else the last label."""
    return labels.index("offensive") if "offensive" in labels else len(labels) - 1


def evaluation(data: LabeledTexts, predicted: Sequence[int], labels: Sequence[str], *,
               train_texts: Iterable[str] | None = None) -> dict[str, Any]:
    """The JSON object `moderation model evaluate` prints."""
    if len(predicted) != len(data):
        raise ValueError("one prediction per text is needed")
    unknown = sorted({y for y in data.labels if not 0 <= y < len(labels)})
    if unknown:
        raise ValueError(f"labels {unknown} are outside the model's {len(labels)} classes")
    out: dict[str, Any] = {"data": data.name, "labels": list(labels)}
    out.update(report(data.labels, predicted, labels))
    if train_texts is not None:
        seen = set(train_texts)
        keep = [t not in seen for t in data.texts]
        clean = data.subset(keep)
        sub = report(clean.labels, [p for p, k in zip(predicted, keep, strict=True) if k], labels)
        sub["removed"] = len(data) - len(clean)
        out["without_train_overlap"] = sub
    if data.fine is not None and ANTI_BIAS in data.fine:
        flag = positive_index(labels)
        rows = [p for p, f in zip(predicted, data.fine, strict=True) if f == ANTI_BIAS]
        flagged = sum(1 for p in rows if p == flag)
        out["anti_bias"] = {"n": len(rows), "flagged": flagged,
                            "false_positive_rate": round(flagged / len(rows), 4)}
    return out
