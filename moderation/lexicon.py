"""Sensitive-term lexicons: loading, validation and Aho-Corasick matching.

A lexicon is a directory of TSV files (format in `lexicons/README.md`). Terms and allow
phrases are folded with the same `normalize` as texts, so one automaton over the folded
forms catches every evasion the normalizer undoes. Hits are found on the folded text and
reported as spans of the original.

A loaded `Lexicon` is immutable: a new version is a new object with its own automaton,
built off the request path and swapped in by reference, so a request never sees a
half-built lexicon.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import ahocorasick

from moderation.categories import CATEGORIES, SEVERITIES
from moderation.errors import LexiconError
from moderation.evasion.bidi import reordering_spans
from moderation.evasion.contact import ContactSpelling, plus_as_verb, plus_signs, verb_joins_word
from moderation.evasion.guard import MAX_WORD, common_swap, inside_word, spans_break
from moderation.evasion.matcher import FuzzyCandidate, FuzzyMatcher
from moderation.normalize import (
    CHINESE_NUMERALS,
    Normalized,
    normalize,
    normalize_term,
    variant_sources,
)
from moderation.types import Hit

MATCH_MODES = ("substring", "word")
ALLOW_FILE = "allow.tsv"


@dataclass(frozen=True, slots=True)
class Term:
    """One lexicon row, `key` being its folded matching form."""

    term: str
    key: str
    category: str
    severity: str
    match: str = "substring"
    source: str = ""
    #: False (`fuzzy=no`): only exact and variant spellings count, no pinyin, homophones
    #: or split characters.
    fuzzy: bool = True


@dataclass(frozen=True, slots=True)
class LexiconMatch:
    """What one field's matching found: the hits that count and those suppressed."""

    hits: tuple[Hit, ...]
    suppressed: tuple[Hit, ...]


@dataclass(frozen=True, slots=True)
class _Problem:
    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


FUZZY_VALUES = {"fuzzy=yes": True, "fuzzy=no": False}


def _options(
    cols: list[str], path: str, lineno: int, problems: list[_Problem]
) -> tuple[str, bool] | None:
    """The optional columns after severity: a match mode and/or `fuzzy=yes|no`."""
    match, fuzzy = "substring", True
    for raw in cols:
        value = raw.strip()
        if value.startswith("fuzzy"):
            if value not in FUZZY_VALUES:
                problems.append(_Problem(path, lineno, f"fuzzy must be fuzzy=yes or fuzzy=no, "
                                                       f"not {value!r}"))
                return None
            fuzzy = FUZZY_VALUES[value]
        else:
            match = value
    return match, fuzzy


def _parse_term_line(line: str, path: str, lineno: int, problems: list[_Problem]) -> Term | None:
    cols = line.split("\t")
    if len(cols) not in (3, 4, 5):
        problems.append(
            _Problem(path, lineno, f"expected 3 to 5 tab-separated columns, found {len(cols)}")
        )
        return None
    term, category, severity = (c.strip() for c in cols[:3])
    options = _options(cols[3:], path, lineno, problems)
    if options is None:
        return None
    match, fuzzy = options
    if category not in CATEGORIES:
        problems.append(_Problem(path, lineno, f"unknown category {category!r}"))
        return None
    if severity not in SEVERITIES:
        problems.append(
            _Problem(path, lineno, f"severity must be block or review, not {severity!r}")
        )
        return None
    if match not in MATCH_MODES:
        problems.append(_Problem(path, lineno, f"match must be substring or word, not {match!r}"))
        return None
    key = normalize_term(term)
    if not key:
        problems.append(_Problem(path, lineno, f"term {term!r} is empty after normalization"))
        return None
    return Term(term, key, category, severity, match, f"{path}:{lineno}", fuzzy)


def _content_lines(path: Path) -> Iterable[tuple[int, str]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LexiconError(f"not valid UTF-8 ({exc.reason})", path=str(path)) from exc
    except OSError as exc:
        raise LexiconError(f"cannot read: {exc.strerror}", path=str(path)) from exc
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip("\r\n")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        yield lineno, line


def check_directory(directory: str | Path) -> tuple[list[Term], list[tuple[str, str]], list[str]]:
    """Parse every file of a lexicon directory and collect ALL problems, not just the first.

    Returns (terms, allow phrases as (phrase, source), problems as "file:line: message").
    """
    root = Path(directory)
    if not root.is_dir():
        raise LexiconError("is not a directory", path=str(root))
    files = sorted(root.glob("*.tsv"))
    if not files:
        raise LexiconError("holds no .tsv files", path=str(root))
    problems: list[_Problem] = []
    terms: list[Term] = []
    allow: list[tuple[str, str]] = []
    for path in files:
        shown = str(path)
        for lineno, line in _content_lines(path):
            if path.name == ALLOW_FILE:
                phrase = line.split("\t", 1)[0].strip()
                if not normalize_term(phrase):
                    problems.append(
                        _Problem(shown, lineno, "allow phrase is empty after normalization")
                    )
                else:
                    allow.append((phrase, f"{shown}:{lineno}"))
                continue
            term = _parse_term_line(line, shown, lineno, problems)
            if term is not None:
                terms.append(term)
    seen: dict[str, Term] = {}
    for term in terms:
        first = seen.setdefault(term.key, term)
        if first is not term:
            path, _, lineno = term.source.rpartition(":")
            problems.append(
                _Problem(path, int(lineno), f"term {term.term!r} duplicates {first.source}")
            )
    return terms, allow, [str(p) for p in problems]


def content_hash(terms: Sequence[Term], allow_keys: Iterable[str]) -> str:
    """SHA-256 of the canonical content: sorted folded rows and sorted folded allow phrases.

    Two directories that differ only in comments, order, file split or evasion-equivalent
    spellings hash the same, so a rollback to an older version reproduces its hash.
    """
    # `fuzzy=no` joins a row only where it is set, so lexicons without it keep their hashes.
    rows = sorted(
        [t.key, t.category, t.severity, t.match] + ([] if t.fuzzy else ["fuzzy=no"])
        for t in terms
    )
    phrases = sorted(set(allow_keys))
    canonical = json.dumps(
        {"allow": phrases, "terms": rows}, ensure_ascii=False, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class Lexicon:
    """An immutable, compiled lexicon version."""

    def __init__(
        self,
        terms: Sequence[Term],
        allow: Iterable[str] = (),
        *,
        version: int | None = None,
        evasion: bool = True,
    ) -> None:
        """`evasion=False` turns the evasion layer's own matching off (pinyin, homophones,
        split characters, Latin word edges): only for measuring what the layer changes."""
        self.terms: tuple[Term, ...] = tuple(terms)
        self.evasion = evasion
        self.allow: tuple[str, ...] = tuple(allow)
        self.version = version
        # Folded once: the hash and the automaton both use the matching forms.
        self._allow_keys = frozenset(normalize_term(p) for p in self.allow)
        self.content_hash = content_hash(self.terms, self._allow_keys)
        self._fuzzy = FuzzyMatcher(
            [(i, t.key) for i, t in enumerate(self.terms) if evasion and _fuzzy(t)]
        )
        self._automaton = self._build()
        self.has_word_terms = any(t.match == "word" for t in self.terms)

    def _build(self) -> ahocorasick.Automaton:
        # One automaton holds terms, their split and contact spellings and allow phrases;
        # each key's value says which it is: (length, term index or -1, is allow, split
        # group, contact spelling or None).
        entries: dict[str, list] = {}
        for index, term in enumerate(self.terms):
            if term.key in entries:
                raise LexiconError(f"duplicate term {term.term!r} ({term.source})")
            entries[term.key] = [index, False, None]
        for key in self._allow_keys:
            entries.setdefault(key, [-1, False, None])[1] = True
        for key, (index, group) in self._fuzzy.split.items():
            entries.setdefault(key, [index, False, group])
        for key, (index, how) in self._fuzzy.contact.items():
            entries.setdefault(key, [index, False, how])
        automaton = ahocorasick.Automaton()
        for key, (term_index, is_allow, group) in entries.items():
            automaton.add_word(key, (len(key), term_index, is_allow, group))
        if entries:
            automaton.make_automaton()
        return automaton

    @classmethod
    def load(cls, directory: str | Path, *, version: int | None = None) -> Lexicon:
        """Load a directory; any bad line fails the whole load (nothing half-built is used)."""
        terms, allow, problems = check_directory(directory)
        if problems:
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            raise LexiconError(problems[0] + more)
        return cls(terms, [phrase for phrase, _ in allow], version=version)

    @cached_property
    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {c: 0 for c in CATEGORIES}
        for term in self.terms:
            out[term.category] += 1
        return {k: v for k, v in out.items() if v} | {"allow": len(self.allow)}

    def match(self, text: str, field: str = "content") -> LexiconMatch:
        """Find the terms in `text`; spans are offsets into `text` itself."""
        norm = normalize(text)
        if self.evasion and self._fuzzy.contact:
            # A plus sign for 加 (`➕微信`): match the text with it read as 加. One code
            # point for one, so spans still index `text`.
            plus_read = plus_as_verb(text, norm.text, norm.offsets if norm.text else None)
            if plus_read is not None:
                norm = normalize(plus_read)
        bidi = [_bidi_hit(text, field, a, b) for a, b in reordering_spans(text)]
        if len(self._automaton) == 0 or not norm.text:
            return LexiconMatch(tuple(bidi), ())
        found: list[FuzzyCandidate] = []
        allowed: list[tuple[int, int]] = []
        for end_index, (length, term_index, is_allow, group) in self._automaton.iter(norm.text):
            start = end_index - length + 1
            if term_index >= 0:
                if group is None:
                    found.append(FuzzyCandidate(start, end_index + 1, term_index, "exact"))
                elif isinstance(group, ContactSpelling):
                    found.append(FuzzyCandidate(start, end_index + 1, term_index, group.kind,
                                                contact=group))
                else:
                    comps = (start + group[0], start + group[1])
                    found.append(FuzzyCandidate(start, end_index + 1, term_index, "split", comps))
            if is_allow:
                allowed.append((start, end_index + 1))
        found.extend(self._fuzzy.sound_hits(norm.text))
        if not found:
            return LexiconMatch(tuple(bidi), ())
        hits: list[Hit] = list(bidi)
        suppressed: list[Hit] = []
        for cand in _dedupe(found):
            term = self.terms[cand.term_index]
            start, end = cand.start, cand.end
            if (cand.kind == "homophone" and cand.contact is None
                    and common_swap(norm.text[start:end], term.key)):
                continue  # ordinary text: not a hit at all, not even a suppressed one
            hit = _hit(text, norm, field, term, cand)
            if _ordinary(text, norm, cand, hit):
                continue
            covered = any(a <= start and end <= b for a, b in allowed)
            if not covered and self.evasion:
                covered = _joins_latin_word(norm, start, end)
            if not covered and term.match == "word":
                covered = not _on_token_boundaries(text, norm, start, end)
            (suppressed if covered else hits).append(hit)
        return LexiconMatch(tuple(hits), tuple(suppressed))


def _fuzzy(term: Term) -> bool:
    """Whether a term gets fuzzy forms: not with `fuzzy=no`, and not a `word` term of two
    characters (`大麻`, `人妖`): those are already parts of ordinary words as written, their
    sound-alikes even more so, and checking each with the segmenter costs a millisecond."""
    return term.fuzzy and not (term.match == "word" and len(term.key) <= 2)


#: The match kinds whose hits are capped at `review` (tone-less sound is ambiguous).
_CAPPED = frozenset(("pinyin", "homophone"))
#: The pseudo-term of a bidi override that reorders what a reader sees.
BIDI_TERM = "bidi-override"


def _bidi_hit(text: str, field: str, start: int, end: int) -> Hit:
    return Hit(field, BIDI_TERM, "other", "review", start, end, text[start:end], "variant")


def _dedupe(found: list[FuzzyCandidate]) -> list[FuzzyCandidate]:
    """One candidate per term and span, the most exact kind first; a fuzzy candidate that
    overlaps an exact hit of the same term adds nothing."""
    rank = {"exact": 0, "variant": 1, "split": 1, "homophone": 2, "pinyin": 3}
    # On a tie a contact spelling wins: it has its own guard (`加威信` is an advert,
    # while the sound view's `威信` is a dictionary word).
    found.sort(key=lambda c: (c.start, c.end, rank[c.kind], c.contact is None))
    exact = {(c.term_index, c.start, c.end) for c in found if c.kind == "exact"}
    kept: dict[tuple[int, int, int], FuzzyCandidate] = {}
    for c in found:
        key = (c.term_index, c.start, c.end)
        if key in kept:
            continue
        if c.kind != "exact" and any(
            t == c.term_index and s < c.end and c.start < e for t, s, e in exact
        ):
            continue
        kept[key] = c
    out = list(kept.values())
    # A contact spelling inside a longer one of the same term (`加wx` in `添加wx`) is the
    # same advert.
    return [c for c in out if c.contact is None or not any(
        o is not c and o.term_index == c.term_index and o.contact is not None
        and o.start <= c.start and c.end <= o.end for o in out)]


def _hit(text: str, norm: Normalized, field: str, term: Term, cand: FuzzyCandidate) -> Hit:
    ostart, oend = norm.to_original(cand.start, cand.end)
    typed = text[ostart:oend]
    kind = cand.kind
    # A span never starts on noise, so one that starts on a plus sign read it as 加.
    plus = typed[:1] in plus_signs()
    if plus or (kind == "exact" and not variant_sources().isdisjoint(typed)):
        kind = "variant"
    capped = kind in _CAPPED or plus or cand.contact is not None
    severity = "review" if capped else term.severity
    return Hit(field, term.term, term.category, severity, ostart, oend, typed, kind)


def _is_latin(ch: str) -> bool:
    return "a" <= ch <= "z"


def _joins_latin_word(norm: Normalized, start: int, end: int) -> bool:
    """Whether the hit begins or ends inside a longer Latin word.

    Letters typed next to each other form one word; a space, punctuation or any other noise
    between two letters is a word boundary that folding removed. So `xxx` fires in
    `free xxx video` and `f.r.e.e xxx` but not in `xxxl`, and `sex` not in `this ex`.
    """
    folded, offsets = norm.text, norm.offsets

    def adjacent(i: int) -> bool:  # folded i and i + 1 were typed side by side
        return offsets is None or offsets[i + 1] - offsets[i] <= 1

    if (
        start > 0
        and _is_latin(folded[start])
        and _is_latin(folded[start - 1])
        and adjacent(start - 1)
    ):
        return True
    return (
        end < len(folded)
        and _is_latin(folded[end - 1])
        and _is_latin(folded[end])
        and adjacent(end - 1)
    )


def _ordinary(text: str, norm: Normalized, cand: FuzzyCandidate, hit: Hit) -> bool:
    """Whether a fuzzy candidate is ordinary text that only resembles the term: initials
    typed in capitals (`CNN` is not 操你娘), a homophone or contact spelling across a
    sentence break, a homophone or split spelling inside a dictionary word
    (`moderation.evasion.guard`), a contact verb that ends a word (`evasion.contact`)."""
    if cand.initials:
        return not hit.text.islower()
    if cand.contact is not None:
        if spans_break(hit.text):
            return True  # `双加），企鹅`: the 加 belongs to another clause
        lo = max(0, cand.start - MAX_WORD)
        return verb_joins_word(_window(text, norm, lo, cand.start + 1), lo, cand.start)
    if cand.kind not in ("homophone", "split"):
        return False
    if cand.kind == "homophone" and spans_break(hit.text):
        return True
    lo = max(0, cand.start - MAX_WORD)
    window = _window(text, norm, lo, min(len(norm.text), cand.end + MAX_WORD))
    if cand.kind == "homophone":
        return inside_word(window, lo, cand.changed)
    return inside_word(window, lo, (), (cand.changed[0], cand.changed[1]))


#: Characters of context on each side of a `word`-mode hit given to the segmenter.
WORD_CONTEXT = 12


def _on_token_boundaries(text: str, norm: Normalized, start: int, end: int) -> bool:
    """Whether jieba puts token boundaries at both `start` and `end` of the folded text.

    Only a window around the hit is segmented: jieba's choice at a position depends on
    nearby characters, and segmenting a 10,000-character text per hit would cost more
    than the whole rest of the request. Chinese numerals go back to what the user wrote
    in the window, since folding them to digits changes the words (`二代` vs `2代`).
    """
    from moderation.segment import tokenize

    lo = max(0, start - WORD_CONTEXT)
    hi = min(len(norm.text), end + WORD_CONTEXT)
    window = _window(text, norm, lo, hi)
    bounds = {lo}
    for _, _, tok_end in tokenize(window):
        bounds.add(lo + tok_end)
    return start in bounds and end in bounds


def _window(text: str, norm: Normalized, lo: int, hi: int) -> str:
    """Folded text [lo, hi) with Chinese numerals as the user wrote them (for jieba)."""
    offsets = norm.offsets
    return "".join(
        original
        if (original := text[i if offsets is None else offsets[i]]) in CHINESE_NUMERALS
        else norm.text[i]
        for i in range(lo, hi)
    )


# -- building from rows and writing TSV (lexicon management) ------------------------------


def make_term(term: str, category: str, severity: str, match: str = "substring",
              source: str = "", fuzzy: bool = True) -> Term:
    """One validated `Term` from its columns; `LexiconError` names what is wrong.

    The same rules as a TSV line (`_parse_term_line`), for rows that come from an API body
    or a stored version rather than a file.
    """
    problems: list[_Problem] = []
    cols = [term, category, severity, match] + ([] if fuzzy else ["fuzzy=no"])
    found = _parse_term_line("\t".join(cols), source, 0, problems)
    if found is None or any("\t" in c or "\n" in c for c in cols):
        message = problems[0].message if problems else "tabs and newlines are not allowed"
        raise LexiconError(f"{term!r}: {message}")
    return Term(found.term, found.key, found.category, found.severity, found.match, source,
                found.fuzzy)


def with_version(lexicon: Lexicon, version: int | None) -> Lexicon:
    """The same compiled lexicon labelled with another version number (no rebuild).

    A version seeded from the very directory a process loaded at start has the content
    of that process's lexicon: relabelling spares rebuilding the automaton.
    """
    copy = object.__new__(Lexicon)
    copy.__dict__.update(lexicon.__dict__)
    copy.version = version
    copy.__dict__.pop("counts", None)
    return copy


def write_directory(directory: str | Path, terms: Sequence[Term], allow: Sequence[str],
                    *, header: str = "") -> list[Path]:
    """Write terms as one `<category>.tsv` per category plus `allow.tsv` (the format of
    `lexicons/README.md`), sorted so that a directory kept in git diffs cleanly.
    Returns the files written."""
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    by_category: dict[str, list[Term]] = {}
    for t in terms:
        by_category.setdefault(t.category, []).append(t)
    written: list[Path] = []
    top = f"# {header}\n" if header else ""
    for category, rows in sorted(by_category.items()):
        lines = [
            "\t".join([t.term, t.category, t.severity]
                      + ([t.match] if t.match != "substring" else [])
                      + ([] if t.fuzzy else ["fuzzy=no"]))
            for t in sorted(rows, key=lambda t: t.key)
        ]
        path = root / f"{category}.tsv"
        path.write_text(top + "\n".join(lines) + "\n", encoding="utf-8")
        written.append(path)
    path = root / ALLOW_FILE
    path.write_text(top + "".join(p + "\n" for p in sorted(allow)), encoding="utf-8")
    written.append(path)
    return written
