"""The evaluation report: whole-file figures plus COLD's clean and anti-bias views.

Top-level figures always cover the whole file. COLD test shares 39 texts with train (4 of them
with other labels), so the same figures without those texts go under
`without_train_overlap`; its fine-grained label 3 (anti-bias speech, the closest thing to a
citizen's legitimate post about a group) gets its own false-positive rate under `anti_bias`,
and every fine-grained label its flag rate under `per_fine_label` (a flag is right for 1 and 2,
wrong for 0 and 3). `per_topic` splits the figures by COLD's topic (race, region, gender) or
SWSR's sexism category, where an average hides a topic the model fails on.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from moderation.training.data import LabeledTexts
from moderation.training.metrics import report

ANTI_BIAS = 3
FINE_LABEL_NAMES = {0: "other non-offensive", 1: "attack individual", 2: "attack group",
                    3: "anti-bias"}


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
    if data.fine is not None:
        out["per_fine_label"] = per_fine_label(data.fine, predicted, positive_index(labels))
    if data.topics is not None:
        out["per_topic"] = per_topic(data, predicted, labels)
    return out


def per_fine_label(fine: Sequence[int], predicted: Sequence[int],
                   flag: int) -> dict[str, dict[str, Any]]:
    """For each fine-grained label: how many rows, how many the model flagged, and the rate."""
    out: dict[str, dict[str, Any]] = {}
    for value in sorted(set(fine)):
        rows = [p for p, f in zip(predicted, fine, strict=True) if f == value]
        flagged = sum(1 for p in rows if p == flag)
        out[str(value)] = {"name": FINE_LABEL_NAMES.get(value, str(value)), "n": len(rows),
                           "flagged": flagged, "flag_rate": round(flagged / len(rows), 4)}
    return out


def per_topic(data: LabeledTexts, predicted: Sequence[int],
              labels: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Accuracy, macro-F1 and flag rate within each topic (macro-F1 is null for a slice with
    one true class, such as an SWSR sexism category: there it would only restate accuracy)."""
    assert data.topics is not None
    flag = positive_index(labels)
    out: dict[str, dict[str, Any]] = {}
    for topic in sorted(set(data.topics)):
        keep = [t == topic for t in data.topics]
        y_true = [y for y, k in zip(data.labels, keep, strict=True) if k]
        y_pred = [p for p, k in zip(predicted, keep, strict=True) if k]
        figures = report(y_true, y_pred, labels)
        out[topic] = {"n": figures["n"], "accuracy": figures["accuracy"],
                      "macro_f1": figures["macro_f1"] if len(set(y_true)) > 1 else None,
                      "flag_rate": round(sum(1 for p in y_pred if p == flag) / len(y_pred), 4)}
    return out
