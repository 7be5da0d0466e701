"""Masked forms of findings, and masking a text with them.

A masked form has exactly as many code points as the span it replaces, so `masked_text`
keeps every offset of the original: a reviewer's highlight of `hits` and `pii` spans lands
on the same characters in the masked text. Kept characters are the ORIGINAL ones (a
full-width number stays full-width); masked ones become `*`.
"""

from __future__ import annotations

from collections.abc import Sequence

from moderation.pii.recognizers import Candidate
from moderation.types import PiiFinding

STAR = "*"


def masked_form(original: str, folded: str, cand: Candidate) -> str:
    """The span of `original` with all but `head`/`tail` characters of its core starred.

    Number types keep their separators (`+86 139-****-5678`, `6222 **** **** 1234`); an
    email's local part is starred whole after its first character, dots included. A core
    too short to keep anything (`a@b.cn`) is starred whole: a masked form always hides.
    """
    span = original[cand.start : cand.end]
    fspan = folded[cand.start : cand.end]
    lo, hi = cand.core_start, cand.core_end
    seg = fspan[lo:hi]
    counted: Sequence[int]
    if cand.type == "email" or (seg.isascii() and seg.isalnum()):
        counted = range(lo, hi)  # the common case: every character of the core counts
    else:
        counted = [i for i in range(lo, hi) if fspan[i].isascii() and fspan[i].isalnum()]
    hidden = counted[cand.head : len(counted) - cand.tail] or counted
    if isinstance(hidden, range):
        return span[: hidden.start] + STAR * len(hidden) + span[hidden.stop :]
    chars = list(span)
    for i in hidden:
        chars[i] = STAR
    return "".join(chars)


def mask_text(text: str, findings: Sequence[PiiFinding]) -> str:
    """Replace each finding's span of `text` by its masked form.

    `findings` are those `find_pii` returned for this `text` (any order). A finding that
    overlaps an earlier one or lies outside the text is ignored rather than corrupting the
    output. Because masked forms keep the span length, the result has `len(text)`.
    """
    if not findings:
        return text
    parts: list[str] = []
    pos = 0
    for f in sorted(findings, key=lambda f: (f.start, f.end)):
        if f.start < pos or f.end > len(text) or f.end - f.start != len(f.masked):
            continue
        parts.append(text[pos : f.start])
        parts.append(f.masked)
        pos = f.end
    parts.append(text[pos:])
    return "".join(parts)
