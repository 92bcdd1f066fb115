"""Time the random starting vectors (jose.model.seeded_unit_vectors) at 1 and 2 workers.

    python benchmarks/bench_start_vectors.py [--repeat 5] [--sizes 60000x100 1000000x300]

One table of n rows x dim, as _random_tables draws each of U, V and D: blocks of
16,384 rows, each from its own child of the seed, drawn by `workers` threads (the
same vectors for any number). The worker counts run in turns within each round;
prints the median and range of the wall times and the median of the per-round
ratios (1 worker / 2 workers).
"""
import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from local_jose import jose_origin, use_local_build  # noqa: E402

use_local_build()     # an in-place build of this tree, else the installed jose

import numpy as np  # noqa: E402

from jose.model import seeded_unit_vectors  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--sizes", nargs="+", default=["60000x100", "1000000x300"],
                        help="ROWSxDIM tables (default: 20NG's vocabulary, a 1 M-word one at 300-d)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args(argv)
    print(f"jose from {jose_origin()}; numpy {np.__version__}, {os.cpu_count()} CPUs, "
          f"load {os.getloadavg()[0]:.2f}")
    for size in args.sizes:
        n, dim = (int(x) for x in size.split("x"))
        times = {w: [] for w in args.workers}
        for _ in range(args.repeat):
            for w in args.workers:
                t = time.perf_counter()
                seeded_unit_vectors(np.random.SeedSequence(1), n, dim, w)
                times[w].append(time.perf_counter() - t)
        for w in args.workers:
            ts = times[w]
            print(f"{n:>9,} x {dim:<4} workers {w}: median {statistics.median(ts):.3f} s "
                  f"({min(ts):.3f}-{max(ts):.3f})")
        if len(args.workers) == 2:
            a, b = args.workers
            ratios = [x / y for x, y in zip(times[a], times[b])]
            print(f"{'':17}{a} -> {b} workers: {statistics.median(ratios):.2f}x "
                  f"({min(ratios):.2f}-{max(ratios):.2f})")


if __name__ == "__main__":
    main()
