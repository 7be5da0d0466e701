"""Contact adverts: the verb and the platform of `加微信`, each in any spelling.

A contact advert is a verb (`加`, `添加`, `私聊`, `联系`, `戳`…) and a platform (`微信`, `QQ`,
`电报`, `陌陌`). Spammers respell each half on its own: the platform as a homophone
(`薇信`, `威信`, `扣扣`), in letters (`vx`, `wx`, `v`, `momo`) or by a nickname (`企鹅`,
`纸飞机`); the verb as a homophone (`家`, `佳`, `嘉`) or a plus sign (`➕微信`, `+wx`).
The sound view cannot find these: `威信` is an ordinary word (the homophone guard drops
it, rightly, everywhere but after a verb), `vx` spells no reading, and a plus sign is noise
that normalization removes.

So a lexicon term that IS a contact advert (its folded key is `加` + a platform spelling:
`加微信`, `加qq`, `加v`) gets every verb × platform spelling as extra keys of the lexicon's
own automaton (`contact_keys`), each labelled with how it was spelled; and a plus sign
directly before a platform spelling is read as `加` (`plus_as_verb`). Either way the hit is
capped at `review`: a contact request is never proof of an advert.

Guards: a respelled verb must not end a dictionary word that began before it (`大家微信`,
`国家威信`, `增加威信`, `最佳vx` are ordinary text; `添加` is itself a verb); a plus sign
after a channel name or after a Latin letter or digit is "and" or arithmetic (`QQ+微信`,
`电话+微信`, `C++`, `1+1`), not a verb; Latin spellings obey the lexicon's Latin word
edges (`+vip`).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from moderation.segment import is_dictionary_word

#: The canonical verb: lexicon terms spelled `加` + platform are contact adverts.
VERB = "加"

#: Verb spellings and how each counts. A synonym (`私聊`, `联系`) or a longer form
#: (`加个`, `添加`) of the verb is no evasion by itself: it joins only a respelled platform
#: (`联系微信客服` is a complaint about WeChat's support, `私聊vx` an advert).
VERBS: dict[str, str] = {
    "加": "exact",
    "加个": "exact",
    "加我": "exact",
    "添加": "exact",
    "私聊": "exact",
    "联系": "exact",
    "戳": "exact",
    # homophones of 加 (jiā): only directly before a platform, and guarded
    "家": "homophone",
    "佳": "homophone",
    "嘉": "homophone",
}

#: Platforms: the first spelling of each is the canonical one (what lexicon rows write),
#: then its respellings and their match kind. Folded forms (lower case, no spaces).
PLATFORMS: dict[str, dict[str, str]] = {
    "wechat": {
        "微信": "exact",
        "薇信": "homophone",
        "威信": "homophone",
        "维信": "homophone",
        "唯信": "homophone",
        "v信": "pinyin",
        "vx": "pinyin",
        "wx": "pinyin",
        "v": "pinyin",
        "weixin": "pinyin",
        "微x": "pinyin",
    },
    "qq": {
        "qq": "exact",
        "扣扣": "homophone",
        "球球": "homophone",
        "企鹅": "variant",  # its mascot
    },
    "telegram": {
        "电报": "exact",
        "tg": "variant",
        "纸飞机": "variant",  # its logo
    },
    "momo": {
        "陌陌": "exact",
        "momo": "pinyin",
    },
}


#: Other channels: a plus sign after one of them lists channels (`支付宝+微信缴费`,
#: `电话+微信`), it does not ask to be added.
OTHER_CHANNELS: tuple[str, ...] = (
    "支付宝", "电话", "手机", "短信", "邮箱", "邮件", "微博", "抖音", "快手", "钉钉",
    "小红书", "公众号", "小程序", "网站", "官网", "app", "线上", "线下", "银行卡",
)


@dataclass(frozen=True, slots=True)
class ContactSpelling:
    """An extra automaton key of a contact term: how it was spelled, and where its verb
    sits in it (for the guard)."""

    kind: str
    verb_end: int
    #: the verb is a homophone (`家`): the guard looks at the word before it
    verb_respelled: bool


def _platform_of(rest: str) -> str | None:
    for group, spellings in PLATFORMS.items():
        if rest in spellings:
            return group
    return None


def contact_keys(key: str) -> dict[str, ContactSpelling]:
    """Every verb × platform spelling of a contact term (`加微信` → `家微信`, `私聊vx`,
    `加扣扣`…), without the term's own key; empty for any other term."""
    if not key.startswith(VERB):
        return {}
    group = _platform_of(key[len(VERB) :])
    if group is None:
        return {}
    out: dict[str, ContactSpelling] = {}
    for verb, verb_kind in VERBS.items():
        for platform, platform_kind in PLATFORMS[group].items():
            if platform_kind == "exact" and (verb_kind == "exact"):
                continue  # the lexicon's own rows decide exact text
            if verb_kind != "exact" and len(platform) == 1:
                continue  # `家v`: too little left of an advert
            spelling = verb + platform
            if spelling == key:
                continue
            kind = platform_kind if platform_kind != "exact" else verb_kind
            out[spelling] = ContactSpelling(kind, len(verb), verb_kind != "exact")
    return out


@lru_cache(maxsize=1)
def _platform_spellings() -> tuple[str, ...]:
    return tuple(s for spellings in PLATFORMS.values() for s in spellings)


def verb_joins_word(window: str, offset: int, start: int) -> bool:
    """Whether a dictionary word of 2+ characters runs from before the hit (folded
    position `start`) into its first character (`大家`, `国家`, `增加`, `最佳`), other than
    a verb spelling (`添加`). `window` is the folded text from `offset` on, numerals as
    typed."""
    p = start - offset
    for lo in range(max(0, p - 3), p):
        word = window[lo : p + 1]
        if word not in VERBS and is_dictionary_word(word):
            return True
    return False


# -- plus signs --------------------------------------------------------------------------


@lru_cache(maxsize=1)
def plus_signs() -> frozenset[str]:
    """Symbols that look like a plus sign, from Unicode's names (`+`, `＋`, `➕`, `﹢`,
    `⁺`, `⊕`, `⊞`, `✚`, `✙`, the Greek crosses)."""
    out = set()
    for cp in range(0x110000):
        ch = chr(cp)
        if not unicodedata.category(ch).startswith("S"):
            continue
        name = unicodedata.name(ch, "")
        if name.endswith(("PLUS SIGN", "GREEK CROSS")) or name in ("CIRCLED PLUS",
                                                                   "SQUARED PLUS"):
            out.add(ch)
    return frozenset(out)


@lru_cache(maxsize=1)
def _plus_re() -> re.Pattern[str]:
    return re.compile("[" + "".join(re.escape(c) for c in sorted(plus_signs())) + "]")


def _after_channel(folded: str) -> bool:
    return folded.endswith(_platform_spellings()) or folded.endswith(OTHER_CHANNELS)


def plus_as_verb(text: str, folded: str, offsets: list[int] | None) -> str | None:
    """`text` with each plus sign that stands for `加` (directly before a platform
    spelling, not after a Latin letter, a digit or a channel) replaced by `加`, or None
    when there is none. One code point for one, so offsets into the result are offsets
    into `text`. `folded`/`offsets`: `text` normalized."""
    if _plus_re().search(text) is None or offsets is None:
        return None
    chars: list[str] | None = None
    f = 0  # the first folded character typed after the plus sign
    for m in _plus_re().finditer(text):
        p = m.start()
        while f < len(offsets) and offsets[f] < p:
            f += 1
        before = folded[:f]
        if before and (before[-1].isascii() and before[-1].isalnum() or _after_channel(before)):
            continue
        if not folded.startswith(_platform_spellings(), f):
            continue
        if chars is None:
            chars = list(text)
        chars[p] = VERB
    return None if chars is None else "".join(chars)
