"""The counter-speech templates: both stances over the same groups, and a dev half that
shares no group and no sentence pattern with the train half."""

from __future__ import annotations

from collections import Counter

import pytest

from moderation.training.counter import (
    GROUPS,
    OFFENSIVE_PATTERNS,
    SAFE_PATTERNS,
    _halves,
    counter_examples,
)


def groups_in(text: str, groups: list[str]) -> set[str]:
    return {g for g in groups if g in text}


def test_counts_labels_and_topics_are_balanced() -> None:
    data = counter_examples(300, 300)
    assert len(data) == 600
    assert Counter(data.labels) == {0: 300, 1: 300}
    assert len(set(data.texts)) == 600
    assert data.topics is not None
    per_topic = Counter(data.topics)
    assert set(per_topic) == {"race", "region", "gender"}
    assert max(per_topic.values()) - min(per_topic.values()) <= 3


def test_generation_is_seeded() -> None:
    assert counter_examples(50, 50).texts == counter_examples(50, 50).texts
    assert counter_examples(50, 50).texts != counter_examples(50, 50, seed=12).texts


def test_every_sentence_names_a_group_of_its_own_topic_and_half() -> None:
    for part in ("train", "dev"):
        data = counter_examples(200, 200, part=part)
        assert data.topics is not None
        for text, topic in zip(data.texts, data.topics, strict=True):
            own = _halves(GROUPS[topic], part)
            assert groups_in(text, own), (part, topic, text)


def test_dev_half_shares_no_group_pattern_or_sentence_with_train() -> None:
    for table in (*GROUPS.values(), SAFE_PATTERNS, OFFENSIVE_PATTERNS):
        train, dev = _halves(table, "train"), _halves(table, "dev")
        assert train and dev and not set(map(id, train)) & set(map(id, dev))
        assert len(train) + len(dev) == len(table)
    train = counter_examples(2000, 2000, part="train")
    dev = counter_examples(300, 300, part="dev")
    assert not set(train.texts) & set(dev.texts)
    dev_only = [g for gs in GROUPS.values() for g in _halves(gs, "dev")]
    # A dev group appears in train text only inside a longer train group's name.
    train_groups = [g for gs in GROUPS.values() for g in _halves(gs, "train")]
    for text in train.texts:
        for g in groups_in(text, dev_only):
            assert any(g in t and g != t and t in text for t in train_groups), (g, text)


def test_both_stances_use_the_same_groups() -> None:
    data = counter_examples(1000, 1000)
    groups = [g for gs in GROUPS.values() for g in _halves(gs, "train")]
    rows = list(zip(data.texts, data.labels, strict=True))
    safe = set().union(*(groups_in(t, groups) for t, y in rows if not y))
    bad = set().union(*(groups_in(t, groups) for t, y in rows if y))
    assert safe == bad == set(groups)


def test_an_unknown_part_is_refused() -> None:
    with pytest.raises(ValueError):
        counter_examples(1, 1, part="test")
