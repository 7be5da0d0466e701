"""Text normalization for matching, with a map back to the original offsets.

People dodge filters with full-width letters (ｖｘ), mixed case, traditional script (賭博),
numeral variants (③, ⑶, Ⅲ, 叁 for 3) and noise inserted between characters (`法*轮`,
`赌 博`, `赌.博`, emoji, zero-width spaces). Matching runs on a folded form of the text, and
every span found there must be reported as a span of what the user actually typed, so
`normalize` returns both the folded text and, for each folded character, the index of the
original code point it came from.

Speed matters (every request runs this): one `str.translate` over a precomputed table
folds every BMP character to one code point and deletes BMP noise in the same pass; emoji
and other characters past the BMP are stripped with one regex when present; the rare
characters whose folding expands (`⑩` → `10`, `ß` → `ss`) take a slower per-character
path. The offset map is built only when a span is mapped back, which most texts never need.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import opencc

from moderation.evasion.variants import variant_fold

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

#: The Chinese numeral characters folded above: segmenting a text needs them as written
#: (`二代` is a word, `2代` is not).
CHINESE_NUMERALS = frozenset(_CHINESE_DIGITS)

#: Code points outside the BMP worth folding: enclosed and mathematical alphanumerics
#: (🄰, 𝐬𝐞𝐱) are a favourite evasion, and the CJK compatibility supplement folds to
#: ordinary ideographs.
_EXTRA_RANGES = ((0x1D400, 0x1D800), (0x1F100, 0x1F200), (0x2F800, 0x2FA20))

_NOISE_RE = re.compile(r"[\W_]+")
_ASTRAL_RE = re.compile("[\U00010000-\U0010ffff]")
#: A noncharacter that the translate table writes for characters that expand.
_EXPANDS = "\uffff"
_KEPT_RE = re.compile(r"[^\W_]+")


def _is_noise(ch: str) -> bool:
    return _NOISE_RE.fullmatch(ch) is not None


def _fold_char(ch: str, t2s: opencc.OpenCC, *, variants: bool = True) -> str:
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
    variant = variant_fold(ch, out, t2s) if variants else None
    if variant is not None:
        if _is_noise(variant):
            return variant  # an invisible letter (Hangul filler): noise like the others
        out = variant
    # Characters that fold into noise plus something (⑶ → "(3)", ⒈ → "1.") keep the part
    # that matters; pure noise stays as it is and is stripped later.
    kept = "".join(c for c in out if not _is_noise(c))
    return kept if kept else ch


@dataclass(frozen=True, slots=True)
class _Tables:
    #: BMP code point -> folded code point, indexed by code point: `str.translate` looks a
    #: list up twice as fast as a dict, and leaves characters past its end untouched.
    one_to_one: list[int]
    #: the same, with BMP noise mapped to None: one translate folds AND strips a text.
    strip: list[int | None]
    #: characters whose folding is not one BMP code point (⑩ → "10", ß → "ss", 𝐬 → "s");
    #: BMP ones map to `_EXPANDS` in `one_to_one`, so one translate also detects them.
    expanding: dict[str, str]
    #: code points folded by the evasion layer's variant data (`moderation.evasion.variants`):
    #: a hit whose original text holds one is a `variant` match.
    variant_sources: frozenset[str]


@lru_cache(maxsize=1)
def _tables() -> _Tables:
    t2s = opencc.OpenCC("t2s")
    one = list(range(0x10000))
    expanding: dict[str, str] = {}
    variants: set[str] = set()
    code_points = list(range(0x10000))
    for lo, hi in _EXTRA_RANGES:
        code_points.extend(range(lo, hi))
    for cp in code_points:
        if 0xD800 <= cp <= 0xDFFF:
            continue
        ch = chr(cp)
        folded = _fold_char(ch, t2s)
        if folded != _fold_char(ch, t2s, variants=False) and not _is_noise(folded):
            variants.add(ch)  # a look-alike; invisible letters are plain noise
        if folded == ch:
            continue
        if len(folded) == 1 and cp < 0x10000:
            one[cp] = ord(folded)
        else:
            expanding[ch] = folded
            if cp < 0x10000:
                one[cp] = ord(_EXPANDS)
    marker = ord(_EXPANDS)
    strip: list[int | None] = [
        folded if folded == marker or not _is_noise(chr(folded)) else None for folded in one
    ]
    return _Tables(one, strip, expanding, frozenset(variants))


def variant_sources() -> frozenset[str]:
    """The code points that fold only through the evasion layer's variant data."""
    return _tables().variant_sources


def warm_up() -> None:
    """Build the folding tables now (about a second) instead of on the first request."""
    _tables()


class Normalized:
    """The folded text and where each of its characters came from.

    `offsets[i]` is the index in the original text of folded character `i`; `None` means
    the identity (nothing was removed or expanded), which is the common case. The map is
    built on first use: most texts have no hit, and they never pay for it.
    """

    __slots__ = ("text", "original_length", "_source", "_expanded", "_offsets", "_built")

    def __init__(
        self,
        text: str,
        original_length: int,
        source: str | None = None,
        expanded: list[int] | None = None,
    ) -> None:
        self.text = text
        self.original_length = original_length
        # What noise was removed from, when some was: the original text (or, when folding
        # expanded, the folded text, with `expanded` mapping it to the original).
        self._source = source
        self._expanded = expanded
        self._offsets: list[int] | None = None
        self._built = False

    @property
    def offsets(self) -> list[int] | None:
        if not self._built:
            self._offsets = self._build_offsets()
            self._built = True
        return self._offsets

    def _build_offsets(self) -> list[int] | None:
        source, expanded = self._source, self._expanded
        if source is None:
            return expanded
        folded = source if expanded is not None else source.translate(_tables().one_to_one)
        offsets: list[int] = []
        for m in _KEPT_RE.finditer(folded):
            if expanded is None:
                offsets.extend(range(m.start(), m.end()))
            else:
                offsets.extend(expanded[m.start() : m.end()])
        return offsets

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """Map a folded span [start, end) to the original span covering exactly the
        characters that produced it, from the first to the last (noise between them
        included, none outside)."""
        offsets = self.offsets
        if offsets is None:
            return start, end
        return offsets[start], offsets[end - 1] + 1


def _expands_astral(text: str, expanding: dict[str, str]) -> bool:
    """Whether `text` holds a character past the BMP that folds (𝐬, 🄰); emoji, the
    usual astral characters, do not, and must not send a text down the slow path."""
    return any(ch in expanding for ch in _ASTRAL_RE.findall(text))


def normalize(text: str) -> Normalized:
    """Fold `text` for matching: width, case, script, numerals, noise (see module doc)."""
    tables = _tables()
    # Fast path: one translate folds every BMP character and drops BMP noise.
    stripped = text.translate(tables.strip)
    astral = _ASTRAL_RE.search(text) is not None
    if _EXPANDS in stripped or (astral and _expands_astral(text, tables.expanding)):
        return _normalize_expanding(text, tables)
    if astral:  # emoji and other characters past the BMP: the table does not reach them
        stripped = _NOISE_RE.sub("", stripped)
    if len(stripped) == len(text):
        return Normalized(stripped, len(text))
    return Normalized(stripped, len(text), text)


def _normalize_expanding(text: str, tables: _Tables) -> Normalized:
    """The slow path for texts with characters whose folding is several characters."""
    pieces: list[str] = []
    expanded: list[int] = []
    for i, ch in enumerate(text):
        folded = tables.expanding.get(ch)
        if folded is None:
            folded = ch.translate(tables.one_to_one)
        pieces.append(folded)
        expanded.extend([i] * len(folded))
    folded_text = "".join(pieces)
    stripped = _NOISE_RE.sub("", folded_text)
    if len(stripped) == len(folded_text):
        return Normalized(folded_text, len(text), None, expanded)
    return Normalized(stripped, len(text), folded_text, expanded)


def normalize_term(term: str) -> str:
    """The matching form of a lexicon term or allow phrase (same folding as texts)."""
    return normalize(term).text


#: Invisible characters that are not whitespace, control or format (Cc/Cf) characters:
#: Hangul fillers (U+115F, U+1160, U+3164, U+FFA0), the combining grapheme joiner (U+034F),
#: variation selectors, the Braille blank and the Mongolian vowel separator (Cf only in
#: some Unicode versions). A text made of these alone shows nothing.
_FILLERS = frozenset(
    "\u034f\u115f\u1160\u17b4\u17b5\u180e\u2800\u3164\uffa0"
    + "".join(chr(c) for c in range(0x180B, 0x1810))
    + "".join(chr(c) for c in range(0xFE00, 0xFE10))
)
_INVISIBLE_CATEGORIES = frozenset(("Cc", "Cf", "Zs", "Zl", "Zp"))


def is_blank(text: str) -> bool:
    """Whether `text` shows nothing: only whitespace, control, zero-width (U+200B-U+200F,
    U+2060-U+2064, U+FEFF, soft hyphen and the other Cf characters) or filler characters.

    Such a text is refused as empty (`empty_content`) rather than moderated, because it
    would pass every check while carrying nothing a reviewer can see. The loop stops at the
    first visible character, so ordinary text costs one step.
    """
    for ch in text:
        if not (ch.isspace() or ch in _FILLERS
                or unicodedata.category(ch) in _INVISIBLE_CATEGORIES):
            return False
    return True
