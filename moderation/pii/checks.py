"""Checksums and range checks behind each PII type's `validated` flag.

Pure functions over ASCII strings (the recognizers fold width before calling them). Each
check is the published algorithm: GB 11643-1999 (resident ID), ISO/IEC 7812 Luhn (bank
cards), GB 32100-2015 (unified social credit code).
"""

from __future__ import annotations

import datetime as _dt

from moderation.pii.areacodes import AREA_CODES_3, AREA_CODES_4

# GB 11643: province-level codes (first two digits of the region code), incl. 71 Taiwan,
# 81 Hong Kong, 82 Macau, 83 the code for Taiwan/HK/Macau residents' residence permits.
_PROVINCE_CODES = (
    "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 "
    "50 51 52 53 54 61 62 63 64 65 71 81 82 83"
)
ID_PROVINCES = frozenset(_PROVINCE_CODES.split())
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"

# GB 32100: 31 characters (no I, O, S, V, Z), weights 3^i mod 31.
USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_VALUE = {c: i for i, c in enumerate(USCC_CHARSET)}
_USCC_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))
_USCC_DEPARTMENTS = frozenset("123456789ANY")


def id_check_char(first17: str) -> str:
    """GB 11643 check character (`0`-`9` or `X`) for 17 digits."""
    total = sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def birth_date_ok(yyyymmdd: str, today: _dt.date | None = None) -> bool:
    """A real calendar date from 1900 up to today (an ID is never issued for the future)."""
    try:
        born = _dt.date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:8]))
    except ValueError:
        return False
    return _dt.date(1900, 1, 1) <= born <= (today or _dt.date.today())


def id18_plausible(value: str) -> bool:
    """Region and birth date of an 18-char ID are real (the check digit is not looked at)."""
    return (
        len(value) == 18
        and value[:17].isdigit()
        and value[:2] in ID_PROVINCES
        and birth_date_ok(value[6:14])
    )


def id18_check_ok(value: str) -> bool:
    """The GB 11643 mod-11 check character of an 18-char ID matches (`x` counts as `X`);
    with `id18_plausible`, that is every check an ID number has."""
    return id_check_char(value[:17]) == value[17].upper()


def id15_valid(value: str) -> bool:
    """Legacy 15-digit ID (before 1999): region + YYMMDD in the 1900s + 3-digit sequence."""
    return (
        len(value) == 15
        and value.isdigit()
        and value[:2] in ID_PROVINCES
        and birth_date_ok("19" + value[6:12])
    )


def luhn_ok(digits: str) -> bool:
    """ISO/IEC 7812 Luhn check over a digit string."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def card_prefix_ok(digits: str) -> bool:
    """Issuer range of a payment card: 3 JCB/Amex/Diners, 4 Visa, 5 and 2221-2720
    Mastercard, 6 UnionPay/Discover, 9 older domestic debit cards.

    Order and tracking numbers (often starting with a year, `2023…`) fall outside it, which
    keeps Luhn's 1-in-10 chance from calling them bank cards.
    """
    first = digits[0]
    if first in "34569":
        return True
    return first == "2" and 2221 <= int(digits[:4]) <= 2720


def bank_card_valid(digits: str) -> bool:
    """16-19 digits, a card issuer range, and Luhn."""
    return 16 <= len(digits) <= 19 and card_prefix_ok(digits) and luhn_ok(digits)


def uscc_check_char(first17: str) -> str:
    """GB 32100 check character for the first 17 characters."""
    total = sum(_USCC_VALUE[c] * w for c, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return USCC_CHARSET[(31 - total % 31) % 31]


def uscc_valid(value: str) -> bool:
    """18 chars: department code, category digit, 6-digit region, org code, check char."""
    if len(value) != 18 or any(c not in _USCC_VALUE for c in value):
        return False
    if value[0] not in _USCC_DEPARTMENTS or value[1] == "0" or not value[1].isdigit():
        return False
    if not value[2:8].isdigit() or value[2] not in "12345678":
        return False
    if uscc_check_char(value[:17]) != value[17]:
        return False
    # An all-digit code is where order numbers and ID-like runs collide with USCCs (1 in 31
    # passes by chance); there the embedded GB 11714 organization code must check out too.
    return not value.isdigit() or org_code_valid(value[8:17])


_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def org_code_valid(code: str) -> bool:
    """GB 11714 organization code: 8 digits/letters and a mod-11 check (`X` for 10)."""
    total = sum(int(c, 36) * w for c, w in zip(code[:8], _ORG_WEIGHTS, strict=True))
    check = (11 - total % 11) % 11
    return code[8] == ("X" if check == 10 else str(check))


def landline_area(digits: str) -> int:
    """Length of the real area code at the head of a landline (0 when none fits).

    Three-digit codes (010, 02x) take an 8-digit local number, four-digit codes 7 or 8; the
    local number never starts with 0 (that would be a second trunk prefix).
    """
    if digits[:3] in AREA_CODES_3 and len(digits) == 11 and digits[3] != "0":
        return 3
    if digits[:4] in AREA_CODES_4 and len(digits) in (11, 12) and digits[4] != "0":
        return 4
    return 0


def mobile_ok(digits: str) -> bool:
    """11 digits with a PRC mobile prefix 13-19."""
    return len(digits) == 11 and digits[0] == "1" and digits[1] in "3456789"


def ipv4_ok(value: str) -> bool:
    """Four dotted decimal octets 0-255 without leading zeros (which some parsers read as octal)."""
    parts = value.split(".")
    return len(parts) == 4 and all(
        p.isdigit() and int(p) <= 255 and (p == "0" or p[0] != "0") for p in parts
    )
