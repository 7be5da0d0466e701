"""Toneless pinyin readings, from `pypinyin`'s data (no table typed here).

The sound view of a text replaces every ideograph by one code point standing for its most
common reading (`syllable_table`); a term is looked for under all its spellings
(`term_readings`): each ideograph as that syllable (so the term written as itself or with
homophones matches) or in pinyin letters, under its common reading and pypinyin's
phrase-aware one (`银行` → `yinhang`, not `yinxing`), which is what a person types.
Tones are dropped: a near-homophone that differs only in tone (`谜` mí for `迷` mí,
`瑶` yáo for `摇` yáo, `要` yào for `药` yào) reads the same. `ü` is written `v`, as on
every pinyin keyboard.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache
from itertools import product

from pypinyin import Style, lazy_pinyin
from pypinyin.pinyin_dict import pinyin_dict

#: How digits in a folded term are read when a user spells the whole term in pinyin
#: (`一夜情` folds to `1夜情`; `yiyeqing` spells it).
_DIGIT_READINGS = dict(zip("0123456789", ("ling", "yi", "er", "san", "si", "wu", "liu", "qi",
                                          "ba", "jiu"), strict=True))


def toneless(syllable: str) -> str:
    """`lǜ` → `lv`, `xíng` → `xing`."""
    decomposed = unicodedata.normalize("NFD", syllable).replace("u\u0308", "v")
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def is_han(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff"


@lru_cache(maxsize=1)
def _primary() -> dict[str, str]:
    """Ideograph → its most common toneless reading."""
    return {
        chr(cp): toneless(readings.split(",")[0])
        for cp, readings in pinyin_dict.items()
        if cp < 0x10000 and is_han(chr(cp))
    }


#: Syllable ids live in the Private Use Area; private-use characters in a text become
#: U+FFFD in the view, so they can never pass for a syllable.
_SYLLABLE_BASE = 0xE000


@lru_cache(maxsize=1)
def _syllable_ids() -> dict[str, str]:
    syllables = sorted(set(_primary().values()))
    return {s: chr(_SYLLABLE_BASE + i) for i, s in enumerate(syllables)}


def syllable_id(syllable: str) -> str | None:
    return _syllable_ids().get(syllable)


@lru_cache(maxsize=1)
def syllable_table() -> list[int]:
    """Code point → the code point of its reading's syllable id, for `str.translate`.

    One code point for one, so the sound view has the folded text's offsets."""
    table = list(range(0x10000))
    for cp in range(0xE000, 0xF900):
        table[cp] = 0xFFFD
    ids = _syllable_ids()
    for ch, syllable in _primary().items():
        table[ord(ch)] = ord(ids[syllable])
    return table


def char_reading(ch: str) -> str | None:
    return _primary().get(ch)


#: More spellings than this per term and only the uniform ones are kept (all sounds, all
#: letters, one character in letters).
MAX_SPELLINGS = 256


def term_readings(key: str) -> set[str]:
    """Every spelling of a folded term in the sound view.

    Each ideograph may appear as its syllable id (any character with that reading: the
    term itself or a homophone) or as pinyin letters, under its most common reading or
    pypinyin's phrase-aware one (`银行` → `hang`); a digit as itself or spelled (`1` →
    `yi`); each character chosen independently, so `mi药`, `迷yao` and `miyao` are all
    spellings of 迷药.
    """
    # One-character terms read like too many ordinary syllables (`cao`), and a term that
    # already holds Latin letters (`傻b`) is itself an evasion spelling.
    if len(key) < 2 or not any(is_han(c) for c in key) or any(
        c.isascii() and c.isalpha() for c in key
    ):
        return set()
    options: list[list[str]] = []
    for ch, phrase in zip(key, _phrase_syllables(key), strict=True):
        if is_han(ch):
            readings = {r for r in (char_reading(ch), toneless(phrase)) if r}
            opts = {syllable_id(r) or ch for r in readings} | readings
        elif ch in _DIGIT_READINGS:
            opts = {ch, _DIGIT_READINGS[ch]}
        else:
            opts = {ch}
        options.append(sorted(opts))
    total = 1
    for opts in options:
        total *= len(opts)
    if total <= MAX_SPELLINGS:
        return {"".join(p) for p in product(*options)}
    out = {"".join(o[0] for o in options), "".join(o[-1] for o in options)}
    for i, opts in enumerate(options):
        for o in opts:
            head = "".join(x[0] for x in options[:i])
            out.add(head + o + "".join(x[0] for x in options[i + 1 :]))
    return out


def _phrase_syllables(key: str) -> list[str]:
    """One syllable per character of `key` (non-ideographs map to themselves)."""
    syllables = lazy_pinyin(key, style=Style.TONE, errors=lambda s: list(s))
    return syllables if len(syllables) == len(key) else [char_reading(c) or c for c in key]


def term_initials(key: str) -> str | None:
    """The initials a term of 3+ ideographs is abbreviated to (`摇头丸` → `ytw`), else None."""
    if len(key) < 3 or not all(is_han(c) for c in key):
        return None
    syllables = [toneless(s) for s in _phrase_syllables(key)]
    return "".join(s[0] for s in syllables if s)
