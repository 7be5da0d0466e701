"""Repeating the safe training comments that discuss prejudice (`--bias-talk`)."""

from __future__ import annotations

import pytest

from moderation.training.bias_talk import bias_talk, discusses_bias, repeat_bias_talk
from moderation.training.data import LabeledTexts

DATA = LabeledTexts(
    texts=("我反对任何形式的种族歧视", "地域黑是不对的", "建议修好路灯",
           "歧视女性的人都该骂", "河南人都是骗子", "男女平等是进步"),
    labels=(0, 0, 0, 1, 1, 0),
    name="train",
)


def test_only_safe_rows_that_name_prejudice_or_its_remedy_are_picked() -> None:
    talk = bias_talk(DATA)
    # the offensive one that says 歧视 and the safe one that says nothing of prejudice stay out
    assert talk.texts == ("我反对任何形式的种族歧视", "地域黑是不对的", "男女平等是进步")
    assert set(talk.labels) == {0}
    assert discusses_bias("刻板印象害人") and not discusses_bias("请尽快处理")


def test_repeat_appends_copies_and_keeps_the_original_rows_first() -> None:
    out = repeat_bias_talk(DATA, 2)
    assert out.texts[: len(DATA)] == DATA.texts
    assert len(out) == len(DATA) + 2 * 3
    assert out.texts[len(DATA):].count("地域黑是不对的") == 2
    assert out.labels[len(DATA):] == (0,) * 6
    assert repeat_bias_talk(DATA, 0) is DATA
    with pytest.raises(ValueError):
        repeat_bias_talk(DATA, -1)
