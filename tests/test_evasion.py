"""The evasion layer on the shipped lexicon: each kind, its match_kind and its exact span.

Every case names the term that must fire, how it matched and what the user typed for it
(`text[start:end]`); the guard tables must stay `pass`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from moderation.lexicon import BIDI_TERM, Lexicon
from moderation.pipeline import Moderator, load_moderator


@pytest.fixture(scope="module")
def moderator() -> Moderator:
    return load_moderator(lexicon_dir=None, policy_path=None, model=None)


@pytest.fixture(scope="module")
def lexicon(moderator: Moderator) -> Lexicon:
    return moderator.lexicon


# (text, term, match_kind, what the user typed for it, severity of the hit)
CASES = [
    # pinyin for some or all characters, any case, with or without spaces
    ("出售yao头丸", "摇头丸", "pinyin", "yao头丸", "review"),
    ("摇tou丸有货", "摇头丸", "pinyin", "摇tou丸", "review"),
    ("收 yaotouwan 了", "摇头丸", "pinyin", "yaotouwan", "review"),
    ("YaoTouWan到货", "摇头丸", "pinyin", "YaoTouWan", "review"),
    ("哪里有bing du", "冰毒", "pinyin", "bing du", "review"),
    ("教你炸yao配方", "炸药配方", "pinyin", "炸yao配方", "review"),
    ("专业代开fa piao", "代开发票", "pinyin", "代开fa piao", "review"),
    ("san级片资源", "三级片", "pinyin", "san级片", "review"),
    ("要的私信ytw", "摇头丸", "pinyin", "ytw", "review"),  # initials, 3+ characters
    ("加wei xin详聊", "加微信", "pinyin", "加wei xin", "review"),  # contact advert
    # homophones and near-homophones (tone ignored), capped at review
    ("出售瑶头丸", "出售摇头丸", "homophone", "出售瑶头丸", "review"),
    ("出售摇头完", "摇头丸", "homophone", "摇头完", "review"),
    ("代开发漂，税点低", "代开发票", "homophone", "代开发漂", "review"),
    ("教你炸药配芳", "炸药配方", "homophone", "炸药配芳", "review"),
    ("加维信领取", "加微信", "homophone", "加维信", "review"),  # contact advert
    ("加微芯领取", "加微信", "homophone", "加微芯", "review"),
    # split characters keep the term's severity
    ("出售仿真木仓，包邮", "出售仿真枪", "split", "出售仿真木仓", "block"),
    ("出售手木仓", "出售手枪", "split", "出售手木仓", "block"),
    ("出售子弓单", "出售子弹", "split", "出售子弓单", "block"),
    ("出售火乍药", "出售炸药", "split", "出售火乍药", "block"),
    # look-alike letters and variant characters keep the term's severity
    ("出售к粉", "出售k粉", "variant", "出售к粉", "block"),  # Cyrillic ka
    ("出售Κ粉", "出售k粉", "variant", "出售Κ粉", "block"),  # Greek kappa
    ("出售迷薬", "出售迷药", "variant", "出售迷薬", "block"),  # Japanese 薬
    # invisible characters are noise, and the span still covers what was typed
    ("出售冰\u3164毒", "出售冰毒", "exact", "出售冰\u3164毒", "block"),  # Hangul filler
    ("出售冰\u2800毒", "出售冰毒", "exact", "出售冰\u2800毒", "block"),  # Braille blank
    ("出售冰\u00ad毒", "出售冰毒", "exact", "出售冰\u00ad毒", "block"),  # soft hyphen
    ("出售冰\ufe0f毒", "出售冰毒", "exact", "出售冰\ufe0f毒", "block"),  # variation selector
    ("出售冰\u3000毒", "出售冰毒", "exact", "出售冰\u3000毒", "block"),  # ideographic space
    ("出售冰\u2067毒", "出售冰毒", "exact", "出售冰\u2067毒", "block"),  # bidi isolate
]


@pytest.mark.parametrize(("text", "term", "kind", "typed", "severity"), CASES)
def test_evasion_is_caught_where_the_user_typed_it(
    lexicon: Lexicon, text: str, term: str, kind: str, typed: str, severity: str
) -> None:
    hits = [h for h in lexicon.match(text).hits if h.term == term]
    assert hits, [(h.term, h.match_kind, h.text) for h in lexicon.match(text).hits]
    hit = hits[0]
    assert (hit.match_kind, hit.severity) == (kind, severity)
    assert text[hit.start : hit.end] == hit.text == typed
    assert hit.to_dict()["match_kind"] == kind


def test_every_kind_has_cases() -> None:
    kinds = {case[2] for case in CASES}
    assert kinds == {"pinyin", "homophone", "split", "variant", "exact"}


# Ordinary words, names and places that read like a term or hold its components: pass.
GUARD = [
    "最近流感病毒很厉害，大家注意防护。",  # 病毒 reads like 冰毒
    "小区的大妈们每天晚上跳广场舞。",  # 大妈 reads like 大麻
    "我们全家去西安旅游了，兵马俑很震撼。",
    "小米要发布新手机了。",  # 米要 reads like 迷药
    "木仓库的屋顶漏雨，请物业修一下。",  # 木仓 inside 仓库
    "很多人要去办居住证，窗口排长队。",  # 人要 reads like 人妖
    "差别那么大吗？",  # 大吗 reads like 大麻
    "他见人就打招呼，很有礼貌。",  # 见人 reads like 贱人
    "每天CNN的新闻我都看。",  # initials in capitals are an acronym
    "我给这家店刷分了吗？没有。",
    "请问张冰都局长什么时候接待群众？",  # a name reading bing du: 都 is no homophone of 毒
    "建议在微信公众号上公开办事指南。",  # 微信 is not 薇信
    "说到这里没啥了。你们看着办。",  # across a sentence break
    "我的QQ群和微信群都发了通知。",
    "他是张文票，住在仓前街道。",
    "中外观众才一致那么激动。",  # 致那 reads like 支那, but 一致 is a word (一 as typed)
]


@pytest.mark.parametrize("text", GUARD)
def test_ordinary_text_stays_pass(moderator: Moderator, text: str) -> None:
    d = moderator.moderate(text, channel="comment")
    assert d.decision == "pass", [(h.term, h.match_kind, h.text) for h in d.hits]


def test_homophones_never_block(moderator: Moderator) -> None:
    d = moderator.moderate("出售瑶头丸，量大从优", channel="comment")
    assert d.decision == "review"
    assert {h.match_kind for h in d.hits} == {"homophone"}


# --- bidi ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "reorders"),
    [
        ("出售\u202e毒冰\u202c，量大", True),  # RLO over two CJK characters: shown as 冰毒
        ("abc\u202edef", True),  # RLO to the end of the paragraph
        ("出售\u202d毒冰\u202c", False),  # LRO over left-to-right text changes nothing
        ("a\u202eb\u202c", False),  # one visible character: nothing to reorder
        ("\u202dשלום\u202c", True),  # LRO over Hebrew reverses it
        ("出售\u2067毒冰\u2069", False),  # an isolate is no override
    ],
)
def test_bidi_overrides_that_reorder_go_to_review(
    moderator: Moderator, text: str, reorders: bool
) -> None:
    d = moderator.moderate(text, channel="comment")
    bidi = [h for h in d.hits if h.term == BIDI_TERM]
    assert bool(bidi) is reorders
    if reorders:
        assert d.decision in ("review", "block")
        hit = bidi[0]
        assert text[hit.start : hit.end] == hit.text
        assert hit.text[0] in "\u202d\u202e"


# --- Latin words ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def latin(tmp_path_factory: pytest.TempPathFactory) -> Lexicon:
    root: Path = tmp_path_factory.mktemp("latin")
    (root / "p.tsv").write_text(
        "xxx\tpornography\treview\nporn\tpornography\treview\nsex\tpornography\treview\n",
        "utf-8",
    )
    return Lexicon.load(root)


@pytest.mark.parametrize(
    ("text", "term", "typed"),
    [
        ("free xxx video", "xxx", "xxx"),
        ("free.xxx.video", "xxx", "xxx"),
        ("porn site", "porn", "porn"),
        ("最新porn资源", "porn", "porn"),
        ("p o r n 资源", "porn", "p o r n"),  # letter-spaced, still one Latin word
        ("ѕех video", "sex", "ѕех"),  # Cyrillic look-alikes
        ("ＳＥＸ视频", "sex", "ＳＥＸ"),
    ],
)
def test_latin_term_fires_on_word_edges(latin: Lexicon, text: str, term: str, typed: str) -> None:
    hits = [h for h in latin.match(text).hits if h.term == term]
    assert len(hits) == 1
    assert text[hits[0].start : hits[0].end] == typed


@pytest.mark.parametrize(
    "text",
    ["pornography lecture", "freexxxvideo", "xxxl size", "this ex is", "Essex county", "sussex"],
)
def test_latin_term_not_inside_a_longer_word(latin: Lexicon, text: str) -> None:
    assert latin.match(text).hits == ()


# --- fuzzy=no -----------------------------------------------------------------------------


def test_fuzzy_no_opts_a_term_out(tmp_path: Path) -> None:
    rows = "摇头丸\tdrugs\tblock\tfuzzy=no\n冰毒\tdrugs\treview\n"
    (tmp_path / "d.tsv").write_text(rows, "utf-8")
    lex = Lexicon.load(tmp_path)
    assert lex.match("出售yao头丸 瑶头丸").hits == ()
    assert [h.match_kind for h in lex.match("出售bing毒").hits] == ["pinyin"]
    assert [h.match_kind for h in lex.match("出售摇头丸").hits] == ["exact"]


def test_fuzzy_column_is_in_the_hash_only_when_set(tmp_path: Path) -> None:
    (tmp_path / "a.tsv").write_text("冰毒\tdrugs\tblock\n", "utf-8")
    plain = Lexicon.load(tmp_path).content_hash
    (tmp_path / "a.tsv").write_text("冰毒\tdrugs\tblock\tfuzzy=yes\n", "utf-8")
    assert Lexicon.load(tmp_path).content_hash == plain
    (tmp_path / "a.tsv").write_text("冰毒\tdrugs\tblock\tsubstring\tfuzzy=no\n", "utf-8")
    assert Lexicon.load(tmp_path).content_hash != plain


def test_evasion_off_finds_exact_only(lexicon: Lexicon) -> None:
    plain = Lexicon(lexicon.terms, lexicon.allow, evasion=False)
    assert plain.match("出售yao头丸").hits == ()
    assert plain.match("出售瑶头丸").hits == ()
    assert [h.match_kind for h in plain.match("出售摇头丸").hits] == ["exact", "exact"]


def test_two_character_word_terms_have_no_fuzzy_forms(lexicon: Lexicon) -> None:
    # 大麻 is a `word` term: `大妈`, `大吗`, `da麻` are never it; 乱伦 (word) likewise, but
    # the longer 出售大麻 still has its pinyin form.
    assert {h.term for h in lexicon.match("买da麻，说大吗").hits} == set()
    assert [h.match_kind for h in lexicon.match("出售da麻").hits] == ["pinyin"]


# --- contact adverts: the verb and the platform respelled (moderation/evasion/contact.py) -----

# (text, term, match_kind, what the user typed for it); every hit is `review`.
CONTACT_CASES = [
    # a plus-like sign read as 加 before a platform: `variant`, whatever follows
    ("➕微信详聊", "加微信", "variant", "➕微信"),
    ("+微信", "加微信", "variant", "+微信"),
    ("＋薇信", "加薇信", "variant", "＋薇信"),
    ("✚wx", "加微信", "variant", "✚wx"),
    ("⊕vx", "加微信", "variant", "⊕vx"),
    ("﹢威信", "加微信", "variant", "﹢威信"),
    ("有意者+微信", "加微信", "variant", "+微信"),
    ("要的 + V", "加v", "variant", "+ V"),
    ("++微信", "加微信", "variant", "+微信"),
    ("➕ 扣扣", "加qq", "variant", "➕ 扣扣"),
    ("＋tg", "加电报", "variant", "＋tg"),
    # the verb as a homophone of 加, directly before a platform
    ("家微信详聊", "加微信", "homophone", "家微信"),
    ("佳微信", "加微信", "homophone", "佳微信"),
    ("嘉微信，送资料", "加微信", "homophone", "嘉微信"),
    ("家扣扣", "加qq", "homophone", "家扣扣"),
    # the platform respelled after 加 (威信 is a dictionary word, but not after 加)
    ("加威信详聊", "加微信", "homophone", "加威信"),
    ("加wx领取", "加微信", "pinyin", "加wx"),
    ("加 q q 123456", "加qq", "exact", "加 q q"),
    ("加扣扣", "加qq", "homophone", "加扣扣"),
    ("加球球", "加qq", "homophone", "加球球"),
    ("加企鹅号", "加qq", "variant", "加企鹅"),
    ("加纸飞机", "加电报", "variant", "加纸飞机"),
    ("加momo", "加陌陌", "pinyin", "加momo"),
    # other verbs, with a respelled platform only
    ("私聊v", "加微信", "pinyin", "私聊v"),
    ("私聊vx详谈", "加微信", "pinyin", "私聊vx"),
    ("戳wx", "加微信", "pinyin", "戳wx"),
    ("加个vx", "加微信", "pinyin", "加个vx"),
    ("添加wx", "加微信", "pinyin", "添加wx"),
    ("联系薇信", "加微信", "homophone", "联系薇信"),
    ("私聊tg", "加电报", "variant", "私聊tg"),
]


@pytest.mark.parametrize(("text", "term", "kind", "typed"), CONTACT_CASES)
def test_contact_advert_is_caught_where_the_user_typed_it(
    moderator: Moderator, text: str, term: str, kind: str, typed: str
) -> None:
    d = moderator.moderate(text, channel="comment")
    hits = [h for h in d.hits if h.term == term]
    assert len(hits) == 1, [(h.term, h.match_kind, h.text) for h in d.hits]
    hit = hits[0]
    assert (hit.match_kind, hit.category, hit.severity) == (kind, "advertising", "review")
    assert text[hit.start : hit.end] == hit.text == typed
    assert d.decision == "review"


# Ordinary text around the same words: pass.
CONTACT_GUARD = [
    "1+1=2",
    "C++ 编程",
    "学习C++和Java",
    "家里的微信群",
    "大家微信联系",  # 大家 is a word: its 家 is no verb
    "国家威信",
    "政府威信",
    "提高政府公信力和威信",
    "这样做会增加威信，也会更加威信扫地。",  # 增加, 更加 are words
    "嘉宾微信扫码签到",
    "最佳微信小程序评选结果公布了吗？",
    "我已经联系微信客服了，没有用。",  # a complaint about WeChat's support
    "我的QQ+微信群都发了通知",  # a plus between two platforms is "and"
    "建议支持支付宝+微信缴费。",  # after another channel, likewise
    "请留电话+微信，方便回访。",
    "会员分+vip两档",  # `+vip` is a Latin word, not `加v`
    "他说：加，扣扣的不算。",  # across sentence punctuation
    "云南省威信县的扶贫项目进展如何？",
    "滴滴打车乱收费，滴滴我投诉了三次。",  # 滴滴 (DiDi) is no contact advert here
]


@pytest.mark.parametrize("text", CONTACT_GUARD)
def test_ordinary_text_around_contact_words_stays_pass(moderator: Moderator, text: str) -> None:
    d = moderator.moderate(text, channel="comment")
    assert d.decision == "pass", [(h.term, h.match_kind, h.text) for h in d.hits]


def test_plus_over_a_block_term_is_only_review(moderator: Moderator) -> None:
    # `加v看` blocks when typed; with the verb as a plus sign it is a respelling: review.
    assert moderator.moderate("加v看", channel="comment").decision == "block"
    d = moderator.moderate("➕v看", channel="comment")
    assert d.decision == "review"
    assert {(h.match_kind, h.severity) for h in d.hits} == {("variant", "review")}


def test_exact_contact_text_keeps_its_shipped_behaviour(moderator: Moderator) -> None:
    # The layer adds respellings; what exact text does is the lexicon's rows' business:
    # `加微信` is a review term, an official account mention included.
    d = moderator.moderate("请加微信公众号“北京发布”查询", channel="comment")
    assert [(h.term, h.match_kind) for h in d.hits] == [("加微信", "exact")]
    assert moderator.moderate("加个微信吧", channel="comment").decision == "pass"
    assert moderator.moderate("冰+毒", channel="comment").hits[0].match_kind == "exact"


def test_plus_signs_come_from_unicode_names() -> None:
    from moderation.evasion.contact import plus_signs

    assert {"+", "＋", "➕", "✚", "⊕", "﹢", "⁺", "✙"} <= plus_signs()
    assert plus_signs().isdisjoint("-±×÷十")


def test_any_lexicon_row_of_verb_and_platform_gets_the_spellings(tmp_path: Path) -> None:
    (tmp_path / "a.tsv").write_text(
        "加陌陌\tadvertising\tblock\n加qq\tadvertising\treview\tfuzzy=no\n", "utf-8"
    )
    lex = Lexicon.load(tmp_path)
    hits = lex.match("私聊momo").hits
    assert [(h.term, h.match_kind, h.severity, h.text) for h in hits] == [
        ("加陌陌", "pinyin", "review", "私聊momo")
    ]
    assert [h.severity for h in lex.match("加陌陌").hits] == ["block"]  # exact keeps its own
    assert lex.match("加扣扣 ➕扣扣").hits == ()  # fuzzy=no opts out
    plain = Lexicon(lex.terms, lex.allow, evasion=False)
    assert plain.match("私聊momo ➕陌陌").hits == ()
