"""Benchmark the lexicon filter stage against raw pyahocorasick on the same text.

Builds a lexicon from the public houbb list (about 64k terms; read from the datasets
directory, never copied into the project), takes Chinese text from the COLD and SWSR
datasets (repeated to at least 10 MB) and 100k comments of about 80 characters, and prints
in one run:

- raw `Automaton.iter` throughput on already-normalized text (the baseline),
- our whole filter stage (normalize + match + allow-list + word-mode + spans back to the
  original) on the original text, and the ratio of the two (target >= 0.5),
- microseconds per comment for the 64k list and for the shipped lexicon with the evasion
  layer on (pinyin/homophone view, split spellings, Latin word edges; target <= 40 us) and,
  for comparison, off.

Each figure is the best of three runs, raw and ours alike.

Usage: .venv/bin/python scripts/bench_filter.py [--datasets DIR] [--mb 10] [--comments 100000]
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

import ahocorasick

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from moderation.cli_model import datasets_dir  # noqa: E402
from moderation.lexicon import Lexicon, Term  # noqa: E402
from moderation.normalize import normalize, normalize_term, warm_up  # noqa: E402


def read_texts(datasets: Path) -> list[str]:
    texts: list[str] = []
    for split in ("train", "dev", "test"):
        with open(datasets / "cold" / f"{split}.csv", encoding="utf-8-sig", newline="") as fh:
            texts.extend(row["TEXT"] for row in csv.DictReader(fh))
    with open(datasets / "swsr" / "SexComment.csv", encoding="utf-8", newline="") as fh:
        texts.extend(row["comment_text"] for row in csv.DictReader(fh))
    return [t for t in texts if t]


def public_lexicon(datasets: Path) -> Lexicon:
    path = datasets / "lexicons" / "houbb-sensitive-word" / "sensitive_word_dict.txt"
    terms: dict[str, Term] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        word = line.strip()
        key = normalize_term(word)
        if key and key not in terms:
            terms[key] = Term(word, key, "other", "review")
    allow_path = path.with_name("sensitive_word_allow.txt")
    allow = [w.strip() for w in allow_path.read_text(encoding="utf-8").splitlines() if w.strip()]
    return Lexicon(list(terms.values()), allow)


def raw_automaton(lexicon: Lexicon) -> ahocorasick.Automaton:
    automaton = ahocorasick.Automaton()
    for term in lexicon.terms:
        automaton.add_word(term.key, term.key)
    automaton.make_automaton()
    return automaton


REPEATS = 3


def time_it(fn, *args) -> tuple[float, int]:  # noqa: ANN001
    """Best of REPEATS runs: the least disturbed by whatever else shares the cores."""
    best = float("inf")
    count = 0
    for _ in range(REPEATS):
        start = time.perf_counter()
        count = fn(*args)
        best = min(best, time.perf_counter() - start)
    return best, count


def run_raw(automaton: ahocorasick.Automaton, docs: list[str]) -> int:
    n = 0
    for doc in docs:
        for _ in automaton.iter(doc):
            n += 1
    return n


def run_filter(lexicon: Lexicon, docs: list[str]) -> int:
    n = 0
    for doc in docs:
        n += len(lexicon.match(doc).hits)
    return n


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--datasets",
        type=Path,
        default=datasets_dir(None),
    )
    parser.add_argument("--mb", type=float, default=10.0, help="MB of text for throughput")
    parser.add_argument("--comments", type=int, default=100_000)
    args = parser.parse_args()
    if not (args.datasets / "cold").is_dir():
        print(
            f"bench_filter: no datasets at {args.datasets} (set MODERATION_DATASETS)",
            file=sys.stderr,
        )
        return 2

    warm_up()
    texts = read_texts(args.datasets)
    t0 = time.perf_counter()
    public = public_lexicon(args.datasets)
    print(f"public lexicon: {len(public.terms)} terms, built in {time.perf_counter() - t0:.2f} s")
    shipped = Lexicon.load(ROOT / "lexicons")
    print(f"shipped lexicon: {len(shipped.terms)} terms")

    # Documents of about 2 KB each, repeated up to the requested size.
    target = int(args.mb * 1_000_000)
    docs: list[str] = []
    size = 0
    buf: list[str] = []
    i = 0
    while size < target:
        t = texts[i % len(texts)]
        i += 1
        buf.append(t)
        if sum(len(b) for b in buf) > 700:
            doc = "\n".join(buf)
            docs.append(doc)
            size += len(doc.encode("utf-8"))
            buf = []
    normalized_docs = [normalize(d).text for d in docs]
    mb = size / 1_000_000

    raw = raw_automaton(public)
    raw_s, raw_n = time_it(run_raw, raw, normalized_docs)
    ours_s, ours_n = time_it(run_filter, public, docs)
    print(f"\ntext: {mb:.1f} MB in {len(docs)} documents")
    print(f"raw Automaton.iter (pre-normalized): {mb / raw_s:8.2f} MB/s  ({raw_n} matches)")
    print(f"filter stage (normalize+match+spans): {mb / ours_s:8.2f} MB/s  ({ours_n} hits)")
    print(f"ratio filter/raw: {raw_s / ours_s:.2f}  (target >= 0.5)")

    comments = []
    i = 0
    while len(comments) < args.comments:
        t = texts[i % len(texts)]
        i += 1
        comments.append((t * (80 // max(1, len(t)) + 1))[:80])
    normalized_comments = [normalize(c).text for c in comments]
    print(f"\n{len(comments)} comments of 80 characters:")
    shipped_exact = Lexicon(shipped.terms, shipped.allow, evasion=False)
    for name, lexicon in (
        ("public 64k", public),
        ("shipped", shipped),
        ("shipped, evasion layer off", shipped_exact),
    ):
        base = raw_automaton(lexicon) if len(lexicon.terms) else None
        raw_c = time_it(run_raw, base, normalized_comments)[0] if base else float("nan")
        ours_c, hits = time_it(run_filter, lexicon, comments)
        per = ours_c / len(comments) * 1e6
        target = " (target <= 40, evasion layer on)" if name == "shipped" else ""
        print(
            f"  {name}: filter {per:6.1f} us/comment{target}, "
            f"raw iter {raw_c / len(comments) * 1e6:5.1f} us, ratio {raw_c / ours_c:.2f}, "
            f"{hits} hits"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
