"""The civic-speech table still passes with the shipped classifier on (issue #3).

The lexicon tests run without a model; this runs the same held-out table through the
whole default pipeline, int8 (the serving default) and fp32, on every public channel.
A model trained on COLD alone puts about one in six of these sentences above 0.5.
"""

from __future__ import annotations

import pytest
from test_shipped_lexicon import CHANNELS, CIVIC

from moderation.classifier import default_model_path
from moderation.pipeline import Moderator, load_moderator
from moderation.types import Decision

pytestmark = pytest.mark.skipif(default_model_path() is None, reason="no shipped model")


@pytest.fixture(scope="module", params=[True, False], ids=["int8", "fp32"])
def moderator(request: pytest.FixtureRequest) -> Moderator:
    return load_moderator(model="default", quantize=request.param, warm=False)


def _explain(d: Decision) -> str:
    return "; ".join(r.message for r in d.reasons)


@pytest.mark.parametrize("channel", CHANNELS)
def test_civic_table_passes_with_the_model(moderator: Moderator, channel: str) -> None:
    assert moderator.classifier is not None
    decisions = moderator.moderate_many([{"content": c, "channel": channel} for c in CIVIC])
    failed = {
        c: _explain(d)
        for c, d in zip(CIVIC, decisions, strict=True)
        if not isinstance(d, Decision) or d.decision != "pass"
    }
    assert failed == {}
    assert all(isinstance(d, Decision) and d.labels for d in decisions)


@pytest.mark.parametrize(
    "content",
    [
        "河南人都是骗子，没一个好东西，滚出我们这里",
        "女人就该待在家里，出来工作就是添乱，一群蠢货",
    ],
)
def test_group_insults_still_go_to_review(moderator: Moderator, content: str) -> None:
    d = moderator.moderate(content, channel="post")
    assert d.decision in {"review", "block"}, [(lb.label, lb.score) for lb in d.labels]
    assert any(r.source == "model" and r.category == "abuse" for r in d.reasons)
