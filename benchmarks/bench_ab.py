"""Before vs after: the training speed of two or more builds of jose, in one run.

Each build is a source tree with an in-place build (`python setup.py
build_ext --inplace`), for example a `git worktree` of an older commit. The
builds are run in turns, round after round, each in a fresh child process
that trains the same in-memory corpus (20 Newsgroups by default) for one
epoch with the paper's settings and the separate objective (what every
build trains; `--objective joint` for the default one, `--window` to
change the window), so a busy machine slows every build alike.
Reports the median words/s of each build, its spread over the rounds, and
its ratio to the first build, round by round (median and range).

    git worktree add /tmp/jose-before <commit>
    (cd /tmp/jose-before && python setup.py build_ext --inplace)
    python benchmarks/bench_ab.py --tree before=/tmp/jose-before --tree after=. \
        --workers 1 2 --rounds 5
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_CORPUS = HERE.parent.parent / "shared" / "data" / "20news" / "text.txt.gz"
PAPER = dict(vector_size=100, window=10, negative=2, margin=0.15, alpha=0.04, sample=1e-3,
             min_count=5)
MARK = "AB-RESULT "


def child(corpus: str, workers: int, epochs: int, objective: str = "separate",
          window: int = PAPER["window"], dim: int = PAPER["vector_size"],
          max_tokens: int = 0) -> dict:
    """Train one build (the jose on sys.path) and time train() alone."""
    import jose
    from jose import JoSE
    docs, n = [], 0
    with gzip.open(corpus, "rt", encoding="utf-8") as f:
        for line in f:                  # whole lines, at most max_tokens tokens (0: all)
            words = line.split()
            n += len(words)
            if max_tokens and n > max_tokens:
                break
            docs.append(words)
    # builds from before the joint objective trained the separate one only:
    # compare equal work
    import inspect
    extra = {"objective": objective} if "objective" in inspect.signature(JoSE).parameters else {}
    model = JoSE(docs, epochs=epochs, workers=workers, seed=1,
                 **dict(PAPER, window=window, vector_size=dim), **extra)
    cpu, t = time.process_time(), time.perf_counter()
    model.train()
    seconds, cpu = time.perf_counter() - t, time.process_time() - cpu
    words = model.training_loss[-1]["words"] * epochs
    return {"jose": str(Path(jose.__file__).parent), "seconds": seconds, "cpu_s": cpu,
            "words_per_s": words / seconds, "words_per_cpu_s": words / cpu}


def run(tree: Path, env_extra: dict, corpus: str, workers: int, epochs: int, objective: str,
        window: int, dim: int, max_tokens: int) -> dict:
    env = dict(os.environ, PYTHONPATH=str(tree), **env_extra)
    out = subprocess.run([sys.executable, __file__, "--child", corpus, str(workers), str(epochs),
                          objective, str(window), str(dim), str(max_tokens)],
                         env=env, capture_output=True, text=True, cwd=str(tree))
    for line in out.stdout.splitlines():
        if line.startswith(MARK):
            return json.loads(line[len(MARK):])
    raise RuntimeError(f"{tree}: child failed\n{out.stderr[-2000:]}")


def main(argv=None) -> int:
    if argv is None and len(sys.argv) > 1 and sys.argv[1] == "--child":
        corpus, workers, epochs = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
        print(MARK + json.dumps(child(corpus, workers, epochs, sys.argv[5], int(sys.argv[6]),
                                      int(sys.argv[7]), int(sys.argv[8]))), flush=True)
        return 0
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tree", action="append", required=True, metavar="NAME=DIR[@KEY=VALUE...]",
                   help="a build to measure (repeat; the first is the baseline), with "
                        "environment variables for its runs, e.g. after-avx2=.@JOSE_KERNEL=avx2")
    p.add_argument("--corpus", default=str(DEFAULT_CORPUS))
    p.add_argument("--workers", type=int, nargs="+", default=[1])
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--objective", choices=["separate", "joint"], default="separate",
                   help="separate (default: every build has it) or joint (jose's default)")
    p.add_argument("--window", type=int, default=PAPER["window"])
    p.add_argument("--dim", type=int, default=PAPER["vector_size"], help="vector_size (100)")
    p.add_argument("--max-tokens", type=int, default=0,
                   help="train on the corpus's first whole lines holding at most this many "
                        "tokens (default: all)")
    p.add_argument("--out", type=Path, default=HERE / "results" / "ab.md")
    args = p.parse_args(argv)
    trees, envs = [], {}
    for spec in args.tree:
        name, rest = spec.split("=", 1)
        path, *assignments = rest.split("@")
        trees.append((name, Path(path).resolve()))
        envs[name] = dict(a.split("=", 1) for a in assignments)
    results = {(name, w): [] for name, _ in trees for w in args.workers}
    for r in range(args.rounds):
        for w in args.workers:
            for name, tree in trees:
                res = run(tree, envs[name], args.corpus, w, args.epochs, args.objective,
                          args.window, args.dim, args.max_tokens)
                results[name, w].append(res)
                print(f"round {r + 1} workers={w} {name}: {res['words_per_s']:,.0f} words/s "
                      f"({res['words_per_cpu_s']:,.0f} per CPU-s)", flush=True)
    base = trees[0][0]
    lines = [f"# Before vs after ({time.strftime('%Y-%m-%d %H:%M')}, load average "
             f"{os.getloadavg()[0]:.1f} at the end)", "",
             f"`python benchmarks/bench_ab.py {' '.join(argv or sys.argv[1:])}`", "",
             f"{args.epochs} epoch(s) of `{Path(args.corpus).name}`"
             + (f" (first {args.max_tokens:,} tokens)" if args.max_tokens else "")
             + f", paper settings but {args.dim}-d, objective "
             f"{args.objective}, window {args.window}, {args.rounds} rounds; "
             f"builds in turns within each round. Ratio = words/s / {base}'s in the same round.",
             "", "| build | workers | median words/s | min–max | median words per CPU-s | "
             f"ratio to {base} (median, min–max) |", "|---|---|---|---|---|---|"]
    for w in args.workers:
        for name, _ in trees:
            rates = [x["words_per_s"] for x in results[name, w]]
            cpu = [x["words_per_cpu_s"] for x in results[name, w]]
            ratios = [a["words_per_s"] / b["words_per_s"]
                      for a, b in zip(results[name, w], results[base, w])]
            lines.append(f"| {name} | {w} | {statistics.median(rates):,.0f} | "
                         f"{min(rates):,.0f}–{max(rates):,.0f} | {statistics.median(cpu):,.0f} | "
                         f"{statistics.median(ratios):.3f} ({min(ratios):.3f}–{max(ratios):.3f}) |")
    lines += ["", "Builds: " + ", ".join(
        f"{n} = `{t}`" + "".join(f" with {k}={v}" for k, v in envs[n].items())
        for n, t in trees)]
    text = "\n".join(lines) + "\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
