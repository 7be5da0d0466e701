"""Reading labelled text for training and evaluation: any CSV, COLD, and SWSR's grouped split.

The datasets live outside the repository; callers pass their directory in (the CLI reads
`MODERATION_DATASETS`). Pitfalls handled here rather than in every caller: COLD's files start
with a BOM, COLD's first column is not an id, SWSR has no official split and comments on the
same post must not straddle train and held-out.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from moderation.errors import InputError

COLD_SPLITS = ("train", "dev", "test")
SWSR_FILE = "SexComment.csv"
SWSR_SEED = 2022
SWSR_HELDOUT_FRACTION = 0.2


@dataclass(frozen=True)
class LabeledTexts:
    """Texts with integer labels; `fine` holds COLD test's fine-grained labels where present,
    `topics` the slice each row belongs to (COLD's topic, SWSR's sexism category) where known."""

    texts: tuple[str, ...]
    labels: tuple[int, ...]
    fine: tuple[int, ...] | None = None
    name: str = ""
    extra: dict[str, object] = field(default_factory=dict)
    topics: tuple[str, ...] | None = None

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, keep: Sequence[bool], name: str | None = None) -> LabeledTexts:
        """The rows where `keep` is true, in order."""
        pick = [i for i, k in enumerate(keep) if k]
        return LabeledTexts(
            texts=tuple(self.texts[i] for i in pick),
            labels=tuple(self.labels[i] for i in pick),
            fine=tuple(self.fine[i] for i in pick) if self.fine is not None else None,
            name=name if name is not None else self.name,
            topics=tuple(self.topics[i] for i in pick) if self.topics is not None else None,
        )


def concat(*parts: LabeledTexts, name: str | None = None) -> LabeledTexts:
    """Rows of several sets in order (fine-grained labels and topics dropped)."""
    return LabeledTexts(
        texts=tuple(t for p in parts for t in p.texts),
        labels=tuple(y for p in parts for y in p.labels),
        name=name if name is not None else "+".join(p.name for p in parts),
    )


def _read_rows(path: Path,
               required: Sequence[str] = ()) -> tuple[list[str], list[dict[str, str]]]:
    """Columns and rows of a UTF-8 CSV file (BOM tolerated) that has every `required` one."""
    if not path.is_file():
        raise InputError(f"Data file {path} does not exist.", code="dataset_missing")
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            rows = list(reader)
            columns = list(reader.fieldnames or [])
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"Data file {path} is not a UTF-8 CSV file ({exc}).",
                         code="dataset_invalid") from exc
    for column in required:
        if column not in columns:
            raise InputError(f"Data file {path} has no column {column!r} "
                             f"(columns: {', '.join(columns)}).", code="dataset_invalid")
    return columns, rows


def read_csv(path: Path, *, text_column: str = "TEXT", label_column: str = "label",
             fine_column: str | None = "fine-grained-label",
             topic_column: str | None = "topic") -> LabeledTexts:
    """A labelled CSV (UTF-8, BOM tolerated); labels must be integers 0..k-1."""
    columns, rows = _read_rows(path, (text_column, label_column))
    texts, labels = [], []
    for line, row in enumerate(rows, start=2):
        try:
            labels.append(int(row[label_column]))
        except (TypeError, ValueError) as exc:
            raise InputError(f"{path}:{line}: label {row[label_column]!r} is not an integer.",
                             code="dataset_invalid") from exc
        texts.append(row[text_column] or "")
    fine = None
    if fine_column and fine_column in columns:
        fine = tuple(int(r[fine_column]) for r in rows)
    topics = None
    if topic_column and topic_column in columns:
        topics = tuple(r[topic_column] or "" for r in rows)
    return LabeledTexts(tuple(texts), tuple(labels), fine, name=path.name, topics=topics)


def cold_path(datasets_dir: Path, split: str) -> Path:
    return datasets_dir / "cold" / f"{split}.csv"


def read_cold(datasets_dir: Path, split: str) -> LabeledTexts:
    """One COLD split by file (the file decides the split, not its `split` column)."""
    data = read_csv(cold_path(datasets_dir, split))
    return LabeledTexts(data.texts, data.labels, data.fine, name=f"cold/{split}",
                        topics=data.topics)


def swsr_split(datasets_dir: Path, *, seed: int = SWSR_SEED,
               heldout_fraction: float = SWSR_HELDOUT_FRACTION) -> dict[str, LabeledTexts]:
    """SWSR comments split by post (`weibo_id`), seeded: `{"train": ..., "heldout": ...}`.

    Comments under one post share topic and wording, so a comment-level split would leak.
    """
    path = datasets_dir / "swsr" / SWSR_FILE
    _, rows = _read_rows(path, ("weibo_id", "comment_text", "label"))
    posts = sorted({r["weibo_id"] for r in rows})
    random.Random(seed).shuffle(posts)
    heldout_posts = set(posts[: round(len(posts) * heldout_fraction)])
    parts: dict[str, tuple[list[str], list[int], list[str]]] = {
        "train": ([], [], []), "heldout": ([], [], [])}
    for row in rows:
        part = parts["heldout" if row["weibo_id"] in heldout_posts else "train"]
        part[0].append(row["comment_text"] or "")
        part[1].append(int(row["label"]))
        part[2].append(swsr_category(row))
    return {
        name: LabeledTexts(tuple(t), tuple(y), name=f"swsr/{name}", topics=tuple(c),
                           extra={"seed": seed, "posts": len(heldout_posts) if name == "heldout"
                                  else len(posts) - len(heldout_posts)})
        for name, (t, y, c) in parts.items()
    }


def swsr_category(row: dict[str, str]) -> str:
    """A comment's slice for per-topic figures: its sexism category (MA, SCB, SO, SA) when it
    is labelled sexist, else `non-sexist`."""
    if (row.get("label") or "").strip() != "1":
        return "non-sexist"
    return (row.get("category") or "").strip() or "uncategorised"


def read_swsr_posts(datasets_dir: Path) -> list[str]:
    """The unlabelled parent posts (raw text for language-model adaptation only)."""
    _, rows = _read_rows(datasets_dir / "swsr" / "SexWeibo.csv")
    return [r.get("weibo_text") or "" for r in rows]
