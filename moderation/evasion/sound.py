"""The sound view of a folded text: every ideograph replaced by its reading's syllable id.

`谜药` and `迷药` both become the ids of `mi`+`yao`; letters stay letters, so `mi药`, `迷yao`
and `mi yao` (noise already gone) are spelled by one of the term's readings
(`readings.term_readings`), and one automaton finds them all. The view is one `str.translate`
mapping one code point to one: its offsets ARE the folded text's, and a match can never
start or end inside a syllable.
"""

from __future__ import annotations

from moderation.evasion.readings import syllable_table


def sound_view(folded: str) -> str:
    return folded.translate(syllable_table())
