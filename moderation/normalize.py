"""Text normalization for matching, with a map back to the original offsets.

People dodge filters with full-width letters (ｖｘ), mixed case, traditional script (賭博),
numeral variants (③, ⑶, Ⅲ, 叁 for 3) and noise inserted between characters (`法*轮`,
`赌 博`, `赌.博`, emoji, zero-width spaces). Matching runs on a folded form of the text, and
every span found there must be reported as a span of what the user actually typed, so
`normalize` returns both the folded text and, for each folded character, the index of the
original code point it came from.

Speed matters (every request runs this): the per-character folding is one `str.translate`
over a precomputed table that maps each code point to exactly one code point, so offsets
are unchanged; the rare characters whose folding expands (`⑩` → `10`, `ß` → `ss`) take a
slower per-character path. Noise is removed afterwards with one regex, and the offset map
is only built when something was removed or expanded.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import opencc

#: Chinese numerals folded to ASCII digits, so a term written with one numeral form matches
#: text written with any other (`三级片`, `3级片`, `叁级片`, `③级片`, `⑶级片`, `Ⅲ级片`).
_CHINESE_DIGITS = {
    "〇": "0", "零": "0",
    "一": "1", "壹": "1",
    "二": "2", "贰": "2", "貳": "2",
    "三": "3", "叁": "3",
    "四": "4", "肆": "4",
    "五": "5", "伍": "5",
    "六": "6", "陆": "6", "陸": "6",
    "七": "7", "柒": "7",
    "八": "8", "捌": "8",
    "九": "9", "玖": "9",
    "拾": "十",
}  # fmt: skip

#: Code points outside the BMP worth folding: enclosed and mathematical alphanumerics
#: (🄰, 𝐬𝐞𝐱) are a favourite evasion, and the CJK compatibility supplement folds to
#: ordinary ideographs.
_EXTRA_RANGES = ((0x1D400, 0x1D800), (0x1F100, 0x1F200), (0x2F800, 0x2FA20))

_NOISE_RE = re.compile(r"[\W_]+")


def _is_noise(ch: str) -> bool:
    return _NOISE_RE.fullmatch(ch) is not None


def _fold_char(ch: str, t2s: opencc.OpenCC) -> str:
    """Fold one code point to its matching form (possibly empty or several characters)."""
    cat = unicodedata.category(ch)
    if cat in ("Nl", "No") and ch not in _CHINESE_DIGITS:
        value = unicodedata.numeric(ch, None)
        if value is not None and value == int(value) and 0 <= value < 100:
            return str(int(value))
    out = unicodedata.normalize("NFKC", ch).casefold()
    if "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff" or len(out) == 1:
        out = t2s.convert(out)
    out = "".join(_CHINESE_DIGITS.get(c, c) for c in out)
    # Characters that fold into noise plus something (⑶ → "(3)", ⒈ → "1.") keep the part
    # that matters; pure noise stays as it is and is stripped later.
    kept = "".join(c for c in out if not _is_noise(c))
    return kept if kept else ch


@dataclass(frozen=True, slots=True)
class _Tables:
    one_to_one: dict[int, int]
    expanding: dict[str, str]
    expanding_re: re.Pattern[str] | None


@lru_cache(maxsize=1)
def _tables() -> _Tables:
    t2s = opencc.OpenCC("t2s")
    one: dict[int, int] = {}
    expanding: dict[str, str] = {}
    code_points = list(range(0x10000))
    for lo, hi in _EXTRA_RANGES:
        code_points.extend(range(lo, hi))
    for cp in code_points:
        if 0xD800 <= cp <= 0xDFFF:
            continue
        ch = chr(cp)
        folded = _fold_char(ch, t2s)
        if folded == ch:
            continue
        if len(folded) == 1:
            one[cp] = ord(folded)
        else:
            expanding[ch] = folded
    pattern = (
        re.compile("[" + "".join(re.escape(c) for c in sorted(expanding)) + "]")
        if expanding
        else None
    )
    return _Tables(one, expanding, pattern)


def warm_up() -> None:
    """Build the folding tables now (about a second) instead of on the first request."""
    _tables()


@dataclass(frozen=True, slots=True)
class Normalized:
    """The folded text and where each of its characters came from.

    `offsets[i]` is the index in the original text of folded character `i`; `None` means
    the identity (nothing was removed or expanded), which is the common case.
    """

    text: str
    offsets: list[int] | None
    original_length: int

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """Map a folded span [start, end) to the original span covering exactly the
        characters that produced it, from the first to the last (noise between them
        included, none outside)."""
        if self.offsets is None:
            return start, end
        return self.offsets[start], self.offsets[end - 1] + 1


def normalize(text: str) -> Normalized:
    """Fold `text` for matching: width, case, script, numerals, noise (see module doc)."""
    tables = _tables()
    offsets: list[int] | None = None
    if tables.expanding_re is not None and tables.expanding_re.search(text):
        pieces: list[str] = []
        offsets = []
        for i, ch in enumerate(text):
            folded = tables.expanding.get(ch)
            if folded is None:
                folded = ch.translate(tables.one_to_one)
            pieces.append(folded)
            offsets.extend([i] * len(folded))
        folded_text = "".join(pieces)
    else:
        folded_text = text.translate(tables.one_to_one)

    if not _NOISE_RE.search(folded_text):
        return Normalized(folded_text, offsets, len(text))

    kept: list[str] = []
    kept_offsets: list[int] = []
    pos = 0
    for m in _NOISE_RE.finditer(folded_text):
        if m.start() > pos:
            kept.append(folded_text[pos : m.start()])
            if offsets is None:
                kept_offsets.extend(range(pos, m.start()))
            else:
                kept_offsets.extend(offsets[pos : m.start()])
        pos = m.end()
    if pos < len(folded_text):
        kept.append(folded_text[pos:])
        kept_offsets.extend(range(pos, len(folded_text)) if offsets is None else offsets[pos:])
    return Normalized("".join(kept), kept_offsets, len(text))


def normalize_term(term: str) -> str:
    """The matching form of a lexicon term or allow phrase (same folding as texts)."""
    return normalize(term).text
