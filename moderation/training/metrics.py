"""Classification metrics: accuracy, macro-F1, per-class precision/recall/F1, confusion matrix.

Written out in plain Python so evaluation needs no scikit-learn and every figure in a model
card can be traced to these few lines.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def confusion_matrix(y_true: Sequence[int], y_pred: Sequence[int],
                     n_classes: int) -> list[list[int]]:
    """Rows are the true class, columns the predicted class."""
    matrix = [[0] * n_classes for _ in range(n_classes)]
    for t, p in zip(y_true, y_pred, strict=True):
        matrix[t][p] += 1
    return matrix


def _ratio(num: int, den: int) -> float:
    return num / den if den else 0.0


def _per_class(matrix: list[list[int]]) -> list[tuple[float, float, float, int]]:
    """(precision, recall, F1, support) of each class, unrounded."""
    n_classes = len(matrix)
    out = []
    for k in range(n_classes):
        tp = matrix[k][k]
        support = sum(matrix[k])
        precision = _ratio(tp, sum(matrix[r][k] for r in range(n_classes)))
        recall = _ratio(tp, support)
        f1 = _ratio(2 * precision * recall, precision + recall) if precision + recall else 0.0
        out.append((precision, recall, f1, support))
    return out


def report(y_true: Sequence[int], y_pred: Sequence[int], labels: Sequence[str]) -> dict[str, Any]:
    """`n`, `accuracy`, `macro_f1` (fractions 0-1), `per_class` and `confusion_matrix`."""
    n_classes = len(labels)
    matrix = confusion_matrix(y_true, y_pred, n_classes)
    scores = _per_class(matrix)
    per_class = {
        name: {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f1, 4),
               "support": support}
        for name, (p, r, f1, support) in zip(labels, scores, strict=True)
    }
    n = len(y_true)
    correct = sum(matrix[k][k] for k in range(n_classes))
    return {
        "n": n,
        "accuracy": round(_ratio(correct, n), 4),
        "macro_f1": round(sum(s[2] for s in scores) / n_classes, 4) if n_classes else 0.0,
        "per_class": per_class,
        "confusion_matrix": matrix,
    }


def macro_f1(y_true: Sequence[int], y_pred: Sequence[int], n_classes: int) -> float:
    """Unrounded macro-F1, for model selection."""
    scores = _per_class(confusion_matrix(y_true, y_pred, n_classes))
    return sum(s[2] for s in scores) / n_classes
