"""`api.compat.percent` and `acs3.parse_time` are fast paths for the Aliyun signature checks:
they must give exactly what `urllib.parse` and `strptime` gave (the signatures are computed
over them), on SDK-like and on hostile input."""

from __future__ import annotations

import random
from calendar import timegm
from time import strptime
from urllib.parse import parse_qsl, quote

import pytest

from api.compat import percent
from api.compat.acs3 import parse_time
from api.compat.errors import CompatError

PIECES = [*"aZ09-_.~ !\"#$&'()*+,/:;<=>?@[]{}|^`\\\n", "中", "文", "é", "€", "😀", "%",
          "%E4%BD%A0", "%e4%bd%a0", "%2B", "%20", "%FF", "%E4", "%2", "%zz", "+", "&", "=",
          "&&", "=="]


def _strings(n: int) -> list[str]:
    rng = random.Random(16)
    return ["".join(rng.choice(PIECES) for _ in range(rng.randint(0, 24))) for _ in range(n)]


def test_quote_is_urllib_quote() -> None:
    for s in ["", "abc", "2026-12-02T18:14:10Z", '{"content": "出售冰毒"}', *_strings(3000)]:
        assert percent.quote(s) == quote(s, safe="~"), s
        encoded = f"{percent.quote(s)}={percent.quote(s[::-1])}&k={percent.quote(s)}"
        assert percent.quote_encoded(encoded) == quote(encoded, safe="~"), s


@pytest.mark.parametrize("errors", ["strict", "replace"])
def test_parse_form_is_parse_qsl(errors: str) -> None:
    for s in _strings(3000):
        try:
            expected: object = parse_qsl(s, keep_blank_values=True, errors=errors)
        except UnicodeDecodeError:
            expected = UnicodeDecodeError
        try:
            got: object = percent.parse_form(s, errors)
        except UnicodeDecodeError:
            got = UnicodeDecodeError
        assert got == expected, s


def test_parse_time_is_strptime() -> None:
    rng = random.Random(16)
    values = ["2026-12-02T18:14:10Z", "2024-02-29T23:59:60Z", "2024-02-29T23:59:61Z",
              "2026-02-30T00:00:00Z", "2024-2-9T1:2:3Z", "2026-12-02T18:14:10z", "",
              "2026-12-02 18:14:10Z", "0000-01-01T00:00:00Z"]
    values += [f"{rng.randint(0, 9999):04d}-{rng.randint(0, 14):02d}-{rng.randint(0, 33):02d}"
               f"T{rng.randint(0, 25):02d}:{rng.randint(0, 61):02d}:{rng.randint(0, 62):02d}Z"
               for _ in range(3000)]
    for v in values:
        try:
            expected: object = timegm(strptime(v, "%Y-%m-%dT%H:%M:%SZ"))
        except ValueError:
            expected = CompatError
        try:
            got: object = parse_time(v)
        except CompatError:
            got = CompatError
        assert got == expected, v
