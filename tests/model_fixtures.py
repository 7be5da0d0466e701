"""A tiny BERT checkpoint built on the fly, so classifier tests never train or download a model.

Its vocabulary is the characters of the test sentences plus BERT's special tokens; weights are
random but seeded, and the window is 16 tokens so that windowing is exercised by short texts.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from pathlib import Path

import torch
from transformers import BertConfig, BertForSequenceClassification, BertTokenizer

SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
TINY_TEXTS = (
    "小区垃圾没人清理请尽快处理",
    "这帮人就是废物全家不得好死",
    "我反对地域歧视每个人都应被尊重",
    "河南人都是骗子出门小心",
    "请问残疾人补贴怎么申请",
    "你个蠢货脑子有病吧",
    "建议增加公交线路方便老人出行",
    "黑人都是寄生虫滚出去",
    "abcdefghijklmnopqrstuvwxyz0123456789",
)


def build_tiny_bert(path: Path, *, window: int = 16, seed: int = 0,
                    texts: Iterable[str] = TINY_TEXTS, multi_label: bool = False) -> Path:
    """Write a save_pretrained directory with a 2-layer, 32-wide BERT and a char vocabulary."""
    chars = sorted({ch for text in texts for ch in text.lower()})
    vocab = {tok: i for i, tok in enumerate([*SPECIALS, *chars])}
    tokenizer = BertTokenizer(vocab=vocab, do_lower_case=True, model_max_length=window)
    config = BertConfig(
        vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=64, pad_token_id=0,
        id2label={0: "safe", 1: "offensive"}, label2id={"safe": 0, "offensive": 1},
        problem_type="multi_label_classification" if multi_label else None,
    )
    torch.manual_seed(seed)
    model = BertForSequenceClassification(config).eval()
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def write_csv(path: Path, rows: Sequence[dict[str, object]], *, bom: bool = False) -> Path:
    """A CSV file with the rows' keys as header; `bom` writes UTF-8 with a BOM like COLD."""
    with path.open("w", encoding="utf-8-sig" if bom else "utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path
