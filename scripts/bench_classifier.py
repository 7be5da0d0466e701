"""Classifier speed on CPU: the shipped model against today's previous model and a from-scratch
model of the same shape.

Prints, in one run, for each of {shipped, previous, from-scratch baseline} x {fp32, int8
dynamic}:
p50/p99 latency of one 80-character comment on 1 thread, comments/s at batch sizes 1, 8 and 32
on 2 threads, and peak RSS (each variant runs in its own process, so RSS is that model's).
The baseline has random weights: latency depends on shape, not on values, so it answers
"does pretraining cost speed?" (it must not) without shipping a second model.
"previous" is the model the service served before the shipped one (`--against`, default
models/cold-l4-h256 when the default has moved on): a new model must be no slower than it.
Target (issue 3): one comment in <= 10 ms on one CPU core.

    python scripts/bench_classifier.py [--model DIR] [--against DIR] [--iterations 300]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

#: 80 characters of an ordinary portal comment.
COMMENT = ("我家小区门口的路灯已经坏了一个多月，晚上出行很不方便，老人和孩子都容易摔倒，"
           "多次打电话给物业都说没有办法，希望有关部门能够尽快派人来维修一下，真心谢谢你们的帮助！")[:80]
assert len(COMMENT) == 80
TARGET_MS = 10.0
PREVIOUS_MODEL = ROOT / "models" / "cold-l4-h256"
SECONDS_PER_ROUND = 1.0
ROUNDS = 3


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(model_dir: Path, quantize: bool, iterations: int) -> dict[str, float]:
    """Run inside a fresh process: load, time, report."""
    import torch

    from moderation.classifier import Classifier

    before = rss_mb()
    clf = Classifier.load(model_dir, threads=1, quantize=quantize, batch_size=32)
    clf.predict([COMMENT])
    loaded = rss_mb()
    for _ in range(20):
        clf.predict([COMMENT])
    times = []
    for _ in range(iterations):
        start = time.perf_counter()
        clf.predict([COMMENT])
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    out = {"p50_ms": statistics.median(times),
           "p99_ms": times[min(len(times) - 1, int(len(times) * 0.99))]}
    torch.set_num_threads(2)
    for batch in (1, 8, 32):
        texts = [COMMENT] * batch
        clf.predict(texts)
        rates = []
        for _ in range(ROUNDS):
            count, start = 0, time.perf_counter()
            while time.perf_counter() - start < SECONDS_PER_ROUND:
                clf.predict(texts)
                count += batch
            rates.append(count / (time.perf_counter() - start))
        out[f"per_s_b{batch}"] = max(rates)  # best round: other processes only slow us down
    out["rss_before_load_mb"] = before
    out["rss_loaded_mb"] = loaded
    out["rss_peak_mb"] = rss_mb()
    out["name"] = clf.name
    return out


def build_scratch(model_dir: Path, dest: Path) -> Path:
    """A random-init model of the shipped model's shape, saved the same way (fp16)."""
    from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

    config = AutoConfig.from_pretrained(str(model_dir), local_files_only=True)
    model = AutoModelForSequenceClassification.from_config(config)
    model.half().save_pretrained(dest)
    AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True).save_pretrained(dest)
    return dest


def main(argv: list[str] | None = None) -> int:
    from moderation.classifier import default_model_path

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=default_model_path())
    parser.add_argument("--against", type=Path, default=PREVIOUS_MODEL,
                        help="the previous model to compare with (skipped when it is --model)")
    parser.add_argument("--iterations", type=int, default=300)
    parser.add_argument("--child", nargs=2, metavar=("DIR", "QUANTIZE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(measure(Path(args.child[0]), args.child[1] == "1", args.iterations)))
        return 0
    if args.model is None:
        print("bench: no model shipped; pass --model DIR", file=sys.stderr)
        return 2

    import torch

    print(f"torch {torch.__version__}, {len(COMMENT)}-character comment, "
          f"{args.iterations} timed calls, {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.2f} at start", file=sys.stderr)
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        scratch = build_scratch(args.model, Path(tmp) / "scratch-same-shape")
        variants = [("shipped", args.model)]
        if (args.against and (args.against / "config.json").is_file()
                and args.against.resolve() != args.model.resolve()):
            variants.append(("previous", args.against))
        variants.append(("scratch", scratch))
        for label, path in variants:
            for quantize in (False, True):
                cmd = [sys.executable, __file__, "--child", str(path), str(int(quantize)),
                       "--iterations", str(args.iterations)]
                done = subprocess.run(cmd, check=True, capture_output=True, text=True)
                rows[(label, quantize)] = json.loads(done.stdout.strip().splitlines()[-1])

    header = (f"{'model':<34} {'p50 ms':>7} {'p99 ms':>7} {'b1/s':>7} {'b8/s':>7} "
              f"{'b32/s':>7} {'RSS MB':>7} {'model MB':>8}")
    print(header)
    print("-" * len(header))
    for (label, quantize), r in rows.items():
        name = f"{label} {'int8' if quantize else 'fp32'} ({r['name'].split('@')[0]})"
        print(f"{name:<34} {r['p50_ms']:7.2f} {r['p99_ms']:7.2f} {r['per_s_b1']:7.0f} "
              f"{r['per_s_b8']:7.0f} {r['per_s_b32']:7.0f} {r['rss_peak_mb']:7.0f} "
              f"{r['rss_loaded_mb'] - r['rss_before_load_mb']:8.0f}")
    print()
    for quantize in (False, True):
        kind = "int8" if quantize else "fp32"
        s, b = rows[("shipped", quantize)], rows[("scratch", quantize)]
        print(f"{kind}: shipped/scratch p50 latency ratio {s['p50_ms'] / b['p50_ms']:.2f} "
              f"(<= ~1.0: pretraining costs no speed); one comment "
              f"{s['p50_ms']:.2f} ms vs target {TARGET_MS:.0f} ms "
              f"({'met' if s['p50_ms'] <= TARGET_MS else 'MISSED'})")
        if ("previous", quantize) in rows:
            p = rows[("previous", quantize)]
            print(f"{kind}: shipped/previous p50 latency ratio {s['p50_ms'] / p['p50_ms']:.2f}, "
                  f"batch 32 throughput ratio {s['per_s_b32'] / p['per_s_b32']:.2f} "
                  f"(target: latency ratio <= ~1.0, no slower than the previous model)")
    fp, q = rows[("shipped", False)], rows[("shipped", True)]
    print(f"int8/fp32 speed-up: p50 x{fp['p50_ms'] / q['p50_ms']:.2f}, "
          f"batch 32 x{q['per_s_b32'] / fp['per_s_b32']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
