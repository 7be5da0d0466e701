"""A decision's evidence is capped per field: 10,000 hit-dense characters hold thousands of
hits (a 1 MB decision); the policy decides on all of them, the decision keeps 100 hits and
100 PII findings per field with the full counts."""

from __future__ import annotations

import json

import pytest

from moderation.pipeline import MAX_HITS_PER_FIELD, MAX_PII_PER_FIELD, Moderator, load_moderator


@pytest.fixture(scope="module")
def moderator() -> Moderator:
    return load_moderator(None, None, None)  # the shipped lexicon, no model


def size(d: dict) -> int:
    return len(json.dumps(d, ensure_ascii=False).encode())


def test_hit_dense_content_keeps_100_hits_and_the_total(moderator):
    d = moderator.moderate("出售冰毒" * 2500, channel="comment")
    out = d.to_dict()
    assert d.decision == "block"
    assert len(out["hits"]) == MAX_HITS_PER_FIELD == 100
    assert out["hits_truncated"] is True and out["hits_total"] > 5000
    assert out["hits"][0]["start"] == 0  # the first hits, in text order
    assert [h["start"] for h in out["hits"]] == sorted(h["start"] for h in out["hits"])
    # everything but the masked copy of the text stays small
    assert size({k: v for k, v in out.items() if k != "masked_text"}) < 20_000


def test_caps_are_per_field(moderator):
    d = moderator.moderate("出售冰毒" * 2500, title="出售冰毒" * 40, channel="post")
    fields = [h.field for h in d.hits]
    assert fields.count("content") == 100
    assert 40 <= fields.count("title") <= 100  # the title's own hits, all of them
    assert d.hits_total is not None and d.hits_total > len(d.hits)


def test_pii_findings_are_capped_and_all_masked(moderator):
    text = "13912345678 " * 800
    d = moderator.moderate(text, channel="comment")
    out = d.to_dict()
    assert len(out["pii"]) == MAX_PII_PER_FIELD == 100
    assert out["pii_truncated"] is True and out["pii_total"] == 800
    assert "13912345678" not in out["masked_text"]  # every value is masked, listed or not
    assert size({k: v for k, v in out.items() if k != "masked_text"}) < 20_000


@pytest.mark.parametrize("content", ["小区路灯坏了", "出售冰毒" * 25, "13912345678 " * 100])
def test_small_decisions_carry_no_truncation_keys(moderator, content):
    out = moderator.moderate(content, channel="comment").to_dict()
    assert not {"hits_truncated", "hits_total", "pii_truncated", "pii_total"} & set(out)
