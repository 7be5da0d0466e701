"""Bidi overrides that reorder what a reader sees.

Every bidi control (LRE, RLE, PDF, LRO, RLO, LRI, RLI, FSI, PDI) is noise to the matcher, so
`出售\u202e毒冰` is matched as `出售毒冰`, the order in which it was typed. But RLO (and LRO
over right-to-left letters) makes a reader SEE the characters in another order than the one
typed, which is how `毒冰` displays as `冰毒` while the text says otherwise: the text no longer
shows what it holds, so it goes to a person. An override over one visible character, or LRO
over left-to-right text, changes nothing on screen and is only noise.
"""

from __future__ import annotations

import unicodedata

LRO, RLO, PDF = "\u202d", "\u202e", "\u202c"
_ENDS = frozenset((PDF, "\n", "\r", "\u2029", "\u2028"))
_RTL = frozenset(("R", "AL"))


def _visible(ch: str) -> bool:
    return not ch.isspace() and unicodedata.category(ch)[0] not in "CZ"


def reordering_spans(text: str) -> list[tuple[int, int]]:
    """Spans (override through its end) where an override reorders 2+ visible characters."""
    if LRO not in text and RLO not in text:
        return []
    spans: list[tuple[int, int]] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch not in (LRO, RLO):
            i += 1
            continue
        end = i + 1
        visible = reordered = 0
        while end < len(text) and text[end] not in _ENDS:
            c = text[end]
            if _visible(c):
                visible += 1
                rtl = unicodedata.bidirectional(c) in _RTL
                reordered += rtl if ch == LRO else not rtl
            end += 1
        if visible >= 2 and reordered >= 1:
            stop = end + 1 if end < len(text) and text[end] == PDF else end
            spans.append((i, stop))
        i = end
    return spans
