"""The text classifier: any local Hugging Face sequence-classification checkpoint, on CPU.

Loaded once at start-up (a missing or corrupt directory is a `ModelLoadError` then, never at
the first request) with `AutoTokenizer` / `AutoModelForSequenceClassification` and
`local_files_only=True`, so nothing is ever downloaded. Weights are upcast to fp32 (the shipped
model is stored in fp16 to stay small) and can be quantized to int8 in memory with torch's
dynamic quantization. Texts longer than the model's window are scored in overlapping windows;
each label's score is its maximum over the windows, so one offensive sentence inside a long
letter is not averaged away.
"""

from __future__ import annotations

import hashlib
import threading
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch

from moderation.errors import ModelLoadError

DEFAULT_MODEL_NAME = "cold-l4-h256"
WEIGHT_FILES = ("*.safetensors", "pytorch_model*.bin")
#: One of these must exist: without them transformers silently builds an empty tokenizer.
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "vocab.json", "spiece.model",
                   "sentencepiece.bpe.model", "tokenizer.model")
MAX_WINDOW = 512


def repo_root() -> Path:
    return Path(__file__).resolve().parents[1]


def default_model_path() -> Path | None:
    """`models/<DEFAULT_MODEL_NAME>` in this checkout, or None when no model is shipped."""
    path = repo_root() / "models" / DEFAULT_MODEL_NAME
    return path if (path / "config.json").is_file() else None


def weights_digest(path: Path) -> str:
    """SHA-256 over the weight files in name order: the model's identity in `versions.model`."""
    files = sorted({f for pattern in WEIGHT_FILES for f in path.glob(pattern)})
    if not files:
        raise ModelLoadError(f"Model directory {path} holds no weights (*.safetensors or *.bin).")
    digest = hashlib.sha256()
    for f in files:
        with f.open("rb") as fh:
            for block in iter(lambda fh=fh: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def pad_batch(ids: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(input_ids, attention_mask) for token id lists padded to the longest; training pads
    batches with this too, so the model is served exactly as it was trained."""
    width = max(len(x) for x in ids)
    input_ids = torch.full((len(ids), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(ids), width), dtype=torch.long)
    for row, x in enumerate(ids):
        input_ids[row, : len(x)] = torch.tensor(x, dtype=torch.long)
        mask[row, : len(x)] = 1
    return input_ids, mask


@contextmanager
def _no_progress_bars() -> Iterator[None]:
    """Silence transformers' "Loading weights" progress bar for one load: it would land in
    every API worker's log and on every `moderation check`; the previous setting is restored
    (training keeps its own bars)."""
    from transformers.utils import logging as hf_logging

    enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if enabled:
            hf_logging.enable_progress_bar()


@dataclass(frozen=True)
class _Window:
    text_index: int
    ids: list[int]


class Classifier:
    """Per-label scores (0-1) for texts; build it with `Classifier.load`."""

    def __init__(self, model, tokenizer, *, name: str, labels: tuple[str, ...],
                 window: int, batch_size: int, multi_label: bool) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.name = name
        self.labels = labels
        self.window = window
        self.batch_size = batch_size
        self.multi_label = multi_label
        self._specials = tokenizer.num_special_tokens_to_add(pair=False)
        self._pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        # A fast tokenizer's truncation settings live in shared Rust state: concurrent calls
        # from the API's thread pool can fail with "Already borrowed". Tokenizing is ~0.1 ms, so
        # one lock costs nothing; the forward pass itself runs unlocked.
        self._tokenizer_lock = threading.Lock()

    @classmethod
    def load(cls, path: str | Path, *, threads: int | None = None, quantize: bool = False,
             batch_size: int = 32) -> Classifier:
        """Load a checkpoint directory; raises ModelLoadError with a sentence naming the fix."""
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        path = Path(path)
        if not path.is_dir():
            raise ModelLoadError(f"Model directory {path} does not exist.")
        if not (path / "config.json").is_file():
            raise ModelLoadError(f"Model directory {path} has no config.json; "
                                 "point MODERATION_MODEL at a save_pretrained directory.")
        if batch_size < 1:
            raise ModelLoadError(f"Batch size must be at least 1, not {batch_size}.")
        if not any((path / name).is_file() for name in TOKENIZER_FILES):
            raise ModelLoadError(f"Model directory {path} has no tokenizer files "
                                 f"({', '.join(TOKENIZER_FILES[:2])}, ...); save the tokenizer "
                                 "with save_pretrained beside the model.")
        digest = weights_digest(path)
        if threads is not None:
            torch.set_num_threads(threads)
        try:
            with _no_progress_bars():
                tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
                model = AutoModelForSequenceClassification.from_pretrained(
                    str(path), local_files_only=True)
        except Exception as exc:  # any failure inside transformers means an unusable directory
            raise ModelLoadError(f"Model directory {path} cannot be loaded: "
                                 f"{type(exc).__name__}: {exc}".splitlines()[0]) from exc
        model = model.float().eval()
        if quantize:
            with warnings.catch_warnings():
                # torch announces the move of eager quantization to torchao; it still works.
                warnings.simplefilter("ignore", DeprecationWarning)
                warnings.filterwarnings("ignore", message=".*quantize", category=UserWarning)
                from torch.ao.quantization import quantize_dynamic

                model = quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
        config = model.config
        labels = tuple(config.id2label[i] for i in sorted(config.id2label))
        window = min(MAX_WINDOW, getattr(config, "max_position_embeddings", MAX_WINDOW) or
                     MAX_WINDOW, tokenizer.model_max_length or MAX_WINDOW)
        if window <= tokenizer.num_special_tokens_to_add(pair=False) + 8:
            raise ModelLoadError(f"Model directory {path}: window of {window} tokens is too "
                                 "small; set model_max_length in tokenizer_config.json.")
        name = f"{path.name}{'-int8' if quantize else ''}@{digest[:8]}"
        return cls(model, tokenizer, name=name, labels=labels, window=window,
                   batch_size=batch_size,
                   multi_label=config.problem_type == "multi_label_classification")

    def windows(self, texts: Sequence[str]) -> list[_Window]:
        """Token windows covering each text, overlapping by a quarter, special tokens added.

        Uses the tokenizer's own overflow handling, so any fast tokenizer works.
        """
        if not texts:
            return []
        body = self.window - self._specials
        with self._tokenizer_lock:
            enc = self.tokenizer(list(texts), truncation=True, max_length=self.window,
                                 stride=body // 4, return_overflowing_tokens=True)
        return [_Window(int(i), ids) for i, ids in
                zip(enc["overflow_to_sample_mapping"], enc["input_ids"], strict=True)]

    @torch.inference_mode()
    def predict(self, texts: Sequence[str]) -> list[dict[str, float]]:
        """One `{label: score}` per text: softmax (sigmoid for multi-label), max over windows."""
        windows = self.windows(texts)
        order = sorted(range(len(windows)), key=lambda k: len(windows[k].ids))
        best = torch.zeros((len(texts), len(self.labels)))
        for start in range(0, len(order), self.batch_size):
            batch = [windows[k] for k in order[start : start + self.batch_size]]
            input_ids, mask = pad_batch([w.ids for w in batch], self._pad_id)
            logits = self.model(input_ids=input_ids, attention_mask=mask).logits.float()
            scores = torch.sigmoid(logits) if self.multi_label else torch.softmax(logits, -1)
            for row, w in enumerate(batch):
                best[w.text_index] = torch.maximum(best[w.text_index], scores[row])
        return [dict(zip(self.labels, (round(float(s), 6) for s in row), strict=True))
                for row in best]
