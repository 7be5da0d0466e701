"""normalize(): folding table cases and the offset-map property."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from moderation.normalize import normalize, normalize_term


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("ＶＸ１２３", "vx123"),  # full width
        ("WeiXin", "weixin"),  # case
        ("賭博網站", "赌博网站"),  # traditional script
        ("發票", "发票"),
        ("③级片", "3级片"),  # circled numeral
        ("⑶级片", "3级片"),  # parenthesized numeral
        ("⒊级片", "3级片"),  # numeral with full stop
        ("Ⅲ级片", "3级片"),  # Roman numeral
        ("叁级片", "3级片"),  # capital Chinese numeral
        ("三级片", "3级片"),
        ("法*轮*功", "法轮功"),  # noise between characters
        ("赌 博", "赌博"),
        ("赌.博", "赌博"),
        ("v.x", "vx"),
        ("赌🎲博", "赌博"),  # emoji
        ("赌\u200b博", "赌博"),  # zero-width space
        ("赌\u200d\ufe0f博", "赌博"),  # joiner and variation selector
        ("冰_毒", "冰毒"),
        ("⑩号", "10号"),  # expanding numeral
        ("𝐬𝐞𝐱", "sex"),  # mathematical bold letters
        ("ѕех", "sex"),  # Cyrillic look-alikes (Unicode confusables)
        ("Κ粉", "k粉"),  # Greek capital kappa
        ("к粉", "k粉"),  # Cyrillic small ka takes its capital's look-alike
        ("Ιnfo", "info"),  # Greek capital iota is an I, not an l
        ("弾薬", "弹药"),  # Japanese shinjitai beyond t2s (OpenCC jp2t)
        ("赌\u3164博", "赌博"),  # Hangul filler (a default-ignorable letter)
        ("赌\u115f\u1160\uffa0博", "赌博"),
        ("赌\u2800博", "赌博"),  # Braille blank
        ("赌\u00ad博", "赌博"),  # soft hyphen
        ("赌\u202e\u2066博", "赌博"),  # bidi controls
        ("赌\U000e0041博", "赌博"),  # tag character
        ("芸芸众生", "芸芸众生"),  # everyday simplified characters are never refolded
    ],
)
def test_folding(text: str, folded: str) -> None:
    assert normalize(text).text == folded


@pytest.mark.parametrize(
    ("text", "start", "end", "span"),
    [
        ("出售冰 毒一克", 2, 4, "冰 毒"),
        ("请加 微 信详聊", 1, 4, "加 微 信"),
        ("⑩号楼", 0, 2, "⑩"),  # both folded characters come from one original
        ("（法）*轮*功", 0, 3, "法）*轮*功"),
    ],
)
def test_spans_map_back_to_original(text: str, start: int, end: int, span: str) -> None:
    norm = normalize(text)
    ostart, oend = norm.to_original(start, end)
    assert text[ostart:oend] == span


def test_terms_fold_like_texts() -> None:
    assert normalize_term("代開發票") == normalize(" 代 开 发 票 ").text == "代开发票"


_NOISE = st.sampled_from([" ", "*", ".", "·", "\u200b", "🙂", "_", "-", "~", "／", "\u3000"])
_CJK = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5)
_ANY = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)


@settings(max_examples=300, deadline=None)
@given(_ANY)
def test_offsets_are_a_monotone_map_into_the_original(text: str) -> None:
    norm = normalize(text)
    offsets = norm.offsets if norm.offsets is not None else list(range(len(norm.text)))
    assert len(offsets) == len(norm.text)
    assert all(0 <= o < len(text) for o in offsets)
    assert offsets == sorted(offsets)


@settings(max_examples=300, deadline=None)
@given(
    prefix=st.text(_CJK, max_size=10),
    chars=st.lists(_CJK, min_size=2, max_size=6),
    noise=st.lists(st.text(_NOISE, max_size=3), min_size=5, max_size=5),
    suffix=st.text(_CJK, max_size=10),
)
def test_noisy_span_maps_back_to_what_was_typed(
    prefix: str, chars: list[str], noise: list[str], suffix: str
) -> None:
    typed = chars[0] + "".join(n + c for n, c in zip(noise, chars[1:], strict=False))
    text = prefix + typed + suffix
    norm = normalize(text)
    term = normalize_term("".join(chars))
    start = len(normalize(prefix).text)
    assert norm.text[start : start + len(term)] == term
    ostart, oend = norm.to_original(start, start + len(term))
    assert text[ostart:oend] == typed


@settings(max_examples=500, deadline=None)
@given(
    st.text(
        st.one_of(
            st.characters(blacklist_categories=("Cs",)),
            st.sampled_from(list("①⑩⑶Ⅲ叁賭發ＶＸ，。！ ß𝐬🙂🎲\u200b\uffff_*")),
        ),
        max_size=30,
    )
)
def test_fast_path_agrees_with_the_general_path(text: str) -> None:
    from moderation.normalize import _normalize_expanding, _tables

    fast = normalize(text)
    slow = _normalize_expanding(text, _tables())
    assert fast.text == slow.text
    fast_offsets = fast.offsets if fast.offsets is not None else list(range(len(fast.text)))
    slow_offsets = slow.offsets if slow.offsets is not None else list(range(len(slow.text)))
    assert fast_offsets == slow_offsets


@pytest.mark.parametrize(
    ("text", "folded", "span"),
    [
        ("赌🎲博😂", "赌博", "赌🎲博"),  # emoji (past the BMP) between and after
        ("😂😂出售冰，毒", "出售冰毒", "出售冰，毒"),
        ("𝐬𝐞𝐱🙂片", "sex片", "𝐬𝐞𝐱🙂片"),  # folding astral letters plus emoji
    ],
)
def test_astral_characters(text: str, folded: str, span: str) -> None:
    norm = normalize(text)
    assert norm.text == folded
    start, end = norm.to_original(0, len(folded))
    assert text[start:end] == span


def test_variant_sources_are_look_alikes_not_noise() -> None:
    from moderation.normalize import variant_sources

    sources = variant_sources()
    assert {"к", "Κ", "薬"} <= sources
    assert "\u3164" not in sources and "a" not in sources
