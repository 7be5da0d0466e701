"""Pattern recognizers: compiled regexes that propose candidate spans, one per run.

Presidio's contract, kept small: a regex proposes a span, a check (`checks.py`) decides
`validated`. Every pattern is anchored on run boundaries (no ASCII letter or digit directly
before or after), so a recognizer only ever sees a whole digit/letter run and never a number
hidden inside a longer one. Overlaps between recognizers are settled by `find_pii`
(`moderation/pii/__init__.py`).

All patterns run on the width-folded text (`fold_width`), which is 1:1 with the original,
so match offsets are offsets into the original text.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from dataclasses import dataclass

from moderation.pii import checks

# Full-width ASCII (U+FF01-FF5E) to ASCII, ideographic/no-break space to space, the dash
# family to `-`: every mapping is one code point to one code point, so offsets are kept.
_FOLD = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)}
_FOLD.update({0x3000: 0x20, 0x00A0: 0x20})
_FOLD.update(dict.fromkeys((0x2010, 0x2011, 0x2012, 0x2013, 0x2014, 0x2212), 0x2D))
_NEEDS_FOLD = re.compile("[\uff01-\uff5e\u3000\u00a0\u2010-\u2014\u2212]")

# Nothing can be found in a text without a digit or an `@`: the common case returns here.
TRIGGER = re.compile("[0-9@\uff10-\uff19\uff20]")

# A chunk: a maximal stretch of the characters any PII value is written with (spaces and
# separators inside), in ASCII or full width. Chunks are few and short in ordinary Chinese
# text, so the type patterns run only over chunks long enough to hold a value, and the text
# is width-folded only when a chunk has a full-width character: that keeps a comment with a
# few numbers in it ("2023年11月25日") at a few microseconds. The class is closed under
# folding, so chunk spans are the same before and after it.
_FULL_ALNUM = "\uff10-\uff19\uff21-\uff3a\uff41-\uff5a"
_START = (
    "0-9A-Za-z@:.+(\\-_%"
    + _FULL_ALNUM
    + "\uff20\uff1a\uff0e\uff0b\uff08\uff0d\uff3f\uff05\u2010-\u2014\u2212"
)
_MORE = _START + ")\uff09\u00b7\u2022\u30fb \u3000\u00a0"
_CHUNK = re.compile(f"[{_START}][{_MORE}]{{2,}}")
_PROVINCE_SET = frozenset("京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼")


def fold_width(text: str) -> str:
    """Full-width digits, letters and punctuation to ASCII, one code point for one."""
    return text.translate(_FOLD) if _NEEDS_FOLD.search(text) else text


@dataclass(frozen=True, slots=True)
class Candidate:
    """A proposed finding. The mask keeps the first `head` and last `tail` letters/digits of
    `span[core_start:core_end]` and stars the rest; everything else in the span is kept."""

    type: str
    start: int
    end: int
    validated: bool
    core_start: int
    core_end: int
    head: int
    tail: int


_B = r"(?<![0-9A-Za-z])"  # run boundary before
_E = r"(?![0-9A-Za-z])"  # run boundary after

# Numeric runs. Alternatives have disjoint shapes, so at most one can match at a position.
_NUMERIC = re.compile(
    _B
    + r"(?:"
    # 18-char ID card written in groups: 110105 19491231 002X
    + r"(?P<idg>\d{6}[ -]\d{8}[ -]\d{3}[\dXx])"
    # card number in groups of four: 6222 0212 3456 7890 (123)
    + r"|(?P<cardg>\d{4}(?:[ -]\d{4}){3}(?:[ -]\d{1,3})?)"
    # mobile, optional +86 / 0086 / 86 / (+86) prefix, optional space or dash 3-4-4
    + r"|(?P<mobile>(?:(?:\+|00)?86[ -]?|\(\+?86\)[ -]?)?1[3-9]\d(?:[ -]?\d{4}){2})"
    # landline with a separated area code: 010-12345678, (0755)8888 6666, 0755 8888-6666
    + r"|(?P<landg>(?:\(0\d{2,3}\)[ -]?|0\d{2,3}[ -])\d{3,4}[ -]?\d{4})"
    # a bare run: ID (15/18), bank card, landline written without separators
    + r"|(?P<bare>\d{17}[Xx]|\d{11,19})"
    + r")"
    + _E
)

_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+-])"
    r"(?P<local>[A-Za-z0-9](?:[A-Za-z0-9._%+-]{0,62}[A-Za-z0-9])?)"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}"
    r"(?![A-Za-z0-9-])"
)

_IPV4 = re.compile(r"(?<![0-9A-Za-z.])(?:\d{1,3}\.){3}\d{1,3}(?![0-9A-Za-z]|\.\d)")

_IPV6 = re.compile(
    r"(?<![0-9A-Za-z:.])"
    r"(?:[0-9A-Fa-f]{0,4}:){2,7}(?:(?:\d{1,3}\.){3}\d{1,3}|[0-9A-Fa-f]{1,4})?"
    r"(?![0-9A-Za-z:]|\.\d)"
)

# PRC passports: E + 8 digits, E + letter + 7 digits (e-passports since 2012), G + 8 digits
# (older ordinary), DE / SE / PE + 7 digits (diplomatic, service, public affairs).
_PASSPORT = re.compile(_B + r"(?:[EG]\d{8}|E[A-HJ-NP-Z]\d{7}|[DSP]E\d{7})" + _E)

_PROVINCES = "".join(sorted(_PROVINCE_SET))
_PLATE_CHAR = "A-HJ-NP-Z0-9"  # plates never use I or O
_PLATE = re.compile(
    rf"[{_PROVINCES}][A-HJ-NP-Z][·•・.\- ]?"
    r"(?:"
    # new energy: small cars D/F + 5 (letter or digit, then 4 digits), large cars 5 digits + D/F
    rf"[DF][{_PLATE_CHAR}]\d{{4}}|\d{{5}}[DF]"
    # ordinary: 5 letters/digits, or 4 + a use character (学 driving school, 警 police, ...)
    rf"|[{_PLATE_CHAR}]{{5}}|[{_PLATE_CHAR}]{{4}}[挂学警港澳领]"
    # the plate window reaches past its chunk, where the text may not be folded
    rf")(?![0-9A-Za-z{_FULL_ALNUM}])"
)

_USCC = re.compile(_B + r"[0-9A-HJ-NPQRTUWXY]{18}" + _E)


def numeric_candidates(folded: str, lo: int, hi: int) -> Iterator[Candidate]:
    """Candidates for each numeric run: every type whose checks it passes (an 18-digit run
    may be both an ID card and a bank card); `find_pii` keeps the most specific one."""
    for m in _NUMERIC.finditer(folded, lo, hi):
        kind = m.lastgroup
        start, end = m.span()
        raw = m.group()
        digits = raw.replace(" ", "").replace("-", "").replace("(", "").replace(")", "")
        digits = digits.lstrip("+")
        if kind == "mobile":
            if checks.mobile_ok(digits[-11:]):
                core = _nth_digit_from_end(raw, 11)
                yield Candidate("mobile", start, end, True, core, len(raw), 3, 4)
        elif kind == "landg":
            area = checks.landline_area(digits)
            if area:
                yield Candidate("landline", start, end, True, 0, len(raw), area, 4)
        elif kind == "idg":
            yield from _id18(digits, start, end, len(raw))
        elif kind == "cardg":
            if checks.bank_card_valid(digits):
                yield Candidate("bank_card", start, end, True, 0, len(raw), 4, 4)
        else:
            yield from _bare(digits, start, end)


def _nth_digit_from_end(raw: str, n: int) -> int:
    """Index in `raw` of the n-th digit counted from the end (the start of a mobile core)."""
    seen = 0
    for i in range(len(raw) - 1, -1, -1):
        if raw[i].isdigit():
            seen += 1
            if seen == n:
                return i
    return 0


def _id18(value: str, start: int, end: int, length: int) -> Iterator[Candidate]:
    # Region and birth date real but the check digit wrong: most likely a mistyped ID
    # number, so it is still reported (and masked), as validated: false.
    if checks.id18_plausible(value):
        yield Candidate("cn_id_card", start, end, checks.id18_check_ok(value), 0, length, 6, 4)


def _bare(digits: str, start: int, end: int) -> Iterator[Candidate]:
    n = len(digits)
    if n in (11, 12) and digits[0] == "0":
        area = checks.landline_area(digits)
        if area:
            yield Candidate("landline", start, end, True, 0, n, area, 4)
    elif n == 15 and checks.id15_valid(digits):
        yield Candidate("cn_id_card", start, end, True, 0, n, 6, 3)
    elif n == 18:
        yield from _id18(digits, start, end, n)
    if 16 <= n <= 19 and digits.isdigit() and checks.bank_card_valid(digits):
        yield Candidate("bank_card", start, end, True, 0, n, 4, 4)


def uscc_candidates(folded: str, lo: int, hi: int) -> Iterator[Candidate]:
    """Unified social credit codes; only those whose GB 32100 check character matches."""
    for m in _USCC.finditer(folded, lo, hi):
        if checks.uscc_valid(m.group()):
            yield Candidate("uscc", m.start(), m.end(), True, 0, 18, 6, 4)


def email_candidates(folded: str, lo: int, hi: int) -> Iterator[Candidate]:
    for m in _EMAIL.finditer(folded, lo, hi):
        local = m.group("local")
        if ".." in local:
            continue
        core_end = m.end("local") - m.start()
        yield Candidate("email", m.start(), m.end(), True, 0, core_end, 1, 0)


def ipv4_candidates(folded: str, lo: int, hi: int) -> Iterator[Candidate]:
    for m in _IPV4.finditer(folded, lo, hi):
        raw = m.group()
        if checks.ipv4_ok(raw):
            second_dot = raw.index(".", raw.index(".") + 1) + 1
            yield Candidate("ipv4", m.start(), m.end(), True, second_dot, len(raw), 0, 0)


def ipv6_candidates(folded: str, lo: int, hi: int) -> Iterator[Candidate]:
    for m in _IPV6.finditer(folded, lo, hi):
        raw = m.group()
        # times (12:30:45) and bare `::` are not addresses; ipaddress does the real parse
        if not any(c.isdigit() for c in raw):
            continue
        try:
            ipaddress.IPv6Address(raw)
        except ValueError:
            continue
        yield Candidate("ipv6", m.start(), m.end(), True, _ipv6_core(raw), len(raw), 0, 0)


def _ipv6_core(raw: str) -> int:
    """Where an address's masked part starts: after its first two groups (the network
    prefix), or after the first group, or at the start when nothing would be left to hide."""
    first = raw.index(":") + 1
    second = raw.index(":", first) + 1
    for cut in (second, first):
        if any(c not in ":." for c in raw[cut:]):
            return cut
    return 0


def passport_candidates(folded: str, lo: int, hi: int) -> Iterator[Candidate]:
    for m in _PASSPORT.finditer(folded, lo, hi):
        yield Candidate("passport", m.start(), m.end(), True, 0, m.end() - m.start(), 1, 3)


def plate_candidates(folded: str, lo: int, hi: int) -> Iterator[Candidate]:
    for m in _PLATE.finditer(folded, lo, hi):
        raw = m.group()
        tail = raw[2:].lstrip("·•・.- ")
        # an ordinary plate has at most two letters in its five characters (京A12345,
        # 沪AB1234); `京ABCDE` is a word, not a plate
        if len(tail) == 5 and sum(c.isdigit() for c in tail) < 3:
            continue
        yield Candidate("license_plate", m.start(), m.end(), True, 1, len(raw), 1, 2)


def candidates(text: str) -> tuple[str, list[Candidate]]:
    """The width-folded text and every candidate in it.

    A type's pattern runs only on chunks where it could match. Lookbehinds see before a
    chunk, and the character after a chunk is never a letter, digit, `.`, `:` or `-`, so a
    pattern run on a chunk gives the same matches as run on the whole text.
    """
    spans = [m.span() for m in _CHUNK.finditer(text)]
    if not spans:
        return text, []
    folded = text
    if any(_NEEDS_FOLD.search(text, lo, hi) for lo, hi in spans):
        folded = text.translate(_FOLD)
    found: list[Candidate] = []
    for lo, hi in spans:
        chunk = folded[lo:hi]
        n = hi - lo
        if n >= 11:
            found.extend(numeric_candidates(folded, lo, hi))
        if "@" in chunk:
            found.extend(email_candidates(folded, lo, hi))
        if n >= 7 and "." in chunk:
            found.extend(ipv4_candidates(folded, lo, hi))
        if chunk.count(":") >= 2:
            found.extend(ipv6_candidates(folded, lo, hi))
        if n >= 9:
            found.extend(passport_candidates(folded, lo, hi))
        if n >= 18:
            found.extend(uscc_candidates(folded, lo, hi))
        if n >= 5 and lo and folded[lo - 1] in _PROVINCE_SET:
            found.extend(plate_candidates(folded, lo - 1, min(len(folded), hi + 2)))
    return folded, found
