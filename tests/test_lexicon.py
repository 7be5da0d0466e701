"""Lexicon loading, validation and matching against a small test lexicon."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from moderation.errors import LexiconError
from moderation.lexicon import Lexicon, check_directory
from moderation.normalize import normalize

SMALL = Path(__file__).parent / "data" / "lexicon_small"
SHIPPED = Path(__file__).resolve().parent.parent / "lexicons"


@pytest.fixture(scope="module")
def lexicon() -> Lexicon:
    return Lexicon.load(SMALL)


@pytest.mark.parametrize(
    ("text", "term", "typed"),
    [
        ("出售冰毒，量大从优", "冰毒", "冰毒"),
        ("出售冰 毒", "冰毒", "冰 毒"),
        ("出售冰*毒", "冰毒", "冰*毒"),
        ("出售冰🧊毒", "冰毒", "冰🧊毒"),
        ("出售冰\u200b毒", "冰毒", "冰\u200b毒"),
        ("有意者加微信", "加微信", "加微信"),
        ("有意者加 微 信", "加微信", "加 微 信"),
        ("网上賭博平台", "赌博", "賭博"),  # traditional
        ("出售③级片光盘", "三级片", "③级片"),
        ("出售3级片", "三级片", "3级片"),
        ("出售叁级片", "三级片", "叁级片"),
        ("出售⑶级片", "三级片", "⑶级片"),
        ("出售Ⅲ级片", "三级片", "Ⅲ级片"),
        ("修炼法.轮.功", "法轮功", "法.轮.功"),
        ("专业代開發票", "代开发票", "代開發票"),
        ("我要买大麻", "大麻", "大麻"),
        ("加我ＶＸ详聊", "VX", "ＶＸ"),  # full width, word mode
        ("加我 vx 详聊", "VX", "vx"),
    ],
)
def test_hits_report_the_original_spelling(
    lexicon: Lexicon, text: str, term: str, typed: str
) -> None:
    found = lexicon.match(text)
    hits = [h for h in found.hits if h.term == term]
    assert len(hits) == 1, found
    hit = hits[0]
    assert text[hit.start : hit.end] == hit.text == typed
    assert hit.field == "content"


@pytest.mark.parametrize(
    ("text", "term"),
    [
        ("坚决打击赌博违法犯罪", "赌博"),  # allow phrase covers the hit
        ("开展禁毒宣传，远离冰毒", None),  # 禁毒 covers nothing that is a term: 冰毒 still hits
        ("这件事真是个大麻烦", "大麻"),  # word mode: no token boundary after 麻
    ],
)
def test_allow_list_and_word_mode_suppress(lexicon: Lexicon, text: str, term: str | None) -> None:
    found = lexicon.match(text)
    if term is None:
        assert [h.term for h in found.hits] == ["冰毒"]
    else:
        assert term not in {h.term for h in found.hits}
        assert term in {h.term for h in found.suppressed}


def test_clean_text_has_no_hits(lexicon: Lexicon) -> None:
    found = lexicon.match("小区门口的路灯坏了三个月，希望有关部门尽快维修。")
    assert found.hits == () and found.suppressed == ()


def test_title_field_is_named(lexicon: Lexicon) -> None:
    hit = lexicon.match("赌博", "title").hits[0]
    assert (hit.field, hit.start, hit.end) == ("title", 0, 2)


def test_content_hash_ignores_comments_order_and_spelling(tmp_path: Path) -> None:
    (tmp_path / "a.tsv").write_text(
        "# comment\n賭博\tgambling\treview\n冰毒\tdrugs\tblock\n", "utf-8"
    )
    (tmp_path / "allow.tsv").write_text("打击赌博\n", "utf-8")
    other = tmp_path / "other"
    other.mkdir()
    (other / "x.tsv").write_text("冰毒\tdrugs\tblock\n", "utf-8")
    (other / "y.tsv").write_text("赌 博\tgambling\treview\tsubstring\n", "utf-8")
    (other / "allow.tsv").write_text("打击 赌博\n", "utf-8")
    assert Lexicon.load(tmp_path).content_hash == Lexicon.load(other).content_hash
    (other / "y.tsv").write_text("赌博\tgambling\tblock\n", "utf-8")
    assert Lexicon.load(tmp_path).content_hash != Lexicon.load(other).content_hash


@pytest.mark.parametrize(
    ("content", "line", "message"),
    [
        ("冰毒\tdrugs\n", 1, "expected 3 to 5"),
        ("冰毒\tdrugs\tblock\tfuzzy=maybe\n", 1, "fuzzy must be"),
        ("# ok\n冰毒\tnarcotics\tblock\n", 2, "unknown category"),
        ("冰毒\tdrugs\tban\n", 1, "severity"),
        ("冰毒\tdrugs\tblock\tregex\n", 1, "match must be"),
        ("冰毒\tdrugs\tblock\n\n冰 毒\tdrugs\treview\n", 3, "duplicates"),
        ("***\tdrugs\tblock\n", 1, "empty after normalization"),
    ],
)
def test_bad_line_fails_the_whole_load(
    tmp_path: Path, content: str, line: int, message: str
) -> None:
    (tmp_path / "bad.tsv").write_text(content, "utf-8")
    with pytest.raises(LexiconError) as err:
        Lexicon.load(tmp_path)
    assert f"bad.tsv:{line}:" in err.value.message
    assert message in err.value.message


def test_check_directory_reports_every_problem(tmp_path: Path) -> None:
    (tmp_path / "a.tsv").write_text("x\tdrugs\n冰毒\tdrugs\tblock\ny\tnope\tblock\n", "utf-8")
    _, _, problems = check_directory(tmp_path)
    assert [p.split(": ")[0].rsplit(":", 1)[1] for p in problems] == ["1", "3"]


def test_missing_directory_and_bad_encoding(tmp_path: Path) -> None:
    with pytest.raises(LexiconError, match="not a directory"):
        Lexicon.load(tmp_path / "nope")
    (tmp_path / "a.tsv").write_bytes("冰毒\tdrugs\tblock\n".encode("gbk"))
    with pytest.raises(LexiconError, match="UTF-8"):
        Lexicon.load(tmp_path)


_PIECES = st.sampled_from(
    ["冰毒", "赌博", "加微信", "法轮功", "代开发票", "路灯", "小区", "我们", "，", "。"]
)
_NOISE = st.text(st.sampled_from([" ", "*", ".", "·", "\u200b", "🎲", "_", "／"]), max_size=2)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(_PIECES, _NOISE), max_size=12), st.booleans())
def test_every_hit_span_is_inside_and_folds_to_its_term(
    lexicon: Lexicon, parts: list[tuple[str, str]], noisy_inside: bool
) -> None:
    # Noise between pieces and, optionally, between the characters of each piece.
    text = "".join((noise.join(piece) if noisy_inside else piece) + noise for piece, noise in parts)
    keys = {t.term: t.key for t in lexicon.terms}
    for hit in lexicon.match(text).hits:
        assert 0 <= hit.start < hit.end <= len(text)
        assert text[hit.start : hit.end] == hit.text
        assert normalize(hit.text).text == keys[hit.term]
        # The span starts and ends on characters that produced the match, not on noise.
        assert normalize(hit.text[0]).text and normalize(hit.text[-1]).text
    expected = sum(1 for piece, _ in parts if piece in {"冰毒", "加微信", "法轮功", "代开发票"})
    assert len([h for h in lexicon.match(text).hits if h.term != "赌博"]) >= expected


# -- building from rows, relabelling, writing TSV (lexicon management) ---------------------


def test_make_term_applies_the_tsv_rules():
    from moderation.lexicon import make_term

    t = make_term("冰 毒", "drugs", "review")
    assert (t.term, t.key, t.match) == ("冰 毒", "冰毒", "substring")
    for bad in [("冰毒", "nope", "block"), ("冰毒", "drugs", "maybe"), ("***", "drugs", "block"),
                ("冰\t毒", "drugs", "block")]:
        with pytest.raises(LexiconError):
            make_term(*bad)


def test_with_version_relabels_without_changing_matches(tmp_path):
    from moderation.lexicon import with_version

    base = Lexicon.load(SHIPPED)
    v7 = with_version(base, 7)
    assert v7.version == 7 and base.version is None
    assert v7.content_hash == base.content_hash
    assert v7.match("出售冰毒").hits == base.match("出售冰毒").hits


def test_write_directory_round_trips_the_content_hash(tmp_path):
    from moderation.lexicon import write_directory

    base = Lexicon.load(SHIPPED)
    files = write_directory(tmp_path / "out", base.terms, base.allow, header="v1")
    assert (tmp_path / "out" / "allow.tsv") in files
    again = Lexicon.load(tmp_path / "out")
    assert again.content_hash == base.content_hash
    assert again.counts == base.counts


def test_word_lists_name_every_bad_line(tmp_path):
    from moderation.lexicon_import import check_import, read_word_list

    path = tmp_path / "w.txt"
    path.write_text("出售假证件\n***\n代办\t假证\n出售 假证件\n", encoding="utf-8")
    report = read_word_list(path, "fraud", "block")
    assert [b.split(":")[1] for b in report.bad_lines] == ["2", "3"]
    check_import(report)
    assert [t.term for t in report.terms] == ["出售假证件"]
    assert report.duplicates[0]["term"] == "出售 假证件"
    with pytest.raises(LexiconError, match="unknown category"):
        read_word_list(path, "nope", "block")
