"""What one lexicon version holds, and how a draft's changes turn one version into the next.

A version's content is its term rows (term, category, severity, match, note, author,
time) and allow entries (phrase, note, author, time). Rows are identified by their folded
key (`normalize_term`), the same key the automaton matches on: removing `冰 毒` removes
`冰毒`. The content hash is the library's (`moderation.lexicon.content_hash`): notes,
authors and times do not change it, so a rollback to n reproduces n's hash exactly.

Stored as zlib-compressed JSON (a 64k-term list is ~6 MB as JSON, ~1.5 MB compressed).
"""

from __future__ import annotations

import base64
import json
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from moderation.categories import CATEGORIES
from moderation.errors import LexiconError
from moderation.lexicon import Lexicon, Term, content_hash, make_term
from moderation.normalize import normalize_term


class DraftInvalid(ValueError):
    """A change that cannot apply (unknown term, bad category…); `problems` names each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class TermRow:
    term: str
    category: str
    severity: str
    match: str = "substring"
    note: str = ""
    author: str = ""
    time: str = ""
    fuzzy: bool = True  # False (`fuzzy=no`): no pinyin, homophone or split forms

    @property
    def key(self) -> str:
        return normalize_term(self.term)

    def to_dict(self) -> dict[str, Any]:
        return {"term": self.term, "category": self.category, "severity": self.severity,
                "match": self.match, "fuzzy": self.fuzzy, "note": self.note,
                "author": self.author, "time": self.time}


@dataclass(frozen=True, slots=True)
class AllowRow:
    phrase: str
    note: str = ""
    author: str = ""
    time: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"phrase": self.phrase, "note": self.note, "author": self.author,
                "time": self.time}


@dataclass(frozen=True, slots=True)
class Content:
    """The rows of one version (immutable)."""

    terms: tuple[TermRow, ...]
    allow: tuple[AllowRow, ...]

    @classmethod
    def from_terms(cls, terms: Iterable[Term], allow: Iterable[str], *, author: str,
                   time: str, note: str = "") -> Content:
        return cls(tuple(TermRow(t.term, t.category, t.severity, t.match, note, author, time,
                                 t.fuzzy) for t in terms),
                   tuple(AllowRow(p, note, author, time) for p in allow))

    def library_terms(self) -> list[Term]:
        return [Term(r.term, normalize_term(r.term), r.category, r.severity, r.match,
                     f"row {i + 1}", r.fuzzy) for i, r in enumerate(self.terms)]

    @property
    def content_hash(self) -> str:
        return content_hash(self.library_terms(), (normalize_term(a.phrase) for a in self.allow))

    def counts(self) -> dict[str, int]:
        out = {c: 0 for c in CATEGORIES}
        for r in self.terms:
            out[r.category] += 1
        return {k: v for k, v in out.items() if v} | {"allow": len(self.allow)}

    def build(self, version: int | None) -> Lexicon:
        """The compiled lexicon (seconds for 64k terms: call it off the event loop)."""
        return Lexicon(self.library_terms(), [a.phrase for a in self.allow], version=version)

    # -- storage ---------------------------------------------------------------------------

    def dumps(self) -> str:
        raw = json.dumps({"terms": [[r.term, r.category, r.severity, r.match, r.note,
                                     r.author, r.time] + ([] if r.fuzzy else [False])
                                    for r in self.terms],
                          "allow": [[a.phrase, a.note, a.author, a.time] for a in self.allow]},
                         ensure_ascii=False, separators=(",", ":"))
        return "z:" + base64.b64encode(zlib.compress(raw.encode("utf-8"), 6)).decode("ascii")

    @classmethod
    def loads(cls, stored: str) -> Content:
        raw = zlib.decompress(base64.b64decode(stored[2:])).decode("utf-8") \
            if stored.startswith("z:") else stored
        data = json.loads(raw)
        return cls(tuple(TermRow(*row) for row in data["terms"]),
                   tuple(AllowRow(*row) for row in data["allow"]))


def _check_row(raw: dict[str, Any], where: str) -> TermRow:
    try:
        fuzzy = raw.get("fuzzy", True)
        if not isinstance(fuzzy, bool):
            raise LexiconError("fuzzy must be true or false")
        t = make_term(str(raw.get("term", "")), str(raw.get("category", "")),
                      str(raw.get("severity", "")), str(raw.get("match") or "substring"),
                      fuzzy=fuzzy)
    except LexiconError as exc:
        raise DraftInvalid([f"{where}: {exc.message}"]) from None
    return TermRow(t.term, t.category, t.severity, t.match, str(raw.get("note") or ""),
                   fuzzy=t.fuzzy)


def apply_changes(base: Content, changes: dict[str, Any], *, author: str, time: str
                  ) -> tuple[Content, dict[str, int]]:
    """The content after a draft's changes, and how many rows each kind touched.

    `add` must name new keys, `edit` and `remove` existing ones; `allow_add` new phrases,
    `allow_remove` existing ones. Every problem is collected, then raised at once.
    """
    problems: list[str] = []
    rows: dict[str, TermRow] = {r.key: r for r in base.terms}
    allow: dict[str, AllowRow] = {normalize_term(a.phrase): a for a in base.allow}
    stamp = {"author": author, "time": time}
    for kind in ("add", "edit"):
        for i, raw in enumerate(changes.get(kind) or []):
            where = f"{kind}[{i}]"
            try:
                row = _check_row(raw, where)
            except DraftInvalid as exc:
                problems.extend(exc.problems)
                continue
            key = row.key
            if kind == "add" and key in rows:
                problems.append(f"{where}: {row.term!r} is already in the lexicon as "
                                f"{rows[key].term!r} (use edit)")
            elif kind == "edit" and key not in rows:
                problems.append(f"{where}: {row.term!r} is not in the lexicon (use add)")
            else:
                rows[key] = replace(row, **stamp)
    for i, term in enumerate(changes.get("remove") or []):
        key = normalize_term(str(term))
        if rows.pop(key, None) is None:
            problems.append(f"remove[{i}]: {term!r} is not in the lexicon")
    for i, phrase in enumerate(changes.get("allow_add") or []):
        text = str(phrase.get("phrase", "") if isinstance(phrase, dict) else phrase)
        note = str(phrase.get("note") or "") if isinstance(phrase, dict) else ""
        key = normalize_term(text)
        if not key or "\t" in text or "\n" in text:
            problems.append(f"allow_add[{i}]: {text!r} is empty after normalization "
                            "or holds a tab or newline")
        elif key in allow:
            problems.append(f"allow_add[{i}]: {text!r} is already allowed")
        else:
            allow[key] = AllowRow(text, note, author, time)
    for i, phrase in enumerate(changes.get("allow_remove") or []):
        if allow.pop(normalize_term(str(phrase)), None) is None:
            problems.append(f"allow_remove[{i}]: {phrase!r} is not in the allow list")
    if problems:
        raise DraftInvalid(problems)
    touched = {k: len(changes.get(k) or []) for k in
               ("add", "edit", "remove", "allow_add", "allow_remove")}
    return Content(tuple(rows.values()), tuple(allow.values())), touched


def adds_block_terms(base: Content, changes: dict[str, Any]) -> bool:
    """Whether the changes add a `block` term or raise one to `block` (two-person rule)."""
    old = {r.key: r.severity for r in base.terms}
    for kind in ("add", "edit"):
        for raw in changes.get(kind) or []:
            if raw.get("severity") == "block" and \
                    old.get(normalize_term(str(raw.get("term", "")))) != "block":
                return True
    return False


def search(content: Content, *, q: str | None = None, category: str | None = None,
           severity: str | None = None) -> Sequence[TermRow]:
    """Rows whose term or folded key contains `q`, filtered, sorted by key."""
    needle = normalize_term(q) if q else ""
    out = [r for r in content.terms
           if (not category or r.category == category)
           and (not severity or r.severity == severity)
           and (not q or q in r.term or (needle and needle in r.key))]
    return sorted(out, key=lambda r: r.key)
