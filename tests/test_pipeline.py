"""Moderator end to end on a small lexicon: evidence, decisions, input errors, degraded mode."""

from __future__ import annotations

from pathlib import Path

import pytest

from moderation.errors import InputError, ModelLoadError
from moderation.pipeline import MAX_FIELD_CHARS, Moderator, load_moderator
from moderation.types import Decision

SMALL = Path(__file__).parent / "data" / "lexicon_small"


@pytest.fixture(scope="module")
def moderator() -> Moderator:
    return load_moderator(SMALL, None, None)


@pytest.mark.parametrize(
    ("content", "channel", "decision", "publish"),
    [
        ("小区路灯坏了三个月，请尽快维修。", "comment", "pass", True),
        ("出售冰 毒，量大从优", "comment", "block", False),
        ("兼职刷单请加 微 信", "comment", "review", True),  # post-moderated channel
        ("兼职刷单请加 微 信", "post", "review", False),  # pre-moderated channel
        ("我的身份证号11010519491231002X，帮我查一下", "post", "review", False),
        ("我的身份证号110105194912310021，帮我查一下", "post", "pass", True),  # bad checksum
        ("有事打我电话13912345678", "comment", "pass", True),
    ],
)
def test_decisions(
    moderator: Moderator, content: str, channel: str, decision: str, publish: bool
) -> None:
    d = moderator.moderate(content, channel=channel)
    assert (d.decision, d.publish, d.channel) == (decision, publish, channel)
    assert d.degraded is False


def test_evidence_spans_are_spans_of_each_field(moderator: Moderator) -> None:
    title = "標題：網上賭博"
    content = "出售冰*毒，电话 139-1234-5678"
    d = moderator.moderate(content, title=title, channel="post")
    spans = {(h.field, h.term): (h.start, h.end, h.text) for h in d.hits}
    assert spans[("title", "赌博")] == (5, 7, "賭博")
    assert spans[("content", "冰毒")] == (2, 5, "冰*毒")
    for h in d.hits:
        assert (title if h.field == "title" else content)[h.start : h.end] == h.text
    (phone,) = d.pii
    assert (phone.type, content[phone.start : phone.end]) == ("mobile", "139-1234-5678")
    assert "5678" in d.masked_text and "1234-5678" not in d.masked_text
    assert d.masked_title == title


def test_to_dict_matches_the_contract(moderator: Moderator) -> None:
    out = moderator.moderate("坚决打击赌博", title="标题").to_dict(include_suppressed=True)
    assert set(out) >= {
        "decision", "publish", "reasons", "hits", "pii", "labels", "masked_text",
        "masked_title", "versions", "degraded",
    }  # fmt: skip
    assert out["hits"] == []
    assert [h["term"] for h in out["suppressed"]] == ["赌博"]
    assert set(out["versions"]) == {"lexicon", "lexicon_hash", "model", "policy"}
    assert out["versions"]["lexicon"] is None and out["versions"]["model"] is None
    assert len(out["versions"]["lexicon_hash"]) == 64


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"content": ""}, "empty_content"),
        ({"content": "   \n"}, "empty_content"),
        ({"content": "好" * (MAX_FIELD_CHARS + 1)}, "field_too_long"),
        ({"content": "好", "title": "题" * (MAX_FIELD_CHARS + 1)}, "field_too_long"),
        ({"content": "好", "channel": "forum"}, "unknown_channel"),
        ({"content": 123}, "invalid_type"),
    ],
)
def test_input_errors(moderator: Moderator, kwargs: dict, code: str) -> None:
    content = kwargs.pop("content")
    with pytest.raises(InputError) as err:
        moderator.moderate(content, **kwargs)
    assert err.value.code == code


@pytest.mark.parametrize(
    "content",
    [
        "\u200b\u200b",  # zero-width spaces
        "\x00",  # NUL
        "\u3164\u3164",  # Hangul filler (a favourite "blank nickname")
        "\u115f\u1160\uffa0",  # Hangul choseong/jungseong and half-width fillers
        "\ufeff\u2060\u2061\u2062\u2063\u2064",  # BOM, word joiner, invisible operators
        "\u200c\u200d\u200e\u200f",  # joiners and direction marks
        "\u00ad\u034f\u180e",  # soft hyphen, grapheme joiner, Mongolian vowel separator
        " \u3000\t\r\n\x1f\x7f\u0085\u00a0",  # ASCII and ideographic spaces, controls
        "\u202e\u2066\ufe0f\u2800",  # bidi override, isolate, variation selector, Braille blank
    ],
)
def test_invisible_content_is_empty(moderator: Moderator, content: str) -> None:
    with pytest.raises(InputError) as err:
        moderator.moderate(content)
    assert err.value.code == "empty_content"
    out = moderator.moderate_many([{"content": content}])
    assert isinstance(out[0], InputError) and out[0].code == "empty_content"


@pytest.mark.parametrize("content", ["\u200b好\u200b", "\x00a", "\u3164。", "😀", "\u00ad3"])
def test_one_visible_character_is_content(moderator: Moderator, content: str) -> None:
    assert moderator.moderate(content).decision == "pass"


def test_limit_is_inclusive(moderator: Moderator) -> None:
    assert moderator.moderate("好" * MAX_FIELD_CHARS).decision == "pass"


def test_batch_keeps_going_past_a_bad_item(moderator: Moderator) -> None:
    out = moderator.moderate_many(
        [{"content": "出售冰毒"}, {"content": ""}, {"content": "你好", "channel": "post"}, "x"]
    )
    assert isinstance(out[0], Decision) and out[0].decision == "block"
    assert isinstance(out[1], InputError) and out[1].code == "empty_content"
    assert isinstance(out[2], Decision) and out[2].decision == "pass"
    assert isinstance(out[3], InputError)


class _BrokenClassifier:
    name = "broken@0"
    labels = ("safe", "offensive")

    def predict(self, texts):  # noqa: ANN001, ANN201
        raise RuntimeError("out of memory")


class _FixedClassifier:
    name = "fixed@0"
    labels = ("safe", "offensive")

    def __init__(self, score: float) -> None:
        self.score = score

    def predict(self, texts):  # noqa: ANN001, ANN201
        return [{"safe": 1 - self.score, "offensive": self.score} for _ in texts]


def test_failing_classifier_degrades_to_review(moderator: Moderator) -> None:
    broken = Moderator(moderator.lexicon, moderator.policy, _BrokenClassifier())  # type: ignore[arg-type]
    d = broken.moderate("小区路灯坏了", channel="comment")
    assert (d.decision, d.degraded, d.degraded_stages) == ("review", True, ("classifier",))
    assert d.to_dict()["degraded_stages"] == ["classifier"]
    assert broken.moderate("出售冰毒").decision == "block"  # a block stays a block


def test_failing_lexicon_degrades_to_review(moderator: Moderator, monkeypatch) -> None:  # noqa: ANN001
    def boom(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise MemoryError

    monkeypatch.setattr(moderator.lexicon, "match", boom)
    d = moderator.moderate("小区路灯坏了")
    assert (d.decision, d.degraded, d.degraded_stages) == ("review", True, ("lexicon",))


def test_model_scores_flow_into_labels_and_decision(moderator: Moderator) -> None:
    mod = Moderator(moderator.lexicon, moderator.policy, _FixedClassifier(0.9))  # type: ignore[arg-type]
    d = mod.moderate("你这个人怎么这样", channel="comment")
    assert d.decision == "review"
    assert {lb.label: round(lb.score, 3) for lb in d.labels} == {"safe": 0.1, "offensive": 0.9}
    assert d.versions.model == "fixed@0"


def test_explicit_missing_model_is_a_startup_error(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError):
        load_moderator(SMALL, None, tmp_path / "no-such-model")


def test_with_lexicon_swaps_only_the_lexicon(moderator: Moderator, tmp_path: Path) -> None:
    from moderation.lexicon import Lexicon

    (tmp_path / "t.tsv").write_text("路灯\tother\treview\n", "utf-8")
    swapped = moderator.with_lexicon(Lexicon.load(tmp_path, version=2))
    assert swapped.moderate("小区路灯坏了").decision == "review"
    assert moderator.moderate("小区路灯坏了").decision == "pass"
    assert swapped.versions.lexicon == 2 and swapped.versions.policy == moderator.versions.policy
