"""Fine-tuning a sequence classifier from any local checkpoint (or from scratch, same shape).

One plain PyTorch loop rather than `Trainer`: seeded, dynamic padding, linear warm-up and
decay, early stopping on dev macro-F1, optional distillation from a teacher's logits. The best
epoch's weights are written with `save_pretrained` (fp16 by default: the shipped model must stay
under 25 MB) together with the tokenizer, `id2label` and a `training.json` that records the run.
"""

from __future__ import annotations

import json
import math
import random
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from moderation.classifier import pad_batch
from moderation.errors import ModelLoadError
from moderation.training.data import LabeledTexts
from moderation.training.metrics import macro_f1

DEFAULT_LABELS = ("safe", "offensive")


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a run; written to `training.json` beside the weights."""

    base: Path
    out: Path | None
    labels: tuple[str, ...] = DEFAULT_LABELS
    from_scratch: bool = False
    lr: float = 1e-4
    epochs: int = 5
    patience: int = 2
    batch_size: int = 32
    max_length: int = 128
    seed: int = 42
    warmup_ratio: float = 0.06
    weight_decay: float = 0.01
    distill_alpha: float = 0.5
    distill_temperature: float = 2.0
    save_dtype: str = "float16"
    device: str | None = None


@dataclass(frozen=True)
class TrainResult:
    best_epoch: int
    best_dev_macro_f1: float
    history: tuple[dict[str, float], ...]
    seconds: float
    out: Path | None
    model: torch.nn.Module = field(repr=False, compare=False)
    tokenizer: object = field(repr=False, compare=False)


def set_seed(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def pick_device(name: str | None) -> torch.device:
    if name:
        return torch.device(name)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def load_for_training(config: TrainConfig):
    """(model, tokenizer) from `config.base`; random init of the same shape when from_scratch."""
    from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

    id2label = dict(enumerate(config.labels))
    label2id = {v: k for k, v in id2label.items()}
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(config.base), local_files_only=True)
        if config.from_scratch:
            model_config = AutoConfig.from_pretrained(
                str(config.base), local_files_only=True, num_labels=len(config.labels),
                id2label=id2label, label2id=label2id)
            model = AutoModelForSequenceClassification.from_config(model_config)
        else:
            model = AutoModelForSequenceClassification.from_pretrained(
                str(config.base), local_files_only=True, num_labels=len(config.labels),
                id2label=id2label, label2id=label2id, ignore_mismatched_sizes=True)
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"Cannot load base model from {config.base}: {exc}") from exc
    return model.float(), tokenizer


def encode(tokenizer, texts: Sequence[str], max_length: int) -> list[list[int]]:
    """Token ids per text, truncated; padding happens per batch."""
    return tokenizer(list(texts), truncation=True, max_length=max_length)["input_ids"]


def _batches(n: int, batch_size: int, rng: random.Random | None) -> Iterator[list[int]]:
    order = list(range(n))
    if rng is not None:
        rng.shuffle(order)
    for start in range(0, n, batch_size):
        yield order[start : start + batch_size]


def warmup_linear_decay(optimizer: torch.optim.Optimizer, warmup: int,
                        total: int) -> torch.optim.lr_scheduler.LambdaLR:
    """Learning rate rising linearly over `warmup` steps, then falling linearly to 0 at
    `total` (fine-tuning and MLM adaptation both use it)."""

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / max(1, warmup)
        return max(0.0, (total - step) / max(1, total - warmup))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


@torch.inference_mode()
def predict_logits(model, ids: Sequence[list[int]], pad_id: int, device: torch.device,
                   batch_size: int = 128) -> np.ndarray:
    """Logits for pre-encoded texts, batched by length so padding stays small."""
    model.eval()
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    out = np.zeros((len(ids), model.config.num_labels), dtype=np.float32)
    for start in range(0, len(order), batch_size):
        pick = order[start : start + batch_size]
        input_ids, mask = pad_batch([ids[i] for i in pick], pad_id)
        logits = model(input_ids=input_ids.to(device), attention_mask=mask.to(device)).logits
        out[pick] = logits.float().cpu().numpy()
    return out


def train(config: TrainConfig, train_set: LabeledTexts, dev_set: LabeledTexts, *,
          teacher_logits: np.ndarray | None = None, progress: bool = True,
          notes: Mapping[str, object] | None = None) -> TrainResult:
    """Fine-tune, keep the epoch with the best dev macro-F1, save it if `config.out` is set
    (`notes`: more top-level entries for `training.json`, such as how the base was adapted)."""
    from tqdm.auto import tqdm

    set_seed(config.seed)
    device = pick_device(config.device)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
    model, tokenizer = load_for_training(config)
    model.to(device)
    pad_id = tokenizer.pad_token_id or 0
    train_ids = encode(tokenizer, train_set.texts, config.max_length)
    dev_ids = encode(tokenizer, dev_set.texts, config.max_length)
    labels = torch.tensor(train_set.labels, dtype=torch.long)
    teacher = torch.from_numpy(teacher_logits).float() if teacher_logits is not None else None

    no_decay = ("bias", "LayerNorm.weight", "LayerNorm.bias")
    groups = [
        {"params": [p for n, p in model.named_parameters() if not n.endswith(no_decay)],
         "weight_decay": config.weight_decay},
        {"params": [p for n, p in model.named_parameters() if n.endswith(no_decay)],
         "weight_decay": 0.0},
    ]
    optimizer = torch.optim.AdamW(groups, lr=config.lr, fused=device.type == "cuda")
    steps_per_epoch = math.ceil(len(train_ids) / config.batch_size)
    total = steps_per_epoch * config.epochs
    scheduler = warmup_linear_decay(optimizer, int(total * config.warmup_ratio), total)
    rng = random.Random(config.seed)
    history: list[dict[str, float]] = []
    best_f1, best_epoch, best_state, stale = -1.0, 0, None, 0
    started = time.perf_counter()
    for epoch in range(1, config.epochs + 1):
        model.train()
        running, seen = 0.0, 0
        bar = tqdm(list(_batches(len(train_ids), config.batch_size, rng)), disable=not progress,
                   desc=f"epoch {epoch}/{config.epochs}", file=sys.stderr, leave=False)
        for pick in bar:
            input_ids, mask = pad_batch([train_ids[i] for i in pick], pad_id)
            logits = model(input_ids=input_ids.to(device), attention_mask=mask.to(device)).logits
            target = labels[pick].to(device)
            loss = F.cross_entropy(logits, target)
            if teacher is not None:
                t = config.distill_temperature
                soft = F.kl_div(F.log_softmax(logits / t, -1),
                                F.softmax(teacher[pick].to(device) / t, -1),
                                reduction="batchmean") * t * t
                loss = config.distill_alpha * loss + (1 - config.distill_alpha) * soft
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            running += loss.item() * len(pick)
            seen += len(pick)
            bar.set_postfix(loss=f"{running / seen:.4f}")
        dev_pred = predict_logits(model, dev_ids, pad_id, device).argmax(1)
        dev_f1 = macro_f1(dev_set.labels, dev_pred.tolist(), len(config.labels))
        dev_acc = float((dev_pred == np.array(dev_set.labels)).mean())
        history.append({"epoch": epoch, "train_loss": round(running / max(1, seen), 5),
                        "dev_accuracy": round(dev_acc, 5), "dev_macro_f1": round(dev_f1, 5)})
        print(f"epoch {epoch}: loss {running / max(1, seen):.4f} dev acc {dev_acc:.4f} "
              f"macro-F1 {dev_f1:.4f}", file=sys.stderr)
        if dev_f1 > best_f1:
            best_f1, best_epoch, stale = dev_f1, epoch, 0
            best_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        else:
            stale += 1
            if stale >= config.patience:
                break
    model.load_state_dict(best_state)
    model.to("cpu").eval()
    seconds = time.perf_counter() - started
    result = TrainResult(best_epoch, round(best_f1, 5), tuple(history), round(seconds, 1),
                         config.out, model, tokenizer)
    if config.out is not None:
        save(result, config, train_set, dev_set, notes=notes)
    return result


def save(result: TrainResult, config: TrainConfig, train_set: LabeledTexts,
         dev_set: LabeledTexts, *, notes: Mapping[str, object] | None = None) -> None:
    """`save_pretrained` in the configured dtype, the tokenizer and a record of the run."""
    out = config.out
    assert out is not None
    out.mkdir(parents=True, exist_ok=True)
    model = result.model
    dtype = {"float16": torch.float16, "float32": torch.float32}[config.save_dtype]
    copy = type(model)(model.config)
    copy.load_state_dict(model.state_dict())
    copy.to(dtype).save_pretrained(out)
    # The classifier scores long texts in windows of the tokenizer's model_max_length: make
    # that the length the model was trained on.
    result.tokenizer.model_max_length = config.max_length
    result.tokenizer.save_pretrained(out)
    record = {
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(config).items()},
        "train": {"name": train_set.name, "n": len(train_set)},
        "dev": {"name": dev_set.name, "n": len(dev_set)},
        "best_epoch": result.best_epoch,
        "best_dev_macro_f1": result.best_dev_macro_f1,
        "history": list(result.history),
        "seconds": result.seconds,
        **(notes or {}),
    }
    (out / "training.json").write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n")
