"""scripts/choose_thresholds.py: the figures at a threshold and the dev-precision rule."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "choose_thresholds.py"
spec = importlib.util.spec_from_file_location("choose_thresholds", SCRIPT)
ct = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ct)


def test_figures_count_flags_above_the_threshold() -> None:
    scores = [0.95, 0.91, 0.85, 0.60, 0.40, 0.92]
    labels = (1, 1, 0, 1, 0, 0)
    # above 0.9: 0.95 (1), 0.91 (1), 0.92 (0) -> TP 2, FP 1; 3 positives, 3 negatives
    f = ct.figures(scores, labels, 0.9)
    assert f == {"precision": 2 / 3, "recall": 2 / 3, "fpr": 1 / 3}
    assert ct.figures(scores, labels, 0.99) == {"precision": 1.0, "recall": 0.0, "fpr": 0.0}


def test_lowest_threshold_reaching_the_precision_floor() -> None:
    rows = [{"threshold": t, "dev": {"precision": p}}
            for t, p in ((0.5, 0.9), (0.6, 0.97), (0.7, 0.985), (0.8, 0.99), (0.9, 0.999))]
    assert ct.lowest(rows, "precision", ct.REVIEW_PRECISION) == 0.7
    assert ct.lowest(rows, "precision", ct.BLOCK_PRECISION) == 0.9
    assert ct.lowest(rows, "precision", 1.0) is None
