"""Where should inference start d? A study on 20 Newsgroups (issue 10).

Trains jose three times with the paper's settings, ONE worker and a fixed
seed (so the word vectors are the same for every variant): on the 11,314
train documents, on all 18,846 documents, and on a random half of them
(models cached in --workdir). Then, for each variant (start, epochs) of the
kernel's inference -- start "random" (a random direction seeded by the
document's content, the behaviour before this study), "mean" (the
normalised mean of the document's word vectors) or "centred" (the direction
of the sum over the tokens of U[w] - mu, mu the mean negative word vector;
the behaviour after it) -- it measures at 1 worker:
  * 3-NN macro-F1 of the inferred test vectors against the trained train
    vectors (bench_infer.py's protocol), beside all-trained vectors (the gap);
  * cosine(inferred, trained) for the training documents;
  * spherical K-Means NMI (k = 20, --runs runs) of 50% trained + 50% inferred;
  * the share of steps whose hinge is active (they cost a full step; an
    inactive one costs two dot products);
  * speed: test documents per CPU-second, over --rounds interleaved rounds
    (median and min-max).
A row "centred, 0 epochs" is the start vector itself, no step.

    python benchmarks/infer_start.py                       # all variants
    python benchmarks/infer_start.py --variants mean:10 random:10 --rounds 5

Writes benchmarks/results/infer_start.json (and prints a Markdown table).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from local_jose import jose_origin, use_local_build  # noqa: E402

use_local_build()

from bench_infer import PAPER, default_data  # noqa: E402
from infer_study import load_20news  # noqa: E402


def trained(path: Path, docs, epochs, seed):
    from jose import JoSE
    if (path / "model.json").exists():
        return JoSE.load(path)
    model = JoSE(docs, epochs=epochs, workers=1, seed=seed, **PAPER).train()
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save(path)
    return model


def infer(model, docs, epochs, start, counts=False):
    """model.infer_vectors' kernel call at 1 worker with the given start;
    (vectors, CPU seconds, per-document (steps, active steps) or None)."""
    from jose import _core
    from jose.model import encode_documents
    tokens, offsets = encode_documents(docs, model.vocab.key_to_index)
    keep, thresh, alias = model._get_samplers()
    out = np.empty((len(offsets) - 1, model.vector_size), dtype=np.float32)
    c = np.zeros((len(out), 2), dtype=np.int64) if counts else None
    if epochs == 0:                    # the start vector alone
        known = np.diff(offsets) > 0
        out[:] = 0
        starts = offsets[:-1][known]
        sums = np.add.reduceat(model.wv.vectors[tokens].astype(np.float64), starts, axis=0)
        if start == "centred":
            sums -= np.diff(offsets)[known][:, None] * model._get_infer_shift()
        out[known] = sums / np.linalg.norm(sums, axis=1, keepdims=True)
        return out, 0.0, None
    cpu = time.process_time()
    _core.infer_documents(model.wv.vectors, out, tokens, offsets, keep, thresh, alias,
                          model.negative, model.margin, model.update_rule, model.alpha,
                          min(model.min_alpha / model.alpha, 1.0), epochs, model.seed, 1,
                          start=start, counts=c,
                          shift=model._get_infer_shift() if start == "centred" else None)
    return out, time.process_time() - cpu, c


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=default_data())
    p.add_argument("--epochs", type=int, default=10, help="training epochs (default 10)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--runs", type=int, default=5, help="clustering runs (default 5)")
    p.add_argument("--rounds", type=int, default=3, help="interleaved speed rounds")
    p.add_argument("--variants", nargs="+",
                   default=["random:10", "mean:10", "centred:10", "random:5", "mean:5",
                            "centred:5", "random:3", "centred:3", "centred:1", "centred:0"],
                   help="start:epochs (start: random, mean or centred)")
    p.add_argument("--workdir", type=Path, default=Path("/tmp/jose-infer-start"))
    p.add_argument("--out", type=Path, default=HERE / "results")
    args = p.parse_args(argv)
    from jose.evaluation import evaluate_clustering, knn_classify

    load_start = os.getloadavg()[0]
    docs, labels, train, test = load_20news(args.data)
    idx = np.concatenate([train, test])
    y = labels[idx]
    all_docs = [docs[i] for i in idx]
    train_docs, test_docs = [docs[i] for i in train], [docs[i] for i in test]
    n = len(idx)
    rng = np.random.default_rng(args.seed)
    half = rng.permutation(n)
    first, rest = np.sort(half[: n // 2]), np.sort(half[n // 2:])
    w = args.workdir / f"e{args.epochs}-s{args.seed}"
    t0 = time.perf_counter()
    model = trained(w / "train", train_docs, args.epochs, args.seed)
    full = trained(w / "all", all_docs, args.epochs, args.seed)
    half_model = trained(w / "half", [all_docs[i] for i in first], args.epochs, args.seed)
    print(f"jose from {jose_origin()}; models ready in {time.perf_counter() - t0:.0f} s",
          flush=True)
    knn_trained = knn_classify(full.dv.vectors, y, train_n=len(train), k=3)["macro_f1"]
    nmi_full = evaluate_clustering(full.dv.vectors, y, 20, method="skmeans", runs=args.runs,
                                   random_state=0)["nmi"]
    print(f"all trained: 3-NN {knn_trained:.3f}, NMI {nmi_full[0]:.3f}", flush=True)
    variants = [(v.split(":")[0], int(v.split(":")[1])) for v in args.variants]

    rows = {}
    for start, epochs in variants:
        X, _, counts = infer(model, test_docs, epochs, start, counts=True)
        f1 = knn_classify(np.concatenate([model.dv.vectors, X]), y, train_n=len(train),
                          k=3)["macro_f1"]
        Xt, _, _ = infer(model, train_docs, epochs, start)
        cos = np.sum(Xt.astype(np.float64) * model.dv.vectors, axis=1)
        cos = cos[np.linalg.norm(Xt, axis=1) > 0]
        X_half = np.zeros((n, model.vector_size), np.float32)
        X_half[first] = half_model.dv.vectors
        X_half[rest], _, _ = infer(half_model, [all_docs[i] for i in rest], epochs, start)
        empty = rest[np.linalg.norm(X_half[rest], axis=1) == 0]
        X_half[empty] = full.dv.vectors[empty]     # as bench_infer.py: a direction for K-Means
        nmi = evaluate_clustering(X_half, y, 20, method="skmeans", runs=args.runs,
                                  random_state=0)["nmi"]
        active = float(counts[:, 1].sum() / max(counts[:, 0].sum(), 1)) if counts is not None \
            else None
        rows[(start, epochs)] = dict(
            start=start, epochs=epochs, knn=f1, gap=f1 - knn_trained,
            cos_mean=float(cos.mean()), cos_median=float(np.median(cos)),
            cos_p10=float(np.percentile(cos, 10)), nmi_half=list(nmi), active_share=active,
            steps=int(counts[:, 0].sum()) if counts is not None else 0, rates=[])
        print(f"{start:6s} {epochs:2d} epochs: 3-NN {f1:.3f} (gap {f1 - knn_trained:+.3f}), "
              f"cos {cos.mean():.3f}/{np.median(cos):.3f}/{np.percentile(cos, 10):.3f}, "
              f"NMI half {nmi[0]:.3f} +- {nmi[1]:.3f}, active "
              f"{'-' if active is None else f'{active:.3f}'}", flush=True)

    for r in range(args.rounds):                 # speed, interleaved
        for start, epochs in variants:
            if epochs == 0:
                continue
            _, cpu, _ = infer(model, test_docs, epochs, start)
            rows[(start, epochs)]["rates"].append(len(test_docs) / cpu)
    load_end = os.getloadavg()[0]

    lines = ["| start | epochs | 3-NN macro-F1 (gap) | cos mean / median / p10 | "
             "NMI 50% inferred | active steps | steps | docs per CPU-s, median (min-max) |",
             "|---|---|---|---|---|---|---|---|"]
    for row in rows.values():
        rates = row["rates"]
        speed = (f"{np.median(rates):,.0f} ({min(rates):,.0f}-{max(rates):,.0f})" if rates
                 else "-")
        active = "-" if row["active_share"] is None else f"{row['active_share']:.1%}"
        lines.append(
            f"| {row['start']} | {row['epochs']} | {row['knn']:.3f} ({row['gap']:+.3f}) | "
            f"{row['cos_mean']:.3f} / {row['cos_median']:.3f} / {row['cos_p10']:.3f} | "
            f"{row['nmi_half'][0]:.3f} ± {row['nmi_half'][1]:.3f} | {active} | "
            f"{row['steps']:,} | {speed} |")
    lines += ["", f"All trained: 3-NN macro-F1 {knn_trained:.3f}, NMI {nmi_full[0]:.3f} ± "
              f"{nmi_full[1]:.3f}. Load average (1 min) {load_start:.1f} at the start, "
              f"{load_end:.1f} at the end, 2 cores. jose: `{jose_origin()}`."]
    print("\n".join(lines))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "infer_start.json").write_text(json.dumps(dict(
        rows=list(rows.values()), knn_trained=knn_trained, nmi_all_trained=list(nmi_full),
        training=dict(PAPER, epochs=args.epochs, workers=1, seed=args.seed),
        load_average=[load_start, load_end], jose=jose_origin(),
        command="python benchmarks/infer_start.py " + " ".join(
            sys.argv[1:] if argv is None else argv)), indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
