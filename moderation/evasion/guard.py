"""Whether a fuzzy hit sits inside an ordinary word: jieba's dictionary decides.

Toneless pinyin collides with real words (`病毒` reads like 冰毒, `大妈` like 大麻) and
component pairs run into neighbours (`木仓库` holds 木仓). A homophone hit is dropped when a
substituted character belongs to a word jieba's dictionary knows (`病毒`, `大妈`, a name it
lists); a split hit is dropped when such a word straddles the edge of its components
(`仓库`). Words jieba only guesses (its HMM invents `谜药`) do not count.
"""

from __future__ import annotations

from collections.abc import Iterable

from moderation.segment import char_rank, is_dictionary_word, tokenize

#: Characters among the this many most frequent in jieba's dictionary are "common".
COMMON_RANK = 1000
#: Sentence punctuation: a homophone never spans it (`没啥了。你把` is not 杀了你).
_BREAKS = frozenset("。，！？；：、,!?;:\n")


def ordinary_homophone(typed: str, key: str) -> bool:
    """Whether a same-length homophone spelling reads as ordinary text rather than evasion.

    Evaders swap a character for one that reads the same and is no more common (`谜` for
    迷, `瑶` for 摇), or keep a rare character of the term (`迷要`). Ordinary text that
    happens to read like a term swaps in a MORE common character next to common kept ones
    (`人要` for 人妖, `大吗` for 大麻, `见人` for 贱人, `你哥` for 尼哥), or runs across a
    sentence break.
    """
    if any(c in _BREAKS for c in typed):
        return True
    chars = [c for c in typed if not c.isspace()]
    if len(chars) != len(key):
        return False
    kept = [t for t, k in zip(chars, key, strict=True) if t == k]
    swapped = [(t, k) for t, k in zip(chars, key, strict=True) if t != k]
    more_common = any(char_rank(t) < char_rank(k) for t, k in swapped)
    return more_common and all(char_rank(c) < COMMON_RANK for c in kept)


def inside_word(
    window: str, offset: int, changed: Iterable[int], group: tuple[int, int] | None = None
) -> bool:
    """`window` is folded text from `offset`; `changed` are folded positions of substituted
    characters; `group` is a split hit's component span (folded positions)."""
    changed = set(changed)
    for word, start, end in tokenize(window):
        if end - start < 2 or not is_dictionary_word(word):
            continue
        lo, hi = offset + start, offset + end
        if group is not None:
            g_lo, g_hi = group
            if lo < g_hi and g_lo < hi and not (g_lo <= lo and hi <= g_hi):
                return True
        elif any(lo <= p < hi for p in changed):
            return True
    return False
