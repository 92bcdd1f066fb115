#!/usr/bin/env python3
"""jose-train end to end, at 1 and 2 threads: wall time from start to written output.

Every run is a fresh `jose-train CORPUS --threads N --epochs E --sample 1e-3 --quiet`
child process; the default outputs, <stem>.words.txt and <stem>.docs.txt, go to a
scratch directory. The sample is pinned at the threshold every earlier round used:
the default "auto" thins more words, which shortens training without a faster
kernel (--extra can override it). Runs are interleaved -- round after round, each thread
count (and each --tree) in turn -- so a machine that gets busier slows every
configuration alike. The wall time is the parent's, from starting the child
to its exit (interpreter start-up and imports included). The child also times
its phases by wrapping the functions jose-train calls:

  import  the interpreter's start to jose.cli imported (measured in the child)
  count   jose.filecorpus.count_and_encode   (the pass over the file: counting the
          words, provisional ids to the scratch directory); in builds before
          it, jose.filecorpus.count_corpus (counting only)
  vocab   jose.vocab.Vocabulary.from_counts  (the min_count cut and the sort)
  encode  jose.textcorpus.PendingEncoding.finish (the ids mapped to the
          vocabulary's in place); in builds before it, jose.filecorpus.encode_corpus
          (a second pass over the file)
  init    jose.model.JoSE._set_vocab         (random starting vectors)
  train   jose.model.JoSE.train
  write   jose.cli.write_outputs             (the word2vec files)
  rest    the wall time not in any of these  (interpreter start-up and exit,
          argument checks, removing the scratch directory); "outside main"
          in the JSON is the part before jose.cli is imported and after
          jose-train's main() returns

Before each run, where the host placed the two vCPUs is recorded as a
cache-line ping-pong time between CPU 0 and CPU 1 (see bench_scaling.py; near
< 150 ns, far otherwise), and so is the 1-minute load average. The speed-up is
reported twice: the ratio of the median wall times, and the median (and range)
of the per-round ratios (1-thread run / 2-thread run of the same round).
--threads 1 outputs of every tree are compared byte for byte (sha256).
Each tree's jose/ is byte-compiled first (python -m compileall), as an
installed package is, so that no run spends its time compiling modules.

Usage (from the repository root, package built in place):
    python benchmarks/bench_end_to_end.py [--repeats 3] [--epochs 2] [--threads 1 2]
        [--tree NAME=DIR ...] [--corpus PATH] [--out benchmarks/results/end_to_end]
--tree compares builds (e.g. a `git worktree` of an older commit, built in
place); the default is this repository. Writes OUT.md and OUT.json.
"""
from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DEFAULT_CORPUS = REPO.parent.parent / "shared" / "data" / "20news" / "text.txt.gz"
if not DEFAULT_CORPUS.exists():
    DEFAULT_CORPUS = Path("/work/shared/data/20news/text.txt.gz")
MARK = "END-TO-END "
PHASES = ["import", "count", "vocab", "encode", "init", "train", "write"]

# (module, attribute path, phase): what the child wraps with a timer; a name
# a build does not have is skipped
WRAPPED = [("jose.filecorpus", "count_corpus", "count"),
           ("jose.filecorpus", "count_and_encode", "count"),
           ("jose.vocab", "Vocabulary.from_counts", "vocab"),
           ("jose.filecorpus", "encode_corpus", "encode"),
           ("jose.textcorpus", "PendingEncoding.finish", "encode"),
           ("jose.model", "JoSE._set_vocab", "init"),
           ("jose.model", "JoSE.train", "train"),
           ("jose.cli", "write_outputs", "write")]


def child(argv) -> int:
    """Run jose-train with the phase timers; print the timings on stdout."""
    import functools
    import importlib
    started = time.perf_counter()
    import jose.cli
    times = {"import": time.perf_counter() - started}
    for module_name, attr, phase in WRAPPED:
        owner = importlib.import_module(module_name)
        *path, name = attr.split(".")
        for part in path:
            owner = getattr(owner, part, None)
        if owner is None or name not in vars(owner):
            continue
        raw = vars(owner)[name]
        is_classmethod = isinstance(raw, classmethod)
        fn = raw.__func__ if is_classmethod else raw

        def timed(*a, _fn=fn, _phase=phase, **k):
            t = time.perf_counter()
            try:
                return _fn(*a, **k)
            finally:
                times[_phase] = times.get(_phase, 0.0) + time.perf_counter() - t
        timed = functools.wraps(fn)(timed)
        setattr(owner, name, classmethod(timed) if is_classmethod else timed)
    status = jose.cli.main(argv)
    print(MARK + json.dumps({"status": status, "phases": times,
                             "in_process": time.perf_counter() - started}), flush=True)
    return status


def pingpong_timer(tmp: Path):
    """bench_scaling's CPU 0 <-> CPU 1 round trip (ns), or None without a compiler."""
    try:
        sys.path.insert(0, str(HERE))
        from bench_scaling import build_pingpong
        return build_pingpong(tmp)
    except Exception:                      # no compiler, one CPU, ...
        return None


def run_once(tree: Path, corpus: Path, threads: int, epochs: int, extra: list, work: Path,
             pingpong) -> dict:
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    env = dict(os.environ, PYTHONPATH=str(tree))
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", str(corpus),
           "--threads", str(threads), "--epochs", str(epochs), "--sample", "1e-3", "--quiet",
           *extra]
    rtt = pingpong(5000) if pingpong else float("nan")
    load = os.getloadavg()[0]
    t = time.perf_counter()
    proc = subprocess.run(cmd, cwd=str(work), env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise RuntimeError(f"jose-train failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    result = next(json.loads(line[len(MARK):]) for line in proc.stdout.splitlines()
                  if line.startswith(MARK))
    phases = result["phases"]
    phases["rest"] = wall - sum(phases.get(p, 0.0) for p in PHASES)
    outputs = {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
               for p in sorted(work.iterdir()) if p.is_file()}
    shutil.rmtree(work)
    return {"threads": threads, "wall": wall, "phases": phases, "load_before": load,
            "pingpong_ns": rtt, "outputs": outputs,
            "outside_main": wall - result["in_process"]}   # interpreter start-up and exit


def summarise(runs, trees, threads):
    out = {}
    for name, _ in trees:
        for n in threads:
            sel = [r for r in runs if r["tree"] == name and r["threads"] == n]
            walls = [r["wall"] for r in sel]
            phases = {p: statistics.median(r["phases"].get(p, 0.0) for r in sel)
                      for p in PHASES + ["rest"]}
            out[f"{name}/{n}"] = {"tree": name, "threads": n, "runs": len(sel),
                                  "median_wall": statistics.median(walls),
                                  "min_wall": min(walls), "max_wall": max(walls),
                                  "median_phases": phases}
        if 1 in threads:
            for n in threads:
                if n == 1:
                    continue
                rounds = sorted({r["round"] for r in runs})
                ratios = []
                for k in rounds:
                    one = [r["wall"] for r in runs if r["tree"] == name and r["round"] == k
                           and r["threads"] == 1]
                    many = [r["wall"] for r in runs if r["tree"] == name and r["round"] == k
                            and r["threads"] == n]
                    if one and many:
                        ratios.append(one[0] / many[0])
                s = out[f"{name}/{n}"]
                s["speedup_of_medians"] = out[f"{name}/1"]["median_wall"] / s["median_wall"]
                s["speedup_per_round"] = ratios
                s["speedup_median_of_rounds"] = statistics.median(ratios)
                t1 = out[f"{name}/1"]["median_phases"]["train"]
                s["train_speedup_of_medians"] = t1 / max(s["median_phases"]["train"], 1e-9)
    return out


def main(argv=None) -> int:
    if argv is None and len(sys.argv) > 1 and sys.argv[1] == "--child":
        return child(sys.argv[2:])
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--tree", action="append", metavar="NAME=DIR",
                   help="a source tree with an in-place build (repeatable; default: this one)")
    p.add_argument("--extra", default="", help="more jose-train options, one string")
    p.add_argument("--out", type=Path, default=HERE / "results" / "end_to_end")
    p.add_argument("--no-compile", dest="compile", action="store_false",
                   help="do not byte-compile the trees' jose/ first")
    args = p.parse_args(argv)
    trees = [(t.split("=", 1)[0], Path(t.split("=", 1)[1]).resolve()) for t in args.tree] \
        if args.tree else [("this", REPO)]
    for _, tree in trees if args.compile else ():
        # bytecode, as an installed package has it (PYTHONDONTWRITEBYTECODE=1
        # would otherwise make every run compile jose's modules again)
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(tree / "jose")],
                       check=True)
    tmp = Path(tempfile.mkdtemp(prefix="jose-e2e-"))
    pingpong = pingpong_timer(tmp)
    runs = []
    load_start = os.getloadavg()
    try:
        for k in range(args.repeats):
            for n in args.threads:
                for name, tree in trees:
                    r = run_once(tree, args.corpus, n, args.epochs, args.extra.split(),
                                 tmp / "work", pingpong)
                    r.update(tree=name, round=k)
                    runs.append(r)
                    ph = r["phases"]
                    print(f"round {k + 1}/{args.repeats} {name} --threads {n}: {r['wall']:.2f} s "
                          f"(" + ", ".join(f"{q} {ph.get(q, 0.0):.2f}" for q in PHASES + ["rest"])
                          + f"; load {r['load_before']:.1f}, ping-pong {r['pingpong_ns']:.0f} ns)",
                          flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    load_end = os.getloadavg()
    summary = summarise(runs, trees, args.threads)
    same = {name: len({json.dumps(r["outputs"], sort_keys=True) for r in runs
                       if r["threads"] == 1 and r["tree"] == name}) == 1 for name, _ in trees}
    across = len({json.dumps(r["outputs"], sort_keys=True) for r in runs if r["threads"] == 1}) == 1
    write_report(args, argv, trees, runs, summary, load_start, load_end, same, across)
    return 0


def write_report(args, argv, trees, runs, summary, load_start, load_end, same, across):
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                if line.startswith("model name")), platform.processor()) \
        if os.path.exists("/proc/cpuinfo") else platform.processor()
    command = "python benchmarks/bench_end_to_end.py " + " ".join(
        argv if argv is not None else sys.argv[1:])
    stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    lines = [f"# jose-train end to end, 1 vs 2 threads ({stamp}, {cpu}, {os.cpu_count()} cores)",
             "", f"`{command}`", "",
             f"`jose-train {args.corpus.name} --epochs {args.epochs} --threads N --quiet "
             f"{args.extra}`".replace(" `", "`"),
             f"in a fresh process per run, {args.repeats} rounds, configurations interleaved "
             f"within each round. Wall = the parent's clock from starting the child to its "
             f"exit. Load average (1, 5, 15 min) {load_start[0]:.2f} {load_start[1]:.2f} "
             f"{load_start[2]:.2f} at the start, {load_end[0]:.2f} {load_end[1]:.2f} "
             f"{load_end[2]:.2f} at the end.", "",
             "| tree | threads | median wall s | min–max | " + " | ".join(PHASES + ["rest"])
             + " |", "|---|---|---|---|" + "---|" * (len(PHASES) + 1)]
    for key, s in summary.items():
        ph = s["median_phases"]
        lines.append(f"| {s['tree']} | {s['threads']} | {s['median_wall']:.2f} | "
                     f"{s['min_wall']:.2f}–{s['max_wall']:.2f} | "
                     + " | ".join(f"{ph[p]:.2f}" for p in PHASES + ["rest"]) + " |")
    lines += ["", "Phase columns are medians over the rounds (seconds); they need not add up to "
              "the median wall.", "",
              "| tree | threads | speed-up (ratio of median walls) | per round: median "
              "(min–max) | training alone (ratio of median train) |", "|---|---|---|---|---|"]
    for key, s in summary.items():
        if "speedup_of_medians" in s:
            r = s["speedup_per_round"]
            lines.append(f"| {s['tree']} | 1 → {s['threads']} | {s['speedup_of_medians']:.3f}x | "
                         f"{s['speedup_median_of_rounds']:.3f}x ({min(r):.3f}–{max(r):.3f}) | "
                         f"{s['train_speedup_of_medians']:.3f}x |")
    lines += ["", "Runs in order:", "", "| round | tree | threads | wall s | load before | "
              "ping-pong ns |", "|---|---|---|---|---|---|"]
    for r in runs:
        lines.append(f"| {r['round'] + 1} | {r['tree']} | {r['threads']} | {r['wall']:.2f} | "
                     f"{r['load_before']:.2f} | {r['pingpong_ns']:.0f} |")
    lines += ["", "--threads 1 outputs byte-identical from run to run: "
              + ", ".join(f"{name} {'yes' if ok else 'NO'}" for name, ok in same.items())
              + (f"; across trees: {'yes' if across else 'NO'}" if len(trees) > 1 else "")
              + ".", "", "Trees: " + ", ".join(f"{name} = `{tree}`" for name, tree in trees), ""]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".md").write_text("\n".join(lines))
    args.out.with_suffix(".json").write_text(json.dumps(
        {"command": command, "date": stamp, "cpu": cpu, "cores": os.cpu_count(),
         "corpus": str(args.corpus), "epochs": args.epochs, "extra": args.extra,
         "load_start": load_start, "load_end": load_end,
         "trees": {name: str(tree) for name, tree in trees}, "summary": summary,
         "threads1_identical": same, "threads1_identical_across_trees": across,
         "runs": runs}, indent=1))
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
