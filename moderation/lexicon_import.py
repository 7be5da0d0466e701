"""Checks run on terms BEFORE they enter a lexicon (import of TSV dirs and word lists).

An admin importing a public list must see, before anything is written, what would go
wrong: lines that cannot be read (every one named), duplicates, different spellings that
fold to one key, single characters, and terms that would fire inside many everyday words
(checked against jieba's dictionary), so that a list which blocks 政府 is caught here and
not by the citizens of a government portal.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ahocorasick

from moderation.categories import CATEGORIES
from moderation.errors import LexiconError
from moderation.lexicon import Term, check_directory, make_term
from moderation.normalize import normalize_term

#: A dictionary word at least this frequent (jieba's counts) is "common"; 政府 is 23,452.
COMMON_FREQ = 1000
#: A term inside at least this many dictionary words of frequency >= INSIDE_FREQ is risky.
INSIDE_WORDS = 10
INSIDE_FREQ = 50
EXAMPLES = 5


@dataclass
class ImportReport:
    """What an import would bring in, and everything an admin should look at first."""

    terms: list[Term] = field(default_factory=list)
    allow: list[str] = field(default_factory=list)
    bad_lines: list[str] = field(default_factory=list)  # "file:line: message" (blocking)
    duplicates: list[dict[str, Any]] = field(default_factory=list)  # same key twice: skipped
    single_chars: list[str] = field(default_factory=list)
    common_words: list[dict[str, Any]] = field(default_factory=list)

    @property
    def blocking(self) -> bool:
        """Bad lines stop an import: nothing is written while any line is unreadable."""
        return bool(self.bad_lines)

    @property
    def risky(self) -> bool:
        """Common-word terms stop an import unless forced. Single characters are reported
        only (the shipped list holds one, 肏); one that is inside many words is a common-word
        term as well."""
        return bool(self.common_words)

    def to_dict(self) -> dict[str, Any]:
        return {"terms": len(self.terms), "allow": len(self.allow),
                "bad_lines": self.bad_lines, "duplicates": self.duplicates,
                "single_chars": self.single_chars, "common_words": self.common_words}


def read_word_list(path: str | Path, category: str, severity: str,
                   match: str = "substring") -> ImportReport:
    """A plain word list: one term per line (`#` comments, blank lines skipped); the
    category, severity and match mode are the same for every line."""
    report = ImportReport()
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LexiconError(f"not valid UTF-8 (byte {exc.start})", path=str(p)) from exc
    except OSError as exc:
        raise LexiconError(f"cannot read: {exc.strerror}", path=str(p)) from exc
    if category not in CATEGORIES:  # one usage error, not one per line
        raise LexiconError(f"unknown category {category!r} (known: {', '.join(CATEGORIES)})")
    for lineno, raw in enumerate(text.splitlines(), start=1):
        word = raw.strip()
        if not word or word.startswith("#"):
            continue
        if "\t" in word:
            report.bad_lines.append(f"{p}:{lineno}: a word list holds one term per line, "
                                    "without tabs (use a TSV directory for columns)")
            continue
        if any(ord(c) < 32 or ord(c) == 127 for c in word):
            report.bad_lines.append(f"{p}:{lineno}: control characters in the term")
            continue
        try:
            report.terms.append(make_term(word, category, severity, match, f"{p}:{lineno}"))
        except LexiconError as exc:
            report.bad_lines.append(f"{p}:{lineno}: {exc.message}")
    return report


def read_directory(directory: str | Path) -> ImportReport:
    """A TSV lexicon directory (`lexicons/README.md`): every bad line named."""
    terms, allow, problems = check_directory(directory)
    report = ImportReport(terms=terms, allow=[phrase for phrase, _ in allow])
    # check_directory names duplicates as problems too; here they are reported apart
    report.bad_lines = [p for p in problems if " duplicates " not in p]
    return report


def dedupe(report: ImportReport) -> None:
    """Keep the first term of each folded key; list the others (exact repeats and other
    spellings of one key alike) in `duplicates`."""
    first: dict[str, Term] = {}
    kept: list[Term] = []
    for t in report.terms:
        seen = first.setdefault(t.key, t)
        if seen is t:
            kept.append(t)
        else:
            report.duplicates.append({"term": t.term, "source": t.source, "key": t.key,
                                      "same_as": seen.term, "first": seen.source,
                                      "same_spelling": t.term == seen.term})
    report.terms = kept


def _dictionary() -> dict[str, int]:
    from moderation.segment import _get

    return _get().FREQ


def common_word_risks(terms: Sequence[Term]) -> list[dict[str, Any]]:
    """Terms that are themselves common words (any match mode) or, in substring mode, sit
    inside many dictionary words: such a term fires on everyday text (政府, or 政 inside
    政府/政策…; a `word` term needs token boundaries, so only the first check applies).

    One automaton over the terms' keys is run over every dictionary word, so 64k terms
    take about as long as one pass over jieba's 350k words.
    """
    freq = _dictionary()
    automaton = ahocorasick.Automaton()
    by_key = {t.key: t for t in terms}
    for key, t in by_key.items():
        if t.match == "substring":
            automaton.add_word(key, key)
    inside: dict[str, list[tuple[int, str]]] = {}
    if len(automaton):
        automaton.make_automaton()
        for word, n in freq.items():
            if n < INSIDE_FREQ:
                continue
            folded = normalize_term(word)
            for _, key in automaton.iter(folded):
                if key != folded:
                    inside.setdefault(key, []).append((n, word))
    out: list[dict[str, Any]] = []
    for key, t in by_key.items():
        own = max(freq.get(t.term, 0), freq.get(key, 0))
        words = sorted(set(inside.get(key, ())), reverse=True)
        if own >= COMMON_FREQ or len(words) >= INSIDE_WORDS:
            out.append({"term": t.term, "source": t.source, "word_frequency": own,
                        "inside_words": len(words),
                        "examples": [w for _, w in words[:EXAMPLES]]})
    return sorted(out, key=lambda r: (-r["inside_words"], r["term"]))


def check_import(report: ImportReport, existing: Iterable[str] = ()) -> ImportReport:
    """Fill the report's checks. `existing`: folded keys already in the live version (a
    term there is a duplicate of it, not a new term)."""
    dedupe(report)
    have = set(existing)
    if have:
        fresh = []
        for t in report.terms:
            if t.key in have:
                report.duplicates.append({"term": t.term, "source": t.source, "key": t.key,
                                          "same_as": t.key, "first": "current version",
                                          "same_spelling": False})
            else:
                fresh.append(t)
        report.terms = fresh
    report.single_chars = [t.term for t in report.terms if len(t.key) == 1]
    report.common_words = common_word_risks(report.terms)
    return report
