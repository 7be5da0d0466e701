"""Fine-tuning a sequence classifier from any local checkpoint (or from scratch, same shape).

One plain PyTorch loop rather than `Trainer`: seeded, dynamic padding, linear warm-up and
decay, early stopping on dev macro-F1, optional distillation from a teacher's logits. The best
epoch's weights are written with `save_pretrained` (fp16 by default: the shipped model must stay
under 25 MB) together with the tokenizer, `id2label` and a `training.json` that records the run.

On a 2-core CPU an epoch of a bigger encoder takes hours and a session ends when it ends, so
with `checkpoint_dir` set the loop saves everything it needs to go on (weights, optimizer,
scheduler, random states, the epoch's batch order and position, the best epoch so far) every
`checkpoint_every` steps and at each epoch's end, and a rerun with the same settings and data
resumes where the last checkpoint left off.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
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
    checkpoint_dir: Path | None = None
    checkpoint_every: int = 200
    bucket_by_length: bool = False


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


BUCKET_BATCHES = 50


def _bucketed_batches(lengths: Sequence[int], batch_size: int,
                      rng: random.Random) -> list[list[int]]:
    """Shuffled batches of similar-length texts: a batch pads to its longest text, and on a
    CPU padding is most of the cost when short comments share a batch with long posts. The
    shuffle is kept at two levels: which texts meet in a pool of BUCKET_BATCHES batches, and
    the order of the batches."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    pool = batch_size * BUCKET_BATCHES
    batches: list[list[int]] = []
    for start in range(0, len(order), pool):
        chunk = sorted(order[start : start + pool], key=lambda i: lengths[i])
        batches.extend(chunk[k : k + batch_size] for k in range(0, len(chunk), batch_size))
    rng.shuffle(batches)
    return batches


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


class TrainingPaused(Exception):
    """`max_steps` were done in this call; the run's state is in the checkpoint."""

    def __init__(self, checkpoint: Path, epoch: int, position: int, steps: int) -> None:
        super().__init__(f"paused after {steps} steps (epoch {epoch}, batch {position}); "
                         f"rerun to resume from {checkpoint}")
        self.checkpoint, self.epoch, self.position, self.steps = (checkpoint, epoch, position,
                                                                  steps)


def train(config: TrainConfig, train_set: LabeledTexts, dev_set: LabeledTexts, *,
          teacher_logits: np.ndarray | None = None, progress: bool = True,
          notes: Mapping[str, object] | None = None,
          max_steps: int | None = None) -> TrainResult:
    """Fine-tune, keep the epoch with the best dev macro-F1, save it if `config.out` is set
    (`notes`: more top-level entries for `training.json`, such as how the base was adapted).

    With `max_steps` (and a checkpoint directory) the call does at most that many steps, saves
    a checkpoint and raises `TrainingPaused`: a long CPU run done in chunks that each fit in a
    session."""
    if max_steps is not None and config.checkpoint_dir is None:
        raise ValueError("max_steps needs a checkpoint directory to resume from")
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
    state = TrainState()
    fingerprint = run_fingerprint(config, train_set, dev_set)
    if config.checkpoint_dir is not None:
        state = resume(config.checkpoint_dir, fingerprint, model, optimizer, scheduler, rng,
                       device) or state
    started = time.perf_counter() - state.seconds
    steps = 0
    while state.epoch < config.epochs and state.stale < config.patience:
        if max_steps is not None and steps >= max_steps:
            raise TrainingPaused(config.checkpoint_dir, state.epoch + 1, 0, steps)
        epoch = state.epoch + 1
        if not state.order:
            state.order = (
                _bucketed_batches([len(x) for x in train_ids], config.batch_size, rng)
                if config.bucket_by_length
                else list(_batches(len(train_ids), config.batch_size, rng)))
        model.train()
        bar = tqdm(total=len(state.order), initial=state.position, disable=not progress,
                   desc=f"epoch {epoch}/{config.epochs}", file=sys.stderr, leave=False)
        for pick in state.order[state.position:]:
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
            state.running += loss.item() * len(pick)
            state.seen += len(pick)
            state.position += 1
            steps += 1
            bar.update(1)
            bar.set_postfix(loss=f"{state.running / state.seen:.4f}")
            mid_epoch = state.position < len(state.order)
            pause = mid_epoch and max_steps is not None and steps >= max_steps
            if config.checkpoint_dir is not None and mid_epoch and (
                    pause or state.position % config.checkpoint_every == 0):
                state.seconds = time.perf_counter() - started
                checkpoint(config.checkpoint_dir, fingerprint, state, model, optimizer,
                           scheduler, rng)
            if pause:
                bar.close()
                raise TrainingPaused(config.checkpoint_dir, epoch, state.position, steps)
        bar.close()
        dev_pred = predict_logits(model, dev_ids, pad_id, device).argmax(1)
        dev_f1 = macro_f1(dev_set.labels, dev_pred.tolist(), len(config.labels))
        dev_acc = float((dev_pred == np.array(dev_set.labels)).mean())
        train_loss = state.running / max(1, state.seen)
        state.history.append({"epoch": epoch, "train_loss": round(train_loss, 5),
                              "dev_accuracy": round(dev_acc, 5), "dev_macro_f1": round(dev_f1, 5)})
        print(f"epoch {epoch}: loss {train_loss:.4f} dev acc {dev_acc:.4f} "
              f"macro-F1 {dev_f1:.4f}", file=sys.stderr)
        if dev_f1 > state.best_f1:
            state.best_f1, state.best_epoch, state.stale = dev_f1, epoch, 0
            state.best_state = {k: v.detach().cpu().clone()
                                for k, v in model.state_dict().items()}
        else:
            state.stale += 1
        state.epoch, state.order, state.position, state.running, state.seen = epoch, [], 0, 0.0, 0
        if config.checkpoint_dir is not None:
            state.seconds = time.perf_counter() - started
            checkpoint(config.checkpoint_dir, fingerprint, state, model, optimizer, scheduler,
                       rng)
    best_state, best_f1, best_epoch, history = (state.best_state, state.best_f1,
                                                state.best_epoch, state.history)
    model.load_state_dict(best_state)
    model.to("cpu").eval()
    seconds = time.perf_counter() - started
    result = TrainResult(best_epoch, round(best_f1, 5), tuple(history), round(seconds, 1),
                         config.out, model, tokenizer)
    if config.out is not None:
        save(result, config, train_set, dev_set, notes=notes)
    return result


@dataclass
class TrainState:
    """Where a run stands: what a checkpoint holds besides the weights and optimizer."""

    epoch: int = 0                      # epochs finished
    order: list[list[int]] = field(default_factory=list)  # this epoch's batches
    position: int = 0                   # batches of `order` done
    running: float = 0.0                # this epoch's summed loss
    seen: int = 0                       # this epoch's examples
    stale: int = 0                      # epochs since the best
    best_f1: float = -1.0
    best_epoch: int = 0
    best_state: dict[str, torch.Tensor] | None = None
    history: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0


CHECKPOINT_FILE = "checkpoint.pt"


def run_fingerprint(config: TrainConfig, train_set: LabeledTexts, dev_set: LabeledTexts) -> str:
    """What must not change between a run and its resumption: every setting that shapes the
    optimisation, and the exact training and dev rows."""
    digest = hashlib.sha256()
    settings = {k: str(v) for k, v in asdict(config).items()
                if k not in ("out", "device", "checkpoint_dir", "checkpoint_every",
                             "save_dtype")}
    digest.update(json.dumps(settings, sort_keys=True).encode())
    for part in (train_set, dev_set):
        for text, label in zip(part.texts, part.labels, strict=True):
            digest.update(f"{label}\t{text}\n".encode())
    return digest.hexdigest()


def checkpoint(directory: Path, fingerprint: str, state: TrainState, model, optimizer,
               scheduler, rng: random.Random) -> None:
    """Write the run's state atomically (a crash mid-write leaves the previous checkpoint)."""
    directory.mkdir(parents=True, exist_ok=True)
    payload = {
        "fingerprint": fingerprint,
        "state": {k: v for k, v in asdict(state).items() if k != "best_state"},
        "best_state": state.best_state,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "python_rng": rng.getstate(),
        "torch_rng": torch.get_rng_state(),
    }
    tmp = directory / (CHECKPOINT_FILE + ".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, directory / CHECKPOINT_FILE)


def resume(directory: Path, fingerprint: str, model, optimizer, scheduler,
           rng: random.Random, device: torch.device) -> TrainState | None:
    """Load the checkpoint in `directory` into the model, optimizer, scheduler and rng; None
    when there is none. A checkpoint of other settings or data is refused, not mixed in."""
    path = directory / CHECKPOINT_FILE
    if not path.is_file():
        return None
    payload = torch.load(path, map_location="cpu", weights_only=False)
    if payload.get("fingerprint") != fingerprint:
        raise ModelLoadError(f"The checkpoint in {directory} belongs to a run with other "
                             "settings or data; use another --checkpoint-dir or delete it.")
    model.load_state_dict(payload["model"])
    model.to(device)
    optimizer.load_state_dict(payload["optimizer"])
    scheduler.load_state_dict(payload["scheduler"])
    rng.setstate(payload["python_rng"])
    torch.set_rng_state(payload["torch_rng"])
    state = TrainState(**payload["state"], best_state=payload["best_state"])
    print(f"resuming from {path}: epoch {state.epoch + 1}, batch {state.position}",
          file=sys.stderr)
    return state


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
