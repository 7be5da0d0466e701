"""Whether a fuzzy hit sits inside an ordinary word: jieba's dictionary decides.

Toneless pinyin collides with real words (`病毒` reads like 冰毒, `大妈` like 大麻) and
component pairs run into neighbours (`木仓库` holds 木仓). A homophone hit is dropped when a
substituted character belongs to a word jieba's dictionary knows (`病毒`, `大妈`, a name it
lists), when it swaps in more common characters than the term's next to common kept ones,
or when it runs across a sentence break; a split hit is dropped when a dictionary word
straddles the edge of its components (`仓库`). Words jieba only guesses (its HMM invents
`谜药`) do not count.
"""

from __future__ import annotations

from collections.abc import Iterable

from moderation.segment import char_rank, is_dictionary_word

#: Characters among the this many most frequent in jieba's dictionary are "common".
COMMON_RANK = 1000
#: Sentence punctuation: a homophone never spans it (`没啥了。你把` is not 杀了你).
_BREAKS = frozenset("。，！？；：、,!?;:\n")


def common_swap(typed: str, key: str) -> bool:
    """Whether a homophone spelling (folded, same length as the term's key) reads as
    ordinary text rather than evasion.

    Evaders swap a character for one that reads the same and is no more common (`谜` for
    迷, `瑶` for 摇), or keep a rare character of the term (`迷要`). Ordinary text that
    happens to read like a term swaps in a MORE common character next to common kept ones
    (`人要` for 人妖, `大吗` for 大麻, `见人` for 贱人, `你哥` for 尼哥).
    """
    kept = [t for t, k in zip(typed, key, strict=True) if t == k]
    swapped = [(t, k) for t, k in zip(typed, key, strict=True) if t != k]
    more_common = any(char_rank(t) < char_rank(k) for t, k in swapped)
    return more_common and all(char_rank(c) < COMMON_RANK for c in kept)


def spans_break(original: str) -> bool:
    """Whether a homophone's original span runs across sentence punctuation
    (`没啥了。你把` is not 杀了你)."""
    return any(c in _BREAKS for c in original)


#: Dictionary words looked for around a fuzzy hit are at most this long.
MAX_WORD = 4


def inside_word(
    window: str, offset: int, changed: Iterable[int], group: tuple[int, int] | None = None
) -> bool:
    """Whether a dictionary word of 2+ characters holds a substituted character (`changed`:
    folded positions), or straddles a split hit's component span (`group`).

    Every dictionary word through those positions counts, not only the ones jieba's
    segmentation would pick: the lookups are a handful of dict probes, where segmenting a
    window costs a millisecond, and a homophone that is also part of some real word is
    exactly the kind to leave alone. `window` is the folded text from `offset` on, with
    Chinese numerals as typed (`一致` is a word, `1致` is not).
    """
    folded = window
    n = len(folded)
    changed = [p - offset for p in changed]
    if group is not None:
        group = (group[0] - offset, group[1] - offset)
    if group is not None:
        g_lo, g_hi = group
        for edge in (g_lo, g_hi):  # words crossing the edge between edge-1 and edge
            for lo in range(max(0, edge - MAX_WORD + 1), edge):
                for hi in range(edge + 1, min(n, lo + MAX_WORD) + 1):
                    if not (g_lo <= lo and hi <= g_hi) and is_dictionary_word(folded[lo:hi]):
                        return True
        return False
    for p in changed:
        for lo in range(max(0, p - MAX_WORD + 1), p + 1):
            for hi in range(max(p + 1, lo + 2), min(n, lo + MAX_WORD) + 1):
                if is_dictionary_word(folded[lo:hi]):
                    return True
    return False
