"""Fuzzy matching for a lexicon: term readings and split spellings, built once per version.

`FuzzyMatcher.sound_hits` finds `pinyin` and `homophone` candidates in the sound view;
`split_keys` and `contact_keys` are added to the lexicon's own automaton (one pass over the
folded text finds exact, split and contact-advert hits alike). The lexicon then applies
what every hit gets (allow list, word mode, Latin word edges) and, for these kinds, the
jieba guard.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import ahocorasick

from moderation.evasion.contact import ContactSpelling, contact_keys
from moderation.evasion.readings import is_han, term_initials, term_readings
from moderation.evasion.sound import sound_view
from moderation.evasion.split import split_keys


@dataclass(frozen=True, slots=True)
class FuzzyCandidate:
    """A fuzzy match on the folded text: [start, end), the term, how, and which folded
    positions hold substituted characters (for the guard)."""

    start: int
    end: int
    term_index: int
    kind: str
    changed: tuple[int, ...] = ()
    #: a pinyin match of the term's initials (`ytw`): counts only typed in lower case
    initials: bool = False
    #: a contact advert's respelling (`evasion.contact`): its own guard, capped at review
    contact: ContactSpelling | None = None


def _ascii_letters(s: str) -> bool:
    return s.isascii() and s.isalpha()


class FuzzyMatcher:
    """Readings automaton and split spellings for the fuzzy terms of one lexicon."""

    def __init__(self, keys: Sequence[tuple[int, str]]) -> None:
        """`keys`: (term index, folded key) of every term that allows fuzzy matching."""
        self.keys = dict(keys)
        entries: dict[str, list[tuple[int, bool]]] = {}
        self.split: dict[str, tuple[int, tuple[int, int]]] = {}
        self.contact: dict[str, tuple[int, ContactSpelling]] = {}
        for index, key in keys:
            for reading in term_readings(key):
                entries.setdefault(reading, []).append((index, False))
            initials = term_initials(key)
            if initials is not None:
                entries.setdefault(initials, []).append((index, True))
            for spelling, group in split_keys(key).items():
                self.split.setdefault(spelling, (index, group))
            for spelling, how in contact_keys(key).items():
                self.contact.setdefault(spelling, (index, how))
        self._automaton = ahocorasick.Automaton()
        for reading, targets in entries.items():
            self._automaton.add_word(reading, (len(reading), tuple(targets)))
        if entries:
            self._automaton.make_automaton()
        self._empty = not entries

    def sound_hits(self, folded: str) -> list[FuzzyCandidate]:
        if self._empty:
            return []
        out: list[FuzzyCandidate] = []
        for end_index, (length, targets) in self._automaton.iter(sound_view(folded)):
            start, end = end_index - length + 1, end_index + 1
            typed = folded[start:end]
            for index, initials in targets:
                found = self._classify(typed, start, end, index, initials)
                if found is not None:
                    out.append(found)
        return out

    def _classify(
        self, typed: str, start: int, end: int, index: int, initials: bool
    ) -> FuzzyCandidate | None:
        key = self.keys[index]
        if typed == key:
            return None  # the exact path reports it
        if initials:
            # Initials only as a whole Latin word (the lexicon checks the word edges).
            if not _ascii_letters(typed):
                return None
            return FuzzyCandidate(start, end, index, "pinyin", initials=True)
        if any(c.isascii() and c.isalpha() for c in typed):
            return FuzzyCandidate(start, end, index, "pinyin")
        # A homophone: same length, at least one character as in the term (`米要` for 迷药
        # is two ordinary words; `谜药` and `迷要` keep one of the term's own characters).
        if len(typed) != len(key) or not any(a == b for a, b in zip(typed, key, strict=True)):
            return None
        changed = tuple(start + i for i, (a, b) in enumerate(zip(typed, key, strict=True))
                        if a != b and is_han(a))
        return FuzzyCandidate(start, end, index, "homophone", changed)
