"""`moderation model train` and `moderation model evaluate`.

This is the entry-point layer for the classifier: it reads `MODERATION_DATASETS` and
`MODERATION_MODEL` (library code never reads the environment), prints exactly one JSON object
on stdout and sends progress to stderr. Bad usage (a missing file, an unknown column, no model)
is one sentence on stderr and exit status 2.

`moderation/cli.py` registers this group (`moderation model ...`); it also runs on its own:
`python -m moderation.cli_model evaluate --dataset cold`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from moderation.errors import InputError, ModelLoadError

EVAL_CHUNK = 256
COUNTER_DEV = 400  # sentences per stance from the templates' held-out half


def datasets_dir(flag: str | None) -> Path:
    """--datasets, else MODERATION_DATASETS, else ../shared/datasets beside the repository."""
    from moderation.classifier import repo_root

    value = flag or os.environ.get("MODERATION_DATASETS")
    return Path(value) if value else repo_root().parent / "shared" / "datasets"


def model_dir(flag: str | None) -> Path | None:
    """--model, else MODERATION_MODEL, else the shipped default model.

    `default` names the shipped model here as it does for `check` and `serve`; `none` (which
    turns the model off there) also means the shipped one: there is nothing else to evaluate.
    """
    from moderation.classifier import default_model_path

    value = flag or os.environ.get("MODERATION_MODEL")
    if value and value.lower() not in ("none", "default"):
        return Path(value)
    return default_model_path()


def register(subparsers) -> None:
    """Add `model train` and `model evaluate` to the main parser's subcommands."""
    model = subparsers.add_parser("model", help="train and evaluate the text classifier")
    sub = model.add_subparsers(dest="model_command", required=True, metavar="COMMAND")

    ev = sub.add_parser("evaluate", help="score a labelled data set, print one JSON object",
                        description="Evaluate a classifier; prints one JSON object on stdout.")
    ev.add_argument("--model", help="checkpoint directory (default: MODERATION_MODEL, "
                    "else the shipped model)")
    source = ev.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", type=Path, help="labelled CSV file (UTF-8); a train.csv "
                        "beside it is used to report figures without train-overlapping texts")
    source.add_argument("--dataset", choices=("cold", "swsr", "counter"),
                        help="cold: COLD test; swsr: SWSR's held-out split (by weibo_id); "
                        "counter: the held-out half of the counter-speech templates (groups "
                        "and patterns training never saw)")
    ev.add_argument("--split", default="test", choices=("train", "dev", "test"),
                    help="COLD split for --dataset cold (default test)")
    ev.add_argument("--text-column", default="TEXT")
    ev.add_argument("--label-column", default="label")
    ev.add_argument("--datasets", help="datasets directory (default: MODERATION_DATASETS, "
                    "else ../shared/datasets)")
    ev.add_argument("--threads", type=int, default=None, help="torch threads")
    ev.add_argument("--batch-size", type=int, default=32)
    ev.add_argument("--quantize", action="store_true", help="int8 dynamic quantization")
    ev.set_defaults(func=evaluate_command)

    tr = sub.add_parser("train", help="fine-tune a checkpoint on labelled CSVs",
                        description="Fine-tune AutoModelForSequenceClassification; seeded, "
                        "early stopping on dev macro-F1, written with save_pretrained.")
    tr.add_argument("--base", type=Path, required=True, help="base checkpoint directory")
    tr.add_argument("--data", type=Path, default=None,
                    help="directory with train.csv and dev.csv (default: the COLD data set)")
    tr.add_argument("--datasets", help="datasets directory for the default --data")
    tr.add_argument("--out", type=Path, required=True, help="output directory")
    tr.add_argument("--text-column", default="TEXT")
    tr.add_argument("--label-column", default="label")
    tr.add_argument("--labels", default="safe,offensive", help="label names for ids 0,1,...")
    tr.add_argument("--from-scratch", action="store_true",
                    help="random initialisation of the base's shape (the baseline)")
    tr.add_argument("--mlm-epochs", type=int, default=0,
                    help="masked-LM adaptation epochs on the training texts first")
    tr.add_argument("--mlm-lr", type=float, default=2e-4)
    tr.add_argument("--mlm-seed", type=int, default=42)
    tr.add_argument("--mlm-swsr", action="store_true",
                    help="add SWSR's training-split comments and its posts to the MLM text")
    tr.add_argument("--civic", type=int, default=0, metavar="N",
                    help="add N template civic complaints (safe) and N/2 insults (offensive) "
                    "to the training set")
    tr.add_argument("--counter", type=int, default=0, metavar="N",
                    help="add N template sentences opposing or discussing prejudice about "
                    "race, region and gender (safe) and N attacks on the same groups "
                    "(offensive) to the training set")
    tr.add_argument("--swsr-safe", action="store_true",
                    help="add SWSR's non-sexist training-split comments (safe) to the "
                    "training set")
    tr.add_argument("--bias-talk", type=int, default=0, metavar="N",
                    help="repeat the safe training comments that discuss prejudice "
                    "(歧视, 偏见, 地域黑, ...) N more times")
    tr.add_argument("--checkpoint-dir", type=Path, default=None,
                    help="save the run's state here as it goes and resume from it when "
                    "rerun with the same settings")
    tr.add_argument("--checkpoint-every", type=int, default=200, metavar="STEPS")
    tr.add_argument("--max-steps", type=int, default=None, metavar="STEPS",
                    help="with --checkpoint-dir: stop after this many steps in this call "
                    "(a long CPU run in chunks); rerun the same command to go on")
    tr.add_argument("--bucket-by-length", action="store_true",
                    help="batch texts of similar length together (less padding: about "
                    "twice as fast on a CPU)")
    tr.add_argument("--lr", type=float, default=1e-4)
    tr.add_argument("--epochs", type=int, default=6)
    tr.add_argument("--patience", type=int, default=2)
    tr.add_argument("--batch-size", type=int, default=32)
    tr.add_argument("--max-length", type=int, default=128)
    tr.add_argument("--seed", type=int, default=1)
    tr.add_argument("--device", default=None, help="cpu or cuda (default: cuda if present)")
    tr.add_argument("--threads", type=int, default=None, help="torch threads on CPU")
    tr.add_argument("--fp32", action="store_true", help="save fp32 weights (default fp16)")
    tr.set_defaults(func=train_command)


def _fail(message: str) -> int:
    print(f"moderation model: {message}", file=sys.stderr)
    return 2


def _load_eval_data(args) -> tuple[Any, list[str] | None]:
    from moderation.training import data as d

    if args.dataset == "counter":
        from moderation.training.counter import counter_examples

        return counter_examples(COUNTER_DEV, COUNTER_DEV, part="dev"), None
    root = datasets_dir(args.datasets)
    if args.dataset == "swsr":
        return d.swsr_split(root)["heldout"], None
    if args.dataset == "cold":
        train_texts = None if args.split == "train" else list(d.read_cold(root, "train").texts)
        return d.read_cold(root, args.split), train_texts
    data = d.read_csv(args.data, text_column=args.text_column, label_column=args.label_column)
    sibling = args.data.parent / "train.csv"
    train_texts = None
    if sibling.is_file() and sibling.resolve() != args.data.resolve():
        train_texts = list(d.read_csv(sibling, text_column=args.text_column,
                                      label_column=args.label_column).texts)
    return data, train_texts


def evaluate_command(args) -> int:
    """Handler of `moderation model evaluate`."""
    from tqdm.auto import tqdm

    from moderation.classifier import Classifier
    from moderation.training.evaluate import evaluation

    path = model_dir(args.model)
    if path is None:
        return _fail("no model is shipped in models/ and none was given; pass --model DIR.")
    try:
        data, train_texts = _load_eval_data(args)
        classifier = Classifier.load(path, threads=args.threads, quantize=args.quantize,
                                     batch_size=args.batch_size)
    except (InputError, ModelLoadError) as exc:
        return _fail(exc.message)
    started = time.perf_counter()
    predicted: list[int] = []
    with tqdm(total=len(data), desc="evaluate", unit="text", file=sys.stderr) as bar:
        for start in range(0, len(data), EVAL_CHUNK):
            chunk = data.texts[start : start + EVAL_CHUNK]
            for scores in classifier.predict(chunk):
                predicted.append(max(range(len(classifier.labels)),
                                     key=lambda k, s=scores: s[classifier.labels[k]]))
            bar.update(len(chunk))
    seconds = time.perf_counter() - started
    try:
        result = evaluation(data, predicted, classifier.labels, train_texts=train_texts)
    except ValueError as exc:
        return _fail(f"{exc}.")
    result = {"model": classifier.name, "quantized": args.quantize, **result,
              "seconds": round(seconds, 1)}
    if data.extra:
        result["split"] = data.extra
    print(json.dumps(result, ensure_ascii=False))
    return 0


def train_command(args) -> int:
    """Handler of `moderation model train`."""
    import torch

    from moderation.training import data as d
    from moderation.training import mlm
    from moderation.training.train import TrainConfig, TrainingPaused, train

    data_dir = args.data or datasets_dir(args.datasets) / "cold"
    if not args.base.is_dir():
        return _fail(f"base model directory {args.base} does not exist.")
    if args.max_steps is not None and (args.checkpoint_dir is None or args.max_steps < 1):
        return _fail("--max-steps needs --checkpoint-dir and a positive number of steps.")
    if args.bias_talk < 0:
        return _fail("--bias-talk needs zero or more copies.")
    try:
        train_set = d.read_csv(data_dir / "train.csv", text_column=args.text_column,
                               label_column=args.label_column)
        dev_set = d.read_csv(data_dir / "dev.csv", text_column=args.text_column,
                             label_column=args.label_column)
        extra_texts: list[str] = []
        if args.mlm_swsr and args.mlm_epochs > 0:
            root = datasets_dir(args.datasets)
            extra_texts = list(d.swsr_split(root)["train"].texts) + d.read_swsr_posts(root)
        swsr_safe = None
        if args.swsr_safe:
            swsr_train = d.swsr_split(datasets_dir(args.datasets))["train"]
            swsr_safe = swsr_train.subset([y == 0 for y in swsr_train.labels],
                                          name="swsr/train-non-sexist")
    except InputError as exc:
        return _fail(exc.message)
    mlm_texts = list(train_set.texts) + list(dev_set.texts) + extra_texts
    if args.bias_talk > 0:
        from moderation.training.bias_talk import repeat_bias_talk

        train_set = repeat_bias_talk(train_set, args.bias_talk)
    if args.civic > 0:
        from moderation.training.civic import civic_examples

        train_set = d.concat(train_set, civic_examples(args.civic, args.civic // 2))
    if args.counter > 0:
        from moderation.training.counter import counter_examples

        train_set = d.concat(train_set, counter_examples(args.counter, args.counter))
    if swsr_safe is not None:
        train_set = d.concat(train_set, swsr_safe)
    if args.threads:
        torch.set_num_threads(args.threads)
    adapt_base = args.mlm_epochs > 0 and not args.from_scratch
    notes = None
    if adapt_base:  # recorded in training.json beside the fine-tuning settings
        notes = {"mlm": {"from": str(args.base), "epochs": args.mlm_epochs, "lr": args.mlm_lr,
                         "seed": args.mlm_seed, "texts": len(mlm_texts), "swsr": args.mlm_swsr}}
    with tempfile.TemporaryDirectory(prefix="moderation-mlm-") as scratch_dir:
        base = args.base
        if adapt_base:
            # The adapted encoder is an intermediate: kept out of --out's folder (models/),
            # in the checkpoint directory when there is one, so a resumed run finds it again.
            holder = args.checkpoint_dir or Path(scratch_dir)
            base = holder / "mlm-base"
            if not (base / "config.json").is_file():
                print(f"mlm: adapting {args.base} for {args.mlm_epochs} epochs",
                      file=sys.stderr)
                mlm.adapt(args.base, mlm_texts, base,
                          epochs=args.mlm_epochs, lr=args.mlm_lr, seed=args.mlm_seed,
                          device=args.device, max_length=args.max_length)
        config = TrainConfig(
            base=base, out=args.out, labels=tuple(args.labels.split(",")),
            from_scratch=args.from_scratch, lr=args.lr, epochs=args.epochs,
            patience=args.patience, batch_size=args.batch_size, max_length=args.max_length,
            seed=args.seed, save_dtype="float32" if args.fp32 else "float16",
            device=args.device, checkpoint_dir=args.checkpoint_dir,
            checkpoint_every=args.checkpoint_every, bucket_by_length=args.bucket_by_length)
        try:
            result = train(config, train_set, dev_set, notes=notes, max_steps=args.max_steps)
        except ModelLoadError as exc:
            return _fail(exc.message)
        except TrainingPaused as paused:
            print(f"train: {paused}", file=sys.stderr)
            print(json.dumps({"paused": True, "checkpoint": str(paused.checkpoint),
                              "epoch": paused.epoch, "position": paused.position,
                              "steps": paused.steps}))
            return 0
    print(json.dumps({"out": str(args.out), "best_epoch": result.best_epoch,
                      "best_dev_macro_f1": result.best_dev_macro_f1,
                      "history": list(result.history), "seconds": result.seconds}))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the `model` group on its own (`python -m moderation.cli_model ...`)."""
    parser = argparse.ArgumentParser(prog="moderation")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["model", *(sys.argv[1:] if argv is None else argv)])
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
