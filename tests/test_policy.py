"""Policy: channel rules, PII defaults, model thresholds, publication."""

from __future__ import annotations

from pathlib import Path

import pytest

from moderation.errors import PolicyError
from moderation.policy import Policy
from moderation.types import Hit, Label, PiiFinding


def hit(category: str, severity: str, term: str = "词") -> Hit:
    return Hit("content", term, category, severity, 0, len(term), term)


def pii(kind: str, validated: bool = True) -> PiiFinding:
    return PiiFinding("content", kind, 0, 18, validated, "110105********1234")


@pytest.fixture(scope="module")
def shipped() -> Policy:
    return Policy.load()


@pytest.mark.parametrize(
    ("hits", "findings", "labels", "channel", "expected"),
    [
        ([], [], [], "comment", "pass"),
        ([hit("drugs", "block", "冰毒")], [], [], "comment", "block"),
        ([hit("advertising", "review", "加微信")], [], [], "post", "review"),
        ([hit("advertising", "review"), hit("drugs", "block")], [], [], "post", "block"),
        ([], [pii("cn_id_card")], [], "post", "review"),
        ([], [pii("bank_card")], [], "comment", "review"),
        ([], [pii("cn_id_card", validated=False)], [], "post", "pass"),
        ([], [pii("mobile"), pii("email"), pii("ipv4"), pii("landline")], [], "post", "pass"),
        ([], [], [Label("safe", 0.9), Label("offensive", 0.1)], "comment", "pass"),
        ([], [], [Label("offensive", 0.6)], "comment", "pass"),  # below review threshold
        ([], [], [Label("offensive", 0.9)], "comment", "review"),
        ([], [], [Label("offensive", 0.95)], "comment", "block"),  # opted in, above 0.92
        ([], [], [Label("offensive", 0.95)], "post", "review"),  # pre-moderated: no opt-in
        ([], [], [Label("offensive", 0.999)], "message", "review"),  # never blocks on message
        ([], [], [Label("toxic", 0.999)], "comment", "pass"),  # label the policy does not name
    ],
)
def test_shipped_policy(shipped: Policy, hits, findings, labels, channel, expected) -> None:  # noqa: ANN001
    outcome = shipped.decide(channel, hits, findings, labels)
    assert outcome.decision == expected
    assert all(r.message for r in outcome.reasons)
    if expected != "pass":
        assert any(r.decision == expected for r in outcome.reasons)


@pytest.mark.parametrize(
    ("channel", "decision", "publish"),
    [
        ("post", "pass", True),
        ("post", "review", False),
        ("comment", "review", True),  # 先发后审
        ("message", "review", False),
        ("comment", "block", False),
    ],
)
def test_publication_follows_channel_mode(
    shipped: Policy, channel: str, decision: str, publish: bool
) -> None:
    assert shipped.publish(channel, decision) is publish


def test_model_reason_uses_abuse_category(shipped: Policy) -> None:
    (reason,) = shipped.decide("comment", [], [], [Label("offensive", 0.9)]).reasons
    assert (reason.source, reason.category, reason.decision) == ("model", "abuse", "review")


def test_channel_overrides(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text(
        """
name = "strict"
[pii]
cn_id_card = "review"
[model]
review_threshold = 0.7
[channels.comment]
mode = "post"
model_block = false
[channels.comment.categories]
advertising = "block"
gambling = "pass"
[channels.comment.pii]
mobile = "review"
""",
        encoding="utf-8",
    )
    policy = Policy.load(path)
    assert policy.version.startswith("strict@")
    assert policy.decide("comment", [hit("advertising", "review")], [], []).decision == "block"
    assert policy.decide("comment", [hit("gambling", "block")], [], []).decision == "pass"
    assert policy.decide("comment", [], [pii("mobile")], []).decision == "review"
    assert policy.decide("comment", [], [], [Label("offensive", 0.65)]).decision == "pass"
    assert policy.decide("comment", [], [], [Label("offensive", 0.999)]).decision == "review"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name = [", "not a valid TOML"),
        ("[channels.x]\nmode = 'later'\n", "mode must be pre or post"),
        ("[channels.x]\n[channels.x.categories]\npolitics = 'block'\n", "unknown category"),
        ("[channels.x]\n[channels.x.pii]\nmobile = 'ban'\n", "must be one of"),
        ("[pii]\nbankcard = 'review'\n[channels.x]\n", "unknown personal-information type"),
        ("[model]\nreview_threshold = 2\n[channels.x]\n", "between 0 and 1"),
        ("name = 'x'\n", "defines no"),
        ("[channels.x]\nsla_minutes = 0\n", "sla_minutes must be a whole number"),
        ("[channels.x]\nsla_minutes = 2.5\n", "sla_minutes must be a whole number"),
        ("[channels.x]\nsecond_review = 'yes'\n", "second_review must be true or false"),
        ("[channels.x]\nqa_sample = 1.5\n", "qa_sample must be a number between 0 and 1"),
        ("[channels.qa]\n", "name of a review queue"),
        ("[channels.escalated]\n", "name of a review queue"),
    ],
)
def test_bad_policy_files(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "p.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PolicyError, match=message):
        Policy.load(path)


def test_missing_policy_file(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="cannot read"):
        Policy.load(tmp_path / "none.toml")
    with pytest.raises(PolicyError, match="unknown channel"):
        Policy.load().channel("forum")


@pytest.mark.parametrize(("channel", "sla"), [("comment", 30), ("post", 240),
                                              ("message", 240), ("profile", 1440)])
def test_shipped_review_rules(shipped: Policy, channel: str, sla: int) -> None:
    ch = shipped.channel(channel)
    assert ch.sla_minutes == sla and ch.second_review is False and ch.qa_sample == 0.01


def test_review_rules_default_and_override(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text("[channels.x]\n[channels.y]\nsla_minutes = 15\nsecond_review = true\n"
                    "qa_sample = 0.25\n", encoding="utf-8")
    policy = Policy.load(path)
    x, y = policy.channel("x"), policy.channel("y")
    assert (x.sla_minutes, x.second_review, x.qa_sample) == (240, False, 0.0)
    assert (y.sla_minutes, y.second_review, y.qa_sample) == (15, True, 0.25)
