"""The item text cut into pieces for highlighting, without building HTML from user text.

Spans (lexicon hits, PII findings) are code-point offsets into the ORIGINAL text, end
exclusive, and may overlap. The text is split at every span boundary; each piece lists the
spans covering it, and the template wraps it in one `<mark>` whose text Jinja2 escapes.
Invisible and direction-changing characters (zero-width, U+202E…) are cut into pieces of
their own, shown by the stylesheet as a visible code (`[U+202E]`) inside an isolated span:
the reviewer sees them and they cannot reorder the rest of the page. Masked PII keeps its
length (`moderation.pii.masking`), so the same offsets hold on the masked text.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from typing import Any

from api.ui_labels import CATEGORY_ZH, PII_ZH, SEVERITY_ZH, zh


@dataclass(frozen=True, slots=True)
class Mark:
    """One highlighted span: `ref` (h0, p1…) ties the text to its line in the side list."""

    ref: str
    kind: str  # "hit" | "pii"
    start: int
    end: int
    label: str  # the tooltip: category · severity · term
    css: str


def shown(ch: str) -> str:
    """What the page holds for a character: C0 controls and DEL, which HTML cannot carry
    (a NUL is dropped, a CR becomes a newline), as their Unicode pictures (U+2400…)."""
    o = ord(ch)
    if o < 0x20 and ch not in "\n\t":
        return chr(0x2400 + o)
    return "\u2421" if o == 0x7F else ch


def shown_text(text: str) -> str:
    return "".join(map(shown, text))


@dataclass(slots=True)
class Piece:
    text: str
    start: int
    control: bool = False  # an invisible or bidi control character

    @property
    def codepoint(self) -> str:
        return f"U+{ord(self.text):04X}" if self.control else ""

    @property
    def display(self) -> str:
        return shown(self.text) if self.control else self.text


@dataclass(slots=True)
class Segment:
    """Text between two span boundaries with the marks covering all of it."""

    start: int
    end: int
    marks: list[Mark] = field(default_factory=list)
    pieces: list[Piece] = field(default_factory=list)

    @property
    def refs(self) -> str:
        return " ".join(m.ref for m in self.marks)

    @property
    def title(self) -> str:
        return "\n".join(m.label for m in self.marks)

    @property
    def css(self) -> str:
        kinds = {m.kind for m in self.marks}
        out = [m.css for m in self.marks]
        if len(self.marks) > 1:
            out.append("overlap")
        return " ".join(sorted(set(out) | {f"has-{k}" for k in kinds}))


def is_control(ch: str) -> bool:
    """Characters a reader cannot see: format (Cf: zero-width, bidi), controls except
    newline and tab, and line/paragraph separators."""
    if ch in "\n\t":
        return False
    return unicodedata.category(ch) in {"Cf", "Cc", "Zl", "Zp"}


def _pieces(text: str, offset: int) -> list[Piece]:
    out: list[Piece] = []
    run_start = 0
    for i, ch in enumerate(text):
        if is_control(ch):
            if i > run_start:
                out.append(Piece(text[run_start:i], offset + run_start))
            out.append(Piece(ch, offset + i, control=True))
            run_start = i + 1
    if run_start < len(text):
        out.append(Piece(text[run_start:], offset + run_start))
    return out


def marks_for(field_name: str, hits: list[dict[str, Any]], pii: list[dict[str, Any]]
              ) -> list[Mark]:
    """The marks of one field (`content` or `title`), numbered like the side list."""
    out: list[Mark] = []
    for i, h in enumerate(hits):
        if h.get("field", "content") != field_name:
            continue
        label = (f"{zh(CATEGORY_ZH, h.get('category'))} · {zh(SEVERITY_ZH, h.get('severity'))}"
                 f" · 词条：{h.get('term', '')}")
        out.append(Mark(f"h{i}", "hit", int(h["start"]), int(h["end"]), label,
                        f"hit sev-{h.get('severity', 'review')}"))
    for i, p in enumerate(pii):
        if p.get("field", "content") != field_name:
            continue
        ok = "已校验" if p.get("validated") else "未校验"
        out.append(Mark(f"p{i}", "pii", int(p["start"]), int(p["end"]),
                        f"个人信息 · {zh(PII_ZH, p.get('type'))} · {ok}", "pii"))
    return out


def segments(text: str, marks: list[Mark]) -> list[Segment]:
    """`text` cut at every boundary of `marks` (spans outside the text are clipped)."""
    n = len(text)
    bounds = {0, n}
    for m in marks:
        bounds.add(max(0, min(n, m.start)))
        bounds.add(max(0, min(n, m.end)))
    cuts = sorted(bounds)
    out: list[Segment] = []
    for a, b in zip(cuts, cuts[1:], strict=False):
        if a == b:
            continue
        seg = Segment(a, b, [m for m in marks if m.start <= a and b <= m.end])
        seg.pieces = _pieces(text[a:b], a)
        out.append(seg)
    return out


def control_summary(text: str) -> list[tuple[str, int]]:
    """Each invisible or bidi control code point in the text with its count."""
    counts: dict[str, int] = {}
    for ch in text:
        if is_control(ch):
            code = f"U+{ord(ch):04X}"
            counts[code] = counts.get(code, 0) + 1
    return sorted(counts.items())
