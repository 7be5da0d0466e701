"""Average the weights of fine-tuned checkpoints of one shape (a "model soup") and save fp16.

The shipped model is the uniform soup of two runs that differ only in their seed: averaging
fine-tunes that start from the same pretrained weights costs nothing at inference time and
gave the best dev macro-F1 of the candidates tried (see models/cold-l4-h256/README.md).
Training itself is `moderation model train` (or `python -m moderation.cli_model train`).

    python scripts/train_classifier.py soup build/s1 build/s2 --out models/cold-l4-h256
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch


def soup(members: list[Path], out: Path, *, max_length: int = 128) -> Path:
    """Uniform average of the members' weights, written fp16 with the first member's tokenizer."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    models = [AutoModelForSequenceClassification.from_pretrained(str(m), local_files_only=True)
              .float() for m in members]
    states = [m.state_dict() for m in models]
    if any(s.keys() != states[0].keys() for s in states):
        raise SystemExit("checkpoints differ in shape; a soup needs one architecture")
    model = models[0]
    model.load_state_dict({k: sum(s[k] for s in states) / len(states) for k in states[0]})
    out.mkdir(parents=True, exist_ok=True)
    model.to(torch.float16).save_pretrained(out)
    tokenizer = AutoTokenizer.from_pretrained(str(members[0]), local_files_only=True)
    tokenizer.model_max_length = max_length
    tokenizer.save_pretrained(out)
    (out / "soup.json").write_text(json.dumps({"members": [str(m) for m in members]}, indent=2)
                                   + "\n")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("soup", help="average checkpoints")
    p.add_argument("members", type=Path, nargs="+")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--max-length", type=int, default=128)
    args = parser.parse_args(argv)
    soup(args.members, args.out, max_length=args.max_length)
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
