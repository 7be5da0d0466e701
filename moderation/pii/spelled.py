"""Numbers spelled to dodge recognizers: Chinese numerals (`幺三九…`, `壹叁玖…`) and digits
spaced or dotted apart (`1 3 9 1 2 3 4 5 6 7 8`), and QQ numbers after a QQ keyword.

A spelled number is a run of numerals, each separated from the next by at most two
separator characters. Every numeral is one code point, so `to_digits` maps the run to ASCII
digits one for one: the recognizer's span is the span of what the user typed, and masking
(which keeps the original characters it shows) works on it unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from moderation.pii import checks
from moderation.pii.recognizers import Candidate

#: Numeral characters → ASCII digits (幺 is how 1 is read out in phone numbers).
_NUMERALS = {
    **{c: str(i) for i, c in enumerate("〇一二三四五六七八九")},
    "零": "0", "幺": "1", "壹": "1", "贰": "2", "貳": "2", "叁": "3", "肆": "4",
    "伍": "5", "陆": "6", "陸": "6", "柒": "7", "捌": "8", "玖": "9",
    **{chr(0xFF10 + i): str(i) for i in range(10)},
}  # fmt: skip
_DIGIT_TABLE = str.maketrans(_NUMERALS)
_CHINESE = frozenset(c for c in _NUMERALS if not ("\uff10" <= c <= "\uff19"))
_D = "0-9" + "".join(_NUMERALS)
_SEP = " \u3000\u00a0\\-.·_,，、"
_LETTERS = "A-Za-z\uff21-\uff3a\uff41-\uff5a"
RUN = re.compile(
    rf"(?<![{_D}{_LETTERS}])[{_D}](?:[{_SEP}]{{0,2}}[{_D}]){{4,18}}(?![{_D}{_LETTERS}])"
)
#: What announces a QQ number, up to 6 characters before it (`QQ:`, `扣扣号`, `企鹅`).
_QQ_KEY = re.compile(r"(?:qq|扣扣|企鹅|球球)[^0-9]{0,6}$", re.IGNORECASE)


def to_digits(run: str) -> str:
    return run.translate(_DIGIT_TABLE)


def spelled_candidates(text: str) -> tuple[list[tuple[int, int, str]], list[Candidate]]:
    """(runs as (start, end, the run in ASCII digits), candidates) for spelled numbers:
    mobiles written with Chinese numerals or spaced digits, and QQ numbers."""
    runs: list[tuple[int, int, str]] = []
    found: list[Candidate] = []
    for m in RUN.finditer(text):
        raw = m.group()
        folded = to_digits(raw)
        digits = "".join(c for c in folded if c.isdigit())
        spelled = not _CHINESE.isdisjoint(raw) or _spaced(raw)
        start, end = m.span()
        is_qq = _QQ_KEY.search(text, max(0, start - 8), start) is not None
        if not (spelled or is_qq):
            continue  # a plain number: the ordinary recognizers own it
        runs.append((start, end, folded))
        found.extend(_typed(digits, start, end, is_qq))
    return runs, found


def _spaced(raw: str) -> bool:
    """Digits written apart one or two at a time (`1 3 9 1…`), not in the 3-4-4 or 4-4-4-4
    groups the ordinary recognizers already read."""
    groups = re.split(f"[{_SEP}]+", raw)
    return len(groups) >= 5 and max(len(g) for g in groups) <= 2


def _typed(digits: str, start: int, end: int, is_qq: bool) -> Iterator[Candidate]:
    length = end - start
    if len(digits) == 11 and checks.mobile_ok(digits):
        yield Candidate("mobile", start, end, True, 0, length, 3, 4)
    elif is_qq and 5 <= len(digits) <= 11 and digits[0] != "0":
        yield Candidate("qq", start, end, True, 0, length, 2, 2)
