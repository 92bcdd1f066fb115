"""Inference speed and quality on 20 Newsgroups, all in one run.

Speed: train jose (the paper's settings) and gensim Doc2Vec PV-DBOW (same
dimension, window, negatives, min_count, sample, epochs) on the 11,314 train
documents, then infer vectors for the 7,532 test documents with the same
number of epochs by
  * jose `infer_vectors` (one batch) at 1 and 2 workers,
  * a Python loop over jose `infer_vector`,
  * a Python loop over gensim `infer_vector`;
documents/s, wall time and CPU time of each.

Quality:
  * 3-NN macro-F1 of the inferred test vectors against the trained train
    vectors, beside bench_paper's protocol (train on all 18,846 documents,
    3-NN on trained vectors);
  * the cosine of each training document's inferred vector to its trained one;
  * train on a random 50% of all documents, infer the rest, spherical
    K-Means NMI (k = 20) over all documents, beside the same on a model
    trained on everything.
Memory: peak RSS of `jose-infer` on the corpus and on the corpus 4 times over.

    python benchmarks/bench_infer.py                  # 10 epochs
    python benchmarks/bench_infer.py --epochs 20      # the paper's epochs (slower)

Writes benchmarks/results/infer.md and infer.json.
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from local_jose import child_env, jose_origin, use_local_build  # noqa: E402

use_local_build()
PAPER = dict(vector_size=100, window=10, negative=2, margin=0.15, alpha=0.04,
             sample=1e-3, min_count=5)

CHILD = """
import sys
from jose.infer_cli import main
status = main(sys.argv[1:])
for line in open("/proc/self/status"):
    if line.startswith("VmHWM:"):
        print("PEAK_KB", line.split()[1])
sys.exit(status)
"""


def default_data() -> Path:
    for base in (ROOT.parent, ROOT.parent.parent):
        if (base / "shared" / "data" / "20news").is_dir():
            return base / "shared" / "data"
    return ROOT.parent / "shared" / "data"


def timed(fn):
    """(result, wall seconds, CPU seconds of this process)."""
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0, time.process_time() - cpu0


def train_jose(docs, epochs, workers, seed):
    from jose import JoSE
    model = JoSE(docs, epochs=epochs, workers=workers, seed=seed, **PAPER)
    _, seconds, _ = timed(model.train)
    return model, seconds


def train_gensim(docs, epochs, workers, seed):
    from gensim.models.doc2vec import Doc2Vec, TaggedDocument
    tagged = [TaggedDocument(d, [i]) for i, d in enumerate(docs)]
    model, seconds, _ = timed(lambda: Doc2Vec(
        tagged, dm=0, vector_size=PAPER["vector_size"], window=PAPER["window"],
        negative=PAPER["negative"], min_count=PAPER["min_count"], sample=PAPER["sample"],
        epochs=epochs, workers=workers, seed=seed))
    return model, seconds


def speed_row(system, workers, n_docs, wall, cpu):
    return {"system": system, "workers": workers, "docs_per_s": n_docs / wall,
            "docs_per_cpu_s": n_docs / max(cpu, 1e-9), "wall_s": wall, "cpu_s": cpu}


def peak_rss_mb(model_dir, corpus, workdir, threads):
    args = [sys.executable, "-c", CHILD, str(model_dir), str(corpus), "--output",
            str(workdir / "vecs.npy"), "--quiet", "--threads", str(threads), "--epochs", "1"]
    start = time.perf_counter()
    proc = subprocess.run(args, capture_output=True, text=True, env=child_env(), cwd=workdir)
    if proc.returncode != 0:
        raise RuntimeError(f"jose-infer failed: {proc.stderr.strip()}")
    seconds = time.perf_counter() - start
    kb = next(int(line.split()[1]) for line in proc.stdout.splitlines()
              if line.startswith("PEAK_KB"))
    rows = np.load(workdir / "vecs.npy", mmap_mode="r").shape[0]
    return kb / 1024, seconds, rows


def repeated_copy(corpus: Path, times: int, out: Path) -> Path:
    with gzip.open(corpus, "rb") as f:
        data = f.read()
    if not data.endswith(b"\n"):
        data += b"\n"
    with gzip.open(out, "wb", compresslevel=1) as f:
        for _ in range(times):
            f.write(data)
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=default_data())
    p.add_argument("--epochs", type=int, default=10,
                   help="training and inference epochs, jose and gensim alike (default 10)")
    p.add_argument("--fast-epochs", type=int, default=3,
                   help="also time jose's inference with this many epochs and score its "
                        "3-NN: equal quality rather than equal epochs (default 3; 0: skip)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--runs", type=int, default=5, help="clustering runs (default 5)")
    p.add_argument("--limit", type=int, default=None,
                   help="use only the first N train and N test documents (smoke test)")
    p.add_argument("--no-gensim", action="store_true")
    p.add_argument("--no-memory", action="store_true")
    p.add_argument("--out", type=Path, default=HERE / "results")
    args = p.parse_args(argv)

    from jose.evaluation import evaluate_clustering, knn_classify

    news = args.data / "20news"
    with gzip.open(news / "text.txt.gz", "rt", encoding="utf-8") as f:
        docs = [line.split() for line in f.read().split("\n")]
    if docs and not docs[-1]:
        docs.pop()                               # the file's final newline
    labels = np.loadtxt(news / "label.txt", dtype=int)
    split = [line.strip() for line in open(news / "split.txt")]
    train_idx = np.array([i for i, s in enumerate(split) if s == "train"])
    test_idx = np.array([i for i, s in enumerate(split) if s != "train"])
    if args.limit:
        train_idx, test_idx = train_idx[:args.limit], test_idx[:args.limit]
    assert len(docs) == len(labels) == len(split), (len(docs), len(labels), len(split))
    train_docs = [docs[i] for i in train_idx]
    test_docs = [docs[i] for i in test_idx]
    E, workers2 = args.epochs, 2
    result = {"epochs": E, "n_train": len(train_docs), "n_test": len(test_docs),
              "params": PAPER, "jose": jose_origin(), "machine": platform.machine(),
              "cores": os.cpu_count(), "command": "python benchmarks/bench_infer.py "
              + shlex.join(sys.argv[1:] if argv is None else argv)}
    result["load_average_start"] = list(os.getloadavg())
    print(f"jose from {jose_origin()}; {len(train_docs)} train / {len(test_docs)} test "
          f"documents, {E} epochs", flush=True)

    # -- speed -------------------------------------------------------------------------
    model, train_s = train_jose(train_docs, E, workers2, args.seed)
    print(f"jose trained on the train split in {train_s:.1f} s", flush=True)
    rows = []
    X1, wall, cpu = timed(lambda: model.infer_vectors(test_docs, workers=1))
    rows.append(speed_row("jose infer_vectors", 1, len(test_docs), wall, cpu))
    X2, wall, cpu = timed(lambda: model.infer_vectors(test_docs, workers=2))
    rows.append(speed_row("jose infer_vectors", 2, len(test_docs), wall, cpu))
    same_threads = bool(np.array_equal(X1, X2))
    known = np.linalg.norm(X1, axis=1) > 0
    X_fast = None
    if args.fast_epochs:
        X_fast, wall, cpu = timed(lambda: model.infer_vectors(test_docs, workers=1,
                                                              epochs=args.fast_epochs))
        rows.append(speed_row(f"jose infer_vectors, {args.fast_epochs} epochs", 1,
                              len(test_docs), wall, cpu))

    def loop():
        out = np.zeros((len(test_docs), model.vector_size), np.float32)
        for i, d in enumerate(test_docs):
            if known[i]:
                out[i] = model.infer_vector(d)
        return out
    XL, wall, cpu = timed(loop)
    rows.append(speed_row("jose infer_vector loop", 1, len(test_docs), wall, cpu))
    same_loop = bool(np.array_equal(XL, X1))
    if not args.no_gensim:
        try:
            gmodel, gtrain_s = train_gensim(train_docs, E, workers2, args.seed)
        except ImportError:
            print("gensim is not installed: no Doc2Vec baseline", file=sys.stderr)
        else:
            print(f"gensim trained in {gtrain_s:.1f} s", flush=True)
            _, wall, cpu = timed(lambda: [gmodel.infer_vector(d, epochs=E) for d in test_docs])
            rows.append(speed_row("gensim Doc2Vec infer_vector loop", 1, len(test_docs),
                                  wall, cpu))
            result["gensim_train_s"] = gtrain_s
    for r in rows:
        print(f"{r['system']:34s} {r['workers']}  {r['docs_per_s']:9,.0f} docs/s  "
              f"{r['docs_per_cpu_s']:9,.0f} docs/CPU-s", flush=True)
    result.update(speed=rows, jose_train_s=train_s, same_at_1_and_2_workers=same_threads,
                  loop_equals_batch=same_loop, test_docs_without_known_words=int((~known).sum()))

    # -- quality ----------------------------------------------------------------------
    n = len(train_idx) + len(test_idx)
    idx = np.concatenate([train_idx, test_idx])
    y = labels[idx]
    X_mixed = np.concatenate([model.dv.vectors, X1])
    knn_inferred = knn_classify(X_mixed, y, train_n=len(train_idx), k=3)
    if X_fast is not None:
        result["knn_inferred_test_fast"] = knn_classify(
            np.concatenate([model.dv.vectors, X_fast]), y, train_n=len(train_idx), k=3)
        result["fast_epochs"] = args.fast_epochs
    inferred_train = model.infer_vectors(train_docs, workers=2)
    cos = np.sum(inferred_train.astype(np.float64) * model.dv.vectors, axis=1)
    cos = cos[np.linalg.norm(inferred_train, axis=1) > 0]
    full, full_s = train_jose([docs[i] for i in idx], E, workers2, args.seed)
    knn_trained = knn_classify(full.dv.vectors, y, train_n=len(train_idx), k=3)
    print(f"3-NN macro-F1: inferred test {knn_inferred['macro_f1']:.3f}, trained protocol "
          f"{knn_trained['macro_f1']:.3f}; cosine(inferred, trained) of training documents: "
          f"mean {cos.mean():.3f}, median {np.median(cos):.3f}", flush=True)

    rng = np.random.default_rng(args.seed)
    half = rng.permutation(n)
    first, rest = np.sort(half[: n // 2]), np.sort(half[n // 2:])
    all_docs = [docs[i] for i in idx]
    half_model, _ = train_jose([all_docs[i] for i in first], E, workers2, args.seed)
    X_half = np.zeros((n, PAPER["vector_size"]), np.float32)
    X_half[first] = half_model.dv.vectors
    X_half[rest], known_rest = half_model.infer_vectors([all_docs[i] for i in rest], workers=2,
                                                        return_mask=True)
    # spherical k-means needs a direction: documents with no known word (empty
    # lines) keep a random unit vector, as training gives them
    empty = rest[~known_rest]
    X_half[empty] = full.dv.vectors[empty]
    nmi_half = evaluate_clustering(X_half, y, 20, method="skmeans", runs=args.runs,
                                   random_state=0)["nmi"]
    nmi_full = evaluate_clustering(full.dv.vectors, y, 20, method="skmeans", runs=args.runs,
                                   random_state=0)["nmi"]
    print(f"NMI (skmeans): 50% trained + 50% inferred {nmi_half[0]:.3f} +- {nmi_half[1]:.3f}, "
          f"all trained {nmi_full[0]:.3f} +- {nmi_full[1]:.3f}", flush=True)
    result.update(
        knn_inferred_test=knn_inferred, knn_trained_protocol=knn_trained,
        cosine_inferred_vs_trained={"mean": float(cos.mean()), "median": float(np.median(cos)),
                                    "p10": float(np.percentile(cos, 10)), "n": int(len(cos))},
        nmi_half_inferred=list(nmi_half), nmi_all_trained=list(nmi_full),
        half_docs_without_known_words=int(len(empty)))

    # -- memory -----------------------------------------------------------------------
    if not args.no_memory:
        work = Path(tempfile.mkdtemp(prefix="jose-infer-bench-"))
        try:
            model.save(work / "model")
            big = repeated_copy(news / "text.txt.gz", 4, work / "x4.txt.gz")
            mem = []
            for label, corpus in (("20news text.txt.gz", news / "text.txt.gz"),
                                  ("20news text.txt.gz x4", big)):
                mb, seconds, n_rows = peak_rss_mb(work / "model", corpus, work, workers2)
                mem.append({"corpus": label, "rows": n_rows, "peak_rss_mb": mb,
                            "wall_s": seconds})
                print(f"jose-infer {label}: {n_rows:,} rows, peak RSS {mb:.0f} MB "
                      f"({seconds:.0f} s)", flush=True)
            result["memory"] = mem
        finally:
            shutil.rmtree(work, ignore_errors=True)

    result["load_average_end"] = list(os.getloadavg())
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "infer.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / "infer.md").write_text(markdown(result))
    print(markdown(result))


def markdown(r) -> str:
    speed = {(s["system"], s["workers"]): s for s in r["speed"]}
    one = speed[("jose infer_vectors", 1)]
    two = speed[("jose infer_vectors", 2)]
    lines = [f"# Inference on 20 Newsgroups ({time.strftime('%Y-%m-%d')}, {r['cores']} cores)",
             "", f"jose trained on the {r['n_train']:,} train documents with the paper's settings "
             f"({r['epochs']} epochs, 2 workers); {r['n_test']:,} test documents inferred with "
             f"{r['epochs']} epochs. gensim Doc2Vec PV-DBOW has the same dimension, window, "
             f"negatives (2), min_count, sample and epochs.", "",
             "| system | workers | documents/s | documents per CPU-s | wall s |",
             "|---|---|---|---|---|"]
    for s in r["speed"]:
        lines.append(f"| {s['system']} | {s['workers']} | {s['docs_per_s']:,.0f} | "
                     f"{s['docs_per_cpu_s']:,.0f} | {s['wall_s']:.2f} |")
    lines += ["", f"- 1 -> 2 workers: {two['docs_per_s'] / one['docs_per_s']:.2f}x "
              f"(target 1.8x); rows identical at 1 and 2 workers: {r['same_at_1_and_2_workers']}; "
              f"the infer_vector loop equals the batch rows: {r['loop_equals_batch']}."]
    g = speed.get(("gensim Doc2Vec infer_vector loop", 1))
    if g:
        lines.append(f"- per core, jose infer_vectors (1 worker) is "
                     f"{one['docs_per_cpu_s'] / g['docs_per_cpu_s']:.1f}x gensim's infer_vector "
                     f"loop (target 10x); per wall second at 1 worker "
                     f"{one['docs_per_s'] / g['docs_per_s']:.1f}x.")
    c = r["cosine_inferred_vs_trained"]
    lines += ["", "| quality | value |", "|---|---|",
              f"| 3-NN macro-F1, inferred test vectors vs trained train vectors | "
              f"{r['knn_inferred_test']['macro_f1']:.3f} |",
              f"| 3-NN macro-F1, trained-vector protocol (all documents trained) | "
              f"{r['knn_trained_protocol']['macro_f1']:.3f} |",
              f"| cosine(inferred, trained), training documents: mean / median / 10th pct | "
              f"{c['mean']:.3f} / {c['median']:.3f} / {c['p10']:.3f} |",
              f"| NMI sph. K-Means, 50% trained + 50% inferred | "
              f"{r['nmi_half_inferred'][0]:.3f} ± {r['nmi_half_inferred'][1]:.3f} |",
              f"| NMI sph. K-Means, all trained | "
              f"{r['nmi_all_trained'][0]:.3f} ± {r['nmi_all_trained'][1]:.3f} |",
              "", f"3-NN gap: {r['knn_inferred_test']['macro_f1'] - r['knn_trained_protocol']['macro_f1']:+.3f} "
              f"(target: within 0.02)."]
    if "knn_inferred_test_fast" in r:
        k = r["fast_epochs"]
        fast = speed[(f"jose infer_vectors, {k} epochs", 1)]
        lines += ["", f"Equal quality instead of equal epochs: inferred with {k} epochs (from the "
                  f"centred start) the test vectors score "
                  f"{r['knn_inferred_test_fast']['macro_f1']:.3f} 3-NN macro-F1 (with "
                  f"{r['epochs']}: {r['knn_inferred_test']['macro_f1']:.3f}), at "
                  f"{fast['docs_per_cpu_s']:,.0f} documents per CPU-s"
                  + (f", {fast['docs_per_cpu_s'] / g['docs_per_cpu_s']:.1f}x gensim's "
                     f"{r['epochs']}-epoch loop per core." if g else ".")]
    if "memory" in r:
        m = r["memory"]
        lines += ["", "| jose-infer (--epochs 1, 2 threads) | rows | peak RSS MB | wall s |",
                  "|---|---|---|---|"]
        lines += [f"| {x['corpus']} | {x['rows']:,} | {x['peak_rss_mb']:.0f} | {x['wall_s']:.0f} |"
                  for x in m]
        lines += ["", f"Peak RSS growth for 4x the corpus: "
                  f"{m[1]['peak_rss_mb'] - m[0]['peak_rss_mb']:+.1f} MB (target: within 16 MB)."]
    if "load_average_start" in r:
        lines += ["", f"Load average (1 min) at the start and end of the run: "
                  f"{r['load_average_start'][0]:.1f} and {r['load_average_end'][0]:.1f} on "
                  f"{r['cores']} cores: other jobs shared the machine, so wall-clock rates (and "
                  f"the 1 -> 2 worker ratio) understate what an idle machine gives; the per-CPU-s "
                  f"rates are the fairer comparison."]
    lines += ["", f"jose measured: `{r['jose']}`. Command: `{r['command']}`", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
