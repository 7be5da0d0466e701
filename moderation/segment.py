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
