"""Look-alike and variant characters folded by the normalizer, from maintained data.

- Cyrillic and Greek letters that look like Latin ones (`о`, `а`, `к`, `х`, `ν`): Unicode's
  confusables data as shipped by `confusable-homoglyphs` (its `confusables.json` is built from
  confusables.txt), restricted to letters whose look-alike is one ASCII letter.
- Japanese shinjitai (`薬`, `売`, `弾`) and Hong Kong / Taiwan variant forms (`着`/`著`
  spellings, `綫`) that OpenCC's plain `t2s` leaves alone: OpenCC's own `jp2t`, `hk2s` and
  `tw2s` configurations.
- CJK radicals and strokes that look like an ideograph (`⺁` → `厂`), from the same
  confusables data.
- Default-ignorable code points that Unicode classes as letters (Hangul fillers) are noise.

Every code point folded here is in `VARIANT_SOURCES`, so a hit whose original text holds one
is reported with `match_kind: variant`.
"""

from __future__ import annotations

import json
import unicodedata
from functools import lru_cache
from importlib.resources import files

import opencc

#: Default_Ignorable_Code_Point (Unicode DerivedCoreProperties) that are not already noise
#: for `[\W_]` because Unicode classes them as letters (Lo): the Hangul fillers.
IGNORABLE_LETTERS = frozenset("\u115f\u1160\u3164\uffa0")


def _is_cjk(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff" or "\U00020000" <= ch <= "\U0003134f"


def _ascii_letter(s: str) -> bool:
    return len(s) == 1 and s.isascii() and s.isalpha()


def _is_radical_or_stroke(ch: str) -> bool:
    return "\u2e80" <= ch <= "\u2fdf" or "\u31c0" <= ch <= "\u31ef"


@lru_cache(maxsize=1)
def _confusables() -> dict[str, str]:
    """Cyrillic/Greek letter → ASCII letter; CJK radical/stroke → ideograph."""
    data = json.loads(
        files("confusable_homoglyphs").joinpath("confusables.json").read_text("utf-8")
    )
    out: dict[str, str] = {}
    for ch, entries in data.items():
        if len(ch) != 1:
            continue
        targets = [e["c"] for e in entries if len(e["c"]) == 1]
        name = unicodedata.name(ch, "")
        if name.startswith(("CYRILLIC", "GREEK")):
            # A lowercase letter whose only look-alike is not ASCII (`к` ~ `ĸ`) takes its
            # capital's (`К` ~ `K`).
            for source in (ch, ch.upper()):
                latin = [e["c"] for e in data.get(source, ()) if _ascii_letter(e["c"])]
                if latin:
                    # The skeleton writes capital I as `l`; a capital that looks like it
                    # is an I, which case-folds to `i`.
                    target = latin[0]
                    out[ch] = "i" if target == "l" and source.isupper() else target.lower()
                    break
        elif _is_radical_or_stroke(ch):
            han = [t for t in targets if _is_cjk(t)]
            if han:
                out[ch] = han[0]
    return out


def _in_gb2312(ch: str) -> bool:
    """Everyday simplified characters (GB 2312) are never refolded: `jp2t` would turn the
    Chinese `芸` into `艺` because Japanese writes 藝 as 芸."""
    try:
        ch.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return True


@lru_cache(maxsize=1)
def _converters() -> tuple[opencc.OpenCC, ...]:
    return tuple(opencc.OpenCC(c) for c in ("jp2t", "hk2s", "tw2s"))


def variant_fold(ch: str, folded: str, t2s: opencc.OpenCC) -> str | None:
    """What `ch` folds to beyond plain NFKC + t2s (`folded`), or None when nothing more.

    Called once per code point while the normalizer builds its table, never per request.
    """
    if ch in IGNORABLE_LETTERS:
        return "\u200b"  # folds to noise: stripped with the rest
    conf = _confusables().get(ch)
    if conf is not None:
        return conf
    if len(folded) == 1 and _is_cjk(folded) and not _in_gb2312(folded):
        for conv in _converters():
            out = t2s.convert(conv.convert(folded))
            if len(out) == 1 and out != folded and _is_cjk(out):
                return out
    return None
