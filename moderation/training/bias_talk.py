"""Repeating COLD's own safe comments that talk about prejudice.

COLD train labels 93 % of its comments that say 歧视 ("discrimination") offensive, while the
test file's anti-bias comments (people speaking against prejudice) are safe: a model learns the
word, not the stance, and flags the citizens a portal must hear. Template counter-speech taught
the templates, not COLD's anti-bias comments. The few hundred safe train comments that do
discuss prejudice are real examples of the stance in COLD's own voice; repeating them shifts
the weight the loss gives them without inventing text or touching the held-out test labels.

The markers are chosen from what such talk says (the names of prejudice and of its remedies),
not from test data.
"""

from __future__ import annotations

from moderation.training.data import LabeledTexts, concat

MARKERS = ("歧视", "偏见", "刻板印象", "地域黑", "地图炮", "一竿子", "平等", "尊重")


def discusses_bias(text: str) -> bool:
    """Whether a comment names prejudice or its remedy (one of `MARKERS`)."""
    return any(marker in text for marker in MARKERS)


def bias_talk(data: LabeledTexts, safe_label: int = 0) -> LabeledTexts:
    """The safe rows of `data` that discuss prejudice."""
    return data.subset([y == safe_label and discusses_bias(t)
                        for t, y in zip(data.texts, data.labels, strict=True)],
                       name=f"{data.name}/bias-talk")


def repeat_bias_talk(data: LabeledTexts, copies: int, safe_label: int = 0) -> LabeledTexts:
    """`data` followed by `copies` more copies of its safe rows that discuss prejudice."""
    if copies < 0:
        raise ValueError("copies must be zero or more")
    if copies == 0:
        return data
    talk = bias_talk(data, safe_label)
    return concat(data, *([talk] * copies), name=data.name)
