"""Chinese word segmentation (jieba), used only to confirm `word`-mode lexicon hits.

One private tokenizer instance, initialised once: jieba's dictionary takes about a second
to load, so the service warms it at start-up rather than on the first request.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

import jieba

_lock = threading.Lock()
_tokenizer: jieba.Tokenizer | None = None


def _get() -> jieba.Tokenizer:
    global _tokenizer
    if _tokenizer is None:
        with _lock:
            if _tokenizer is None:
                jieba.setLogLevel(logging.WARNING)
                tok = jieba.Tokenizer()
                tok.initialize()
                _tokenizer = tok
    return _tokenizer


def warm_up() -> None:
    _get()


def tokenize(text: str) -> Iterator[tuple[str, int, int]]:
    """Yield (word, start, end) over `text` in default (accurate) mode, HMM on."""
    yield from _get().tokenize(text)


def is_dictionary_word(word: str) -> bool:
    """Whether `word` is in jieba's dictionary (not a word its HMM guessed)."""
    return _get().FREQ.get(word, 0) > 0


_ranks: dict[str, int] | None = None


def char_rank(ch: str) -> int:
    """A character's rank among jieba's single-character words by frequency (0 = most
    frequent); characters it does not list rank last."""
    global _ranks
    if _ranks is None:
        freq = _get().FREQ
        singles = sorted((w for w, f in freq.items() if len(w) == 1 and f > 0),
                         key=lambda w: -freq[w])
        _ranks = {w: i for i, w in enumerate(singles)}
    return _ranks.get(ch, len(_ranks))
