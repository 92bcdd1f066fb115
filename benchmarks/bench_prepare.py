#!/usr/bin/env python3
"""Time reading a corpus file into a model: JoSE(...).build_vocab(corpus_file=...).

    python benchmarks/bench_prepare.py --corpus PATH [--tree NAME=DIR ...] [--workers 1 2]
        [--rounds 3] [--out benchmarks/results/speed_round4/prepare.md]

That is everything before training: counting, the vocabulary's cut, encoding the
word ids to a scratch directory and drawing the starting vectors. Each run is a
fresh child process importing the jose of its tree (PYTHONPATH=DIR; default: this
repository, its in-place build if it has one). Trees and worker counts run in
turns within each round. Reports the median and range of the wall time of
build_vocab and the child's peak RSS.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from local_jose import REPO  # noqa: E402

MARK = "PREPARE "
CHILD = """
import json, resource, sys, time
from jose import JoSE
started = time.perf_counter()
model = JoSE(workers=int(sys.argv[2]), vector_size=int(sys.argv[3]), seed=1)
model.build_vocab(corpus_file=sys.argv[1])
seconds = time.perf_counter() - started
print({mark!r} + json.dumps({{"seconds": seconds, "words": len(model.vocab),
                             "docs": model.corpus_count,
                             "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
""".format(mark=MARK)


def run(tree: Path, corpus: str, workers: int, dim: int) -> dict:
    env = dict(os.environ, PYTHONPATH=str(tree))
    out = subprocess.run([sys.executable, "-c", CHILD, corpus, str(workers), str(dim)],
                         capture_output=True, text=True, env=env, cwd=tree)
    for line in out.stdout.splitlines():
        if line.startswith(MARK):
            return json.loads(line[len(MARK):])
    raise RuntimeError(f"{tree}: child failed\n{out.stderr[-2000:]}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--corpus", required=True)
    p.add_argument("--tree", action="append", default=[], metavar="NAME=DIR")
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--dim", type=int, default=100)
    p.add_argument("--out", type=Path)
    args = p.parse_args(argv)
    trees = dict(t.split("=", 1) for t in args.tree) or {"this": str(REPO)}
    results = {(name, w): [] for name in trees for w in args.workers}
    for r in range(args.rounds):
        for w in args.workers:
            for name, tree in trees.items():
                res = run(Path(tree), args.corpus, w, args.dim)
                results[name, w].append(res)
                print(f"round {r + 1} {name} workers={w}: {res['seconds']:.2f} s, "
                      f"{res['words']:,} words, {res['docs']:,} documents, "
                      f"peak RSS {res['maxrss_mb']:.0f} MB", flush=True)
    lines = [f"# Reading a corpus file into a model ({Path(args.corpus).name})", "",
             "`python benchmarks/bench_prepare.py " + " ".join(argv or sys.argv[1:]) + "`", "",
             f"{args.rounds} rounds, trees and worker counts in turns; load average "
             f"{os.getloadavg()[0]:.2f} at the end.", "",
             "| tree | workers | median s | min–max | peak RSS MB (median) |",
             "|---|---|---|---|---|"]
    for (name, w), runs in results.items():
        s = [x["seconds"] for x in runs]
        rss = statistics.median(x["maxrss_mb"] for x in runs)
        lines.append(f"| {name} | {w} | {statistics.median(s):.2f} | {min(s):.2f}–{max(s):.2f} "
                     f"| {rss:.0f} |")
    lines += ["", "Trees: " + ", ".join(f"{n} = `{d}`" for n, d in trees.items())]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
