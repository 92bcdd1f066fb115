#!/usr/bin/env python3
"""Speed-up from one to two workers, split by where the host put the two cores.

On the project's 2-vCPU VM the speed-up of two workers swung between ~1.8x
and below 1x from one run to the next. The cause is where the host places the
two vCPUs: a cache line written by one core reaches the other in ~55 ns
round trip when they share a last-level cache ("near") and ~330 ns when they
don't ("far"), and the placement changes while a run goes on. Hogwild
training writes rows of U that both threads use, so its speed depends on it.

This script measures that directly. Before every training block it times a
cache-line ping-pong between CPU 0 and CPU 1 (a few ms; needs a C compiler),
then records the block's kept words per second. Rounds rotate through:

* 1 worker;
* 2 workers, the default (private copies of the hot rows of U, see
  "Hot rows" in jose/_core.pyx);
* 2 workers with the private copies switched off (plain Hogwild).

Blocks are split by the ping-pong time into near (< 150 ns) and far, and each
2-worker median is divided by the 1-worker median of the same placement.
Whole-epoch wall times are reported too.

Usage (from the repository root, package built):
    python benchmarks/bench_scaling.py [--rounds 8] [--corpus PATH] [--out benchmarks/results]
Writes OUT/scaling.md and OUT/scaling.json.
"""
from __future__ import annotations

import argparse
import ctypes
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from local_jose import jose_origin, use_local_build  # noqa: E402

use_local_build()

from jose import JoSE                                        # noqa: E402
from jose.textcorpus import count_corpus, encode_corpus      # noqa: E402
from jose.vocab import Vocabulary                            # noqa: E402

DEFAULT_CORPUS = HERE.parent.parent / "shared" / "data" / "20news" / "text.txt.gz"
NEAR_NS = 150.0
PINGPONG_C = r"""
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <time.h>
static volatile int64_t __attribute__((aligned(64))) flag;
static volatile int go;
static int64_t rounds;
static void pin(int cpu) { cpu_set_t s; CPU_ZERO(&s); CPU_SET(cpu, &s);
                           pthread_setaffinity_np(pthread_self(), sizeof s, &s); }
static void* pong(void* unused) {
    pin(1); while (!go) {}
    for (int64_t i = 0; i < rounds; i++) { while (flag != 2 * i + 1) {} flag = 2 * i + 2; }
    return 0;
}
/* mean round trip, in ns, of a cache line bounced between CPU 0 and CPU 1 */
double pingpong(int n) {
    cpu_set_t old; pthread_t t; struct timespec a, b;
    rounds = n; flag = 0; go = 0;
    pthread_getaffinity_np(pthread_self(), sizeof old, &old);
    pthread_create(&t, 0, pong, 0); pin(0); go = 1;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int64_t i = 0; i < rounds; i++) { while (flag != 2 * i) {} flag = 2 * i + 1; }
    clock_gettime(CLOCK_MONOTONIC, &b);
    pthread_join(t, 0);
    pthread_setaffinity_np(pthread_self(), sizeof old, &old);
    return ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / n;
}
"""
CONFIGS = {"1 worker": (1, None), "2 workers": (2, None),
           "2 workers, no private hot rows": (2, 0)}


def build_pingpong(tmp: Path):
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None or os.cpu_count() < 2:
        return None
    src, lib = tmp / "pingpong.c", tmp / "libpingpong.so"
    src.write_text(PINGPONG_C)
    subprocess.run([cc, "-O2", "-shared", "-fPIC", "-pthread", str(src), "-o", str(lib)],
                   check=True)
    fn = ctypes.CDLL(str(lib)).pingpong
    fn.restype = ctypes.c_double
    fn.argtypes = [ctypes.c_int]
    return fn


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    p.add_argument("--rounds", type=int, default=8)
    p.add_argument("--out", type=Path, default=HERE / "results")
    args = p.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="jose-scaling-"))
    pingpong = build_pingpong(tmp)
    counts = count_corpus(str(args.corpus))
    vocab = Vocabulary.from_counts(counts.words, counts.counts, 5)
    data = encode_corpus(str(args.corpus), vocab.key_to_index, str(tmp))

    blocks, epochs = [], []
    try:
        for r in range(args.rounds):
            for name, (workers, hot_bytes) in CONFIGS.items():
                current = {"config": name, "round": r}
                m = JoSE(vector_size=100, window=10, negative=2, margin=0.15, alpha=0.04,
                         sample=1e-3, min_count=5, epochs=1, workers=workers, seed=r)
                if hot_bytes is not None:
                    m.hot_row_bytes = hot_bytes
                m.build_vocab_from_counts(vocab.words, vocab.counts, range(data.n_docs))
                # the progress hook runs between blocks: time each block from
                # the end of the previous one, after a ping-pong that tells
                # where the host placed the two vCPUs for it
                last = {"kept": 0, "rtt": pingpong(5000) if pingpong else float("nan"),
                        "t": time.perf_counter()}

                def timed_block(p, current=current, last=last):
                    seconds = time.perf_counter() - last["t"]
                    blocks.append(dict(current, rtt_ns=last["rtt"],
                                       kept_per_s=(p.kept_words - last["kept"]) / seconds))
                    last["kept"] = p.kept_words
                    last["rtt"] = pingpong(5000) if pingpong else float("nan")
                    last["t"] = time.perf_counter()
                t = time.perf_counter()
                m.train(encoded=data, progress=timed_block)
                epochs.append(dict(current, seconds=time.perf_counter() - t))
            print(f"round {r + 1}/{args.rounds} done", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    summary = summarise(blocks, epochs)
    write(args, summary, blocks, epochs)


def summarise(blocks, epochs):
    out = {"placements": {}, "epochs": {}}
    for placement, sel in (("near", lambda b: b["rtt_ns"] < NEAR_NS),
                           ("far", lambda b: b["rtt_ns"] >= NEAR_NS)):
        base = [b["kept_per_s"] for b in blocks if b["config"] == "1 worker" and sel(b)]
        rows = {}
        for name in CONFIGS:
            rates = [b["kept_per_s"] for b in blocks if b["config"] == name and sel(b)]
            if not rates:
                continue
            rtts = [b["rtt_ns"] for b in blocks if b["config"] == name and sel(b)]
            rows[name] = {"blocks": len(rates), "median_kept_per_s": float(np.median(rates)),
                          "median_rtt_ns": float(np.median(rtts))}
            if base:
                rows[name]["speedup_median"] = float(np.median(rates) / np.median(base))
                rows[name]["speedup_p10"] = float(np.percentile(rates, 10) / np.median(base))
                rows[name]["speedup_p90"] = float(np.percentile(rates, 90) / np.median(base))
        out["placements"][placement] = rows
    one = sum(e["seconds"] for e in epochs if e["config"] == "1 worker")
    for name in CONFIGS:
        secs = [e["seconds"] for e in epochs if e["config"] == name]
        out["epochs"][name] = {"epochs": len(secs), "total_s": sum(secs),
                               "min_s": min(secs), "max_s": max(secs),
                               "speedup_total": one / sum(secs)}
    return out


def write(args, summary, blocks, epochs):
    args.out.mkdir(parents=True, exist_ok=True)
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                if line.startswith("model name")), platform.processor())
    stamp = datetime.date.today().isoformat()
    lines = [f"# Speed-up from 1 to 2 workers by core placement ({stamp}, {cpu}, "
             f"{os.cpu_count()} cores)", "",
             f"20 Newsgroups, paper settings, {args.rounds} rounds of one epoch per configuration. "
             f"Before each block, a cache-line ping-pong between CPU 0 and CPU 1: near "
             f"< {NEAR_NS:.0f} ns round trip, far otherwise. Speed-up = median kept words/s of "
             "the configuration's blocks / median of the 1-worker blocks in the same placement. "
             f"jose from `{jose_origin()}`.", "",
             "| placement | configuration | blocks | ping-pong ns | median speed-up | p10 | p90 |",
             "|---|---|---|---|---|---|---|"]
    for placement, rows in summary["placements"].items():
        for name, r in rows.items():
            if name == "1 worker":
                continue
            lines.append(f"| {placement} | {name} | {r['blocks']} | {r['median_rtt_ns']:.0f} | "
                         f"{r.get('speedup_median', float('nan')):.2f}x | "
                         f"{r.get('speedup_p10', float('nan')):.2f}x | "
                         f"{r.get('speedup_p90', float('nan')):.2f}x |")
    lines += ["", "Whole epochs (placement as it came):", "",
              "| configuration | epochs | total s | fastest s | slowest s | speed-up (total) |",
              "|---|---|---|---|---|---|"]
    for name, e in summary["epochs"].items():
        lines.append(f"| {name} | {e['epochs']} | {e['total_s']:.1f} | {e['min_s']:.2f} | "
                     f"{e['max_s']:.2f} | {e['speedup_total']:.2f}x |")
    lines += ["", f"Command: `python benchmarks/bench_scaling.py --rounds {args.rounds}`", ""]
    (args.out / "scaling.md").write_text("\n".join(lines))
    (args.out / "scaling.json").write_text(json.dumps(
        {"date": stamp, "cpu": cpu, "cores": os.cpu_count(), "rounds": args.rounds,
         "near_ns": NEAR_NS, "summary": summary, "blocks": blocks, "epochs": epochs}, indent=1))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
