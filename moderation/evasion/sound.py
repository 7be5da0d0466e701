"""The sound view of a folded text: every ideograph replaced by its toneless reading.

`谜要`, `mi药`, `迷yao` and `mi yao` (noise already gone) all read `miyao`, so one automaton of
term readings finds them all. The view is one `str.translate`; where each folded character
landed in it is worked out only when something matched, and a match counts only when it
starts and ends on a character's edge (`xian` inside `西安` = `xi`+`an` does not end inside a
syllable, but `ian` never starts one).
"""

from __future__ import annotations

from bisect import bisect_left

from moderation.evasion.readings import reading_table


class SoundView:
    __slots__ = ("text", "folded", "_starts")

    def __init__(self, folded: str) -> None:
        self.folded = folded
        self.text = folded.translate(reading_table())
        self._starts: list[int] | None = None

    def _piece_starts(self) -> list[int]:
        """View index where each folded character's reading starts, plus the end."""
        if self._starts is None:
            table = reading_table()
            starts = [0] * (len(self.folded) + 1)
            pos = 0
            for i, ch in enumerate(self.folded):
                starts[i] = pos
                cp = ord(ch)
                piece = table[cp] if cp < 0x10000 else ch
                pos += len(piece) if isinstance(piece, str) else 1
            starts[-1] = pos
            self._starts = starts
        return self._starts

    def to_folded(self, start: int, end: int) -> tuple[int, int] | None:
        """The folded span whose readings are exactly view[start:end], or None when the
        match starts or ends inside a syllable."""
        if len(self.text) == len(self.folded):
            return start, end
        starts = self._piece_starts()
        first = bisect_left(starts, start)
        last = bisect_left(starts, end, first)
        if starts[first] != start or last >= len(starts) or starts[last] != end:
            return None
        return first, last
