"""Sensitive personal information (个人敏感信息) in a text: find it, validate it, mask it.

    find_pii(text, field="content") -> list[PiiFinding]   # sorted by start
    mask_text(text, findings) -> str                       # same length as text
    PII_TYPES

How it works (CONTRACTS.md, "Decisions"):
- Recognizers run on the ORIGINAL text with width folding only (full-width digits, letters
  and punctuation to ASCII, one code point for one), never on noise-stripped text, so every
  span is a span of the original: `text[start:end]` is what the user typed.
- Each recognizer matches whole runs only: no ASCII letter or digit directly before or after
  (`我的手机13912345678请联系` is found; the 11 digits inside an 18-digit ID are not).
- One run yields at most one finding. Among candidates that overlap, the winner is the
  validated one, then the longer span, then the type earlier in `PRECEDENCE`:
  cn_id_card > uscc > bank_card > mobile > landline > passport > license_plate > email >
  ipv6 > ipv4. So an 18-char run that passes GB 11643 (check digit, real region, birth
  date not in the future) is an ID card even if it also passes GB 32100 or Luhn; one that
  fails GB 11643 but passes Luhn (and a card issuer range) is a bank card; a mistyped ID
  that passes nothing else stays an unvalidated ID card; `13912345678@qq.com` is one email,
  not a mobile; `::ffff:10.1.2.3` is one IPv6 address.
- `validated: false` policy: a checksum failure is never `validated: true`. The only
  findings reported with `validated: false` are 18-char ID numbers whose region and birth
  date are real but whose check digit is wrong (a mistyped ID is still someone's ID, so it
  is masked). Every other type is reported only when all its checks pass: bank cards
  failing Luhn or outside card issuer ranges, USCCs failing GB 32100 (all-digit ones also
  GB 11714), landlines without a real area code, out-of-range IPs are not reported at all:
  order and tracking numbers look just like them.
- Masked forms keep the span's length (`139****5678`, `+86 139-****-5678`,
  `6222 **** **** 1234`, `110105********1234`, `z********@example.gov.cn`), so
  `mask_text` returns a text of the same length with every offset unchanged.
- Spelled numbers (`moderation/pii/spelled.py`): mobiles written with Chinese numerals
  (`幺三九…`, `壹叁玖…`) or digits spaced apart one or two at a time, and QQ numbers (5-11
  digits, plain or spelled) after `QQ`/`扣扣`/`企鹅`, keep the span the user typed.
- Speed: a text without a digit or `@` (and no run of five numerals) returns after two regex
  searches (under 1 µs); other
  texts are cut into chunks of PII-like characters and only chunks long enough for a type
  run that type's pattern (about 3 µs for an 80-character comment with a few numbers).
"""

from __future__ import annotations

from moderation.pii import recognizers as _r
from moderation.pii.masking import mask_text, masked_form
from moderation.pii.recognizers import Candidate, fold_width
from moderation.pii.spelled import RUN as _SPELLED
from moderation.pii.spelled import spelled_candidates
from moderation.types import PiiFinding

PII_TYPES: tuple[str, ...] = (
    "cn_id_card",
    "mobile",
    "landline",
    "bank_card",
    "uscc",
    "email",
    "ipv4",
    "ipv6",
    "passport",
    "license_plate",
    "qq",
)

PRECEDENCE: tuple[str, ...] = (
    "cn_id_card",
    "uscc",
    "bank_card",
    "mobile",
    "landline",
    "qq",
    "passport",
    "license_plate",
    "email",
    "ipv6",
    "ipv4",
)
_RANK = {t: i for i, t in enumerate(PRECEDENCE)}

__all__ = ["PII_TYPES", "PRECEDENCE", "find_pii", "fold_width", "mask_text"]


def find_pii(text: str, field: str = "content") -> list[PiiFinding]:
    """Every piece of personal information in `text`, non-overlapping, sorted by start."""
    plain = _r.TRIGGER.search(text) is not None
    if not plain and not _SPELLED.search(text):
        return []
    folded, cands = _r.candidates(text) if plain else (text, [])
    runs, spelled = spelled_candidates(text)
    if spelled:
        # Spelled runs read as ASCII digits, one code point for one, for masking.
        for start, end, digits in runs:
            folded = folded[:start] + digits + folded[end:]
        cands = cands + spelled
    return [
        PiiFinding(
            field=field,
            type=c.type,
            start=c.start,
            end=c.end,
            validated=c.validated,
            masked=masked_form(text, folded, c),
        )
        for c in _resolve(cands)
    ]


def _resolve(cands: list[Candidate]) -> list[Candidate]:
    """Keep the best of each group of overlapping candidates (see the module docstring)."""
    if len(cands) <= 1:
        return cands
    cands.sort(key=lambda c: (not c.validated, c.start - c.end, _RANK[c.type], c.start))
    kept: list[Candidate] = []
    for c in cands:
        if all(c.end <= k.start or k.end <= c.start for k in kept):
            kept.append(c)
    kept.sort(key=lambda c: c.start)
    return kept
