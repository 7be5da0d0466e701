"""Toneless pinyin readings, from `pypinyin`'s data (no table typed here).

The sound view of a text replaces every ideograph by its most common reading
(`reading_table`); a term is looked for under its readings (`term_readings`): the same
per-character readings, so that the term written as itself or as homophones matches, and
pypinyin's phrase-aware reading (`银行` → `yinhang`, not `yinxing`), which is what a person
types. Tones are dropped: a near-homophone that differs only in tone (`谜` mí for `迷` mí,
`瑶` yáo for `摇` yáo, `要` yào for `药` yào) reads the same. `ü` is written `v`, as on
every pinyin keyboard.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

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
def reading_table() -> list[int | str]:
    """Code point → its most common toneless reading, for `str.translate` (BMP only)."""
    table: list[int | str] = list(range(0x10000))
    for cp, readings in pinyin_dict.items():
        if cp < 0x10000 and is_han(chr(cp)):
            table[cp] = toneless(readings.split(",")[0])
    return table


def char_reading(ch: str) -> str | None:
    value = reading_table()[ord(ch)] if len(ch) == 1 and ord(ch) < 0x10000 else None
    return value if isinstance(value, str) else None


def term_readings(key: str) -> set[str]:
    """Every spelling of a folded term in the sound view (see the module docstring)."""
    # One-character terms read like too many ordinary syllables (`cao`), and a term that
    # already holds Latin letters (`傻b`) is itself an evasion spelling.
    if len(key) < 2 or not any(is_han(c) for c in key) or any(c.isascii() and c.isalpha()
                                                              for c in key):
        return set()
    per_char = "".join(char_reading(c) or c for c in key)
    phrase = "".join(
        toneless(p) if is_han(c) else c
        for c, p in zip(key, _phrase_syllables(key), strict=True)
    )
    out = {per_char, phrase}
    out |= {"".join(_DIGIT_READINGS.get(c, c) for c in r) for r in out}
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
