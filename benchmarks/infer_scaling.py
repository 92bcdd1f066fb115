"""Where batch inference's time goes, and its 1 -> 2 worker speed-up.

Trains jose on the 11,314 train documents of 20 Newsgroups (the paper's
settings, 10 epochs), then times `infer_vectors` on the 7,532 test documents
repeated --times times, at 1 and 2 workers in turns for --rounds rounds, and
apart: the encoding of the token lists (Python, one thread) and the kernel
alone (`_infer_encoded`, GIL released). Ratios are per round; the report gives
the median and the range.

    python benchmarks/infer_scaling.py [--times 4] [--rounds 3]
"""
from __future__ import annotations

import argparse
import gzip
import os
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from local_jose import jose_origin, use_local_build  # noqa: E402

use_local_build()
PAPER = dict(vector_size=100, window=10, negative=2, margin=0.15, alpha=0.04, sample=1e-3,
             min_count=5)


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def spread(values):
    return f"{np.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=HERE.parent.parent / "shared" / "data")
    p.add_argument("--times", type=int, default=4)
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args(argv)
    from jose import JoSE
    from jose.model import encode_documents

    with gzip.open(args.data / "20news" / "text.txt.gz", "rt", encoding="utf-8") as f:
        lines = [line.split() for line in f]
    train, test = lines[:11314], lines[11314:]
    model = JoSE(train, epochs=10, workers=2, seed=1, **PAPER).train()
    docs = test * args.times
    model.infer_vectors(docs[:100], workers=2)           # warm the caches
    walls = {1: [], 2: []}
    kernels = {1: [], 2: []}
    encodes = []
    for _ in range(args.rounds):
        for workers in (1, 2):
            walls[workers].append(timed(lambda: model.infer_vectors(docs, workers=workers)))
        encoded = []
        encodes.append(timed(lambda: encoded.append(
            encode_documents(docs, model.vocab.key_to_index))))
        tokens, offsets = encoded[0]
        for workers in (1, 2):
            kernels[workers].append(timed(lambda: model._infer_encoded(
                tokens, offsets, 10, model.alpha, workers, 1, False)))
    ratio = [a / b for a, b in zip(walls[1], walls[2])]
    kratio = [a / b for a, b in zip(kernels[1], kernels[2])]
    print(f"# Batch inference: where the time goes ({time.strftime('%Y-%m-%d %H:%M')})\n")
    print(f"- {len(docs):,} documents ({args.times} x the 7,532 test documents), 10 epochs, "
          f"{len(tokens):,} known tokens; jose from `{jose_origin()}`; load average "
          f"{os.getloadavg()[0]:.1f} at the end; median (min-max) of {args.rounds} rounds")
    print(f"- Command: `python benchmarks/infer_scaling.py --times {args.times} "
          f"--rounds {args.rounds}`\n")
    print("| what | 1 worker, s | 2 workers, s | 1 -> 2 |")
    print("|---|---|---|---|")
    print(f"| infer_vectors, end to end | {spread(walls[1])} | {spread(walls[2])} | "
          f"{np.median(ratio):.2f}x ({min(ratio):.2f}-{max(ratio):.2f}) |")
    print(f"| encoding the token lists (one thread) | {spread(encodes)} | | |")
    print(f"| the kernel alone | {spread(kernels[1])} | {spread(kernels[2])} | "
          f"{np.median(kratio):.2f}x ({min(kratio):.2f}-{max(kratio):.2f}) |")


if __name__ == "__main__":
    main()
