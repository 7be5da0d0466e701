"""Masked-language-model adaptation of an encoder on raw in-domain text.

The recovered base encoder was fine-tuned on thesis paragraphs, far from social-media comments;
a few epochs of MLM on the datasets' raw text move it back towards the target domain before
fine-tuning. The wheel carries no MLM head, so a fresh one is trained alongside (its decoder is
tied to the word embeddings). The adapted encoder is written as a `BertModel`-style checkpoint
with the base's pooler kept, so `AutoModelForSequenceClassification` loads it like the base.
"""

from __future__ import annotations

import math
import random
import sys
from collections.abc import Sequence
from pathlib import Path

import torch

from moderation.classifier import pad_batch
from moderation.training.train import _batches, pick_device, set_seed, warmup_linear_decay


def mask_tokens(input_ids: torch.Tensor, mask: torch.Tensor, tokenizer, probability: float,
                generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT's 80/10/10 masking over non-special, non-padding tokens."""
    labels = input_ids.clone()
    special = torch.isin(input_ids, torch.tensor(tokenizer.all_special_ids)) | (mask == 0)
    chosen = (torch.rand(input_ids.shape, generator=generator) < probability) & ~special
    labels[~chosen] = -100
    replace = chosen & (torch.rand(input_ids.shape, generator=generator) < 0.8)
    masked = input_ids.clone()
    masked[replace] = tokenizer.mask_token_id
    randomize = chosen & ~replace & (torch.rand(input_ids.shape, generator=generator) < 0.5)
    noise = torch.randint(len(tokenizer), input_ids.shape, generator=generator)
    masked[randomize] = noise[randomize]
    return masked, labels


def adapt(base: Path, texts: Sequence[str], out: Path, *, epochs: int = 3, lr: float = 1e-4,
          batch_size: int = 64, max_length: int = 128, probability: float = 0.15,
          seed: int = 42, device: str | None = None, progress: bool = True) -> Path:
    """Run MLM on `texts` starting from `base`; write the adapted encoder to `out`."""
    from tqdm.auto import tqdm
    from transformers import AutoModel, AutoModelForMaskedLM, AutoTokenizer

    set_seed(seed)
    dev = pick_device(device)
    tokenizer = AutoTokenizer.from_pretrained(str(base), local_files_only=True)
    model = AutoModelForMaskedLM.from_pretrained(str(base), local_files_only=True).float().to(dev)
    ids = [x for x in tokenizer(list(texts), truncation=True, max_length=max_length)["input_ids"]
           if len(x) > 4]
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    total = math.ceil(len(ids) / batch_size) * epochs
    scheduler = warmup_linear_decay(optimizer, max(1, total // 20), total)
    rng = random.Random(seed)
    gen = torch.Generator().manual_seed(seed)
    model.train()
    for epoch in range(1, epochs + 1):
        running, steps = 0.0, 0
        bar = tqdm(list(_batches(len(ids), batch_size, rng)), disable=not progress,
                   desc=f"mlm {epoch}/{epochs}", file=sys.stderr, leave=False)
        for pick in bar:
            input_ids, mask = pad_batch([ids[i] for i in pick], tokenizer.pad_token_id or 0)
            masked, labels = mask_tokens(input_ids, mask, tokenizer, probability, gen)
            loss = model(input_ids=masked.to(dev), attention_mask=mask.to(dev),
                         labels=labels.to(dev)).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            running += loss.item()
            steps += 1
            bar.set_postfix(loss=f"{running / steps:.3f}")
        print(f"mlm epoch {epoch}: loss {running / max(1, steps):.4f}", file=sys.stderr)
    encoder = AutoModel.from_pretrained(str(base), local_files_only=True).float()
    missing, _ = encoder.load_state_dict(model.base_model.state_dict(), strict=False)
    if any(not k.startswith("pooler.") for k in missing):
        raise RuntimeError(f"adapted encoder lacks weights: {missing}")
    out.mkdir(parents=True, exist_ok=True)
    encoder.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out
