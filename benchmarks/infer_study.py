"""How many epochs, and what alpha, should inference use? A study on 20 Newsgroups.

Trains jose once on the 11,314 train documents (cached in --workdir), then
infers the 7,532 test documents with each variant (epochs, alpha multiplier)
of the kernel call and reports the 3-NN macro-F1 of the inferred test
vectors against the trained train vectors, with the inference speed
(documents per CPU-second, 1 worker).

Its first run (results/infer_study_paper.md) also compared inferring a joint
model's documents with the joint hinge (a step of d per (word, context,
negative) tuple of the window, as training does) against the word-document
hinge alone: 0.671 vs 0.674 macro-F1, at 129 vs 2,137 documents per CPU-s.
The kernel has since kept only the word-document hinge (the joint variant
is in git history, commit b10e7de).

    python benchmarks/infer_study.py [--settings paper|defaults] [--epochs 10]

Writes benchmarks/results/infer_study.md and .json.
"""
from __future__ import annotations

import argparse
import gzip
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

SETTINGS = {
    "paper": dict(vector_size=100, window=10, negative=2, margin=0.15, alpha=0.04,
                  sample=1e-3, min_count=5),
    "defaults": {},
}


def load_20news(data: Path):
    news = data / "20news"
    with gzip.open(news / "text.txt.gz", "rt", encoding="utf-8") as f:
        docs = [line.split() for line in f.read().split("\n")]
    if docs and not docs[-1]:
        docs.pop()
    labels = np.loadtxt(news / "label.txt", dtype=int)
    split = [line.strip() for line in open(news / "split.txt")]
    train = np.array([i for i, s in enumerate(split) if s == "train"])
    test = np.array([i for i, s in enumerate(split) if s != "train"])
    return docs, labels, train, test


def infer(model, docs, epochs, alpha):
    """The kernel call of model.infer_vectors, timed."""
    from jose import _core
    from jose.model import encode_documents
    tokens, offsets = encode_documents(docs, model.vocab.key_to_index)
    keep, thresh, alias = model._get_samplers()
    out = np.empty((len(offsets) - 1, model.vector_size), dtype=np.float32)
    cpu = time.process_time()
    _core.infer_documents(model.wv.vectors, out, tokens, offsets, keep, thresh, alias,
                          model.negative, model.margin, model.update_rule, alpha,
                          min(model.min_alpha / model.alpha, 1.0), epochs, model.seed, 1)
    return out, time.process_time() - cpu


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=Path(os.environ.get(
        "JOSE_DATA", HERE.parent.parent / "shared" / "data")))
    p.add_argument("--settings", choices=sorted(SETTINGS), default="paper")
    p.add_argument("--epochs", type=int, default=10, help="training epochs")
    p.add_argument("--workdir", type=Path, default=Path("/tmp/jose-infer-study"))
    p.add_argument("--variants", nargs="+", default=["5:1", "10:1", "20:1", "10:2", "20:2",
                                                      "40:1"],
                   help="epochs:alpha-multiplier (of the model's alpha)")
    p.add_argument("--out", type=Path, default=HERE / "results")
    args = p.parse_args(argv)
    from jose import JoSE
    from jose.evaluation import knn_classify

    docs, labels, train, test = load_20news(args.data)
    path = args.workdir / f"{args.settings}-{args.epochs}"
    if (path / "model.json").exists():
        model = JoSE.load(path)
    else:
        model = JoSE([docs[i] for i in train], epochs=args.epochs, workers=2, seed=1,
                     **SETTINGS[args.settings])
        model.train()
        args.workdir.mkdir(parents=True, exist_ok=True)
        model.save(path)
    print(f"jose from {jose_origin()}; model {model}", flush=True)
    test_docs = [docs[i] for i in test]
    y = np.concatenate([labels[train], labels[test]])
    rows = []
    for variant in args.variants:
        epochs, mult = variant.split(":")
        X, cpu = infer(model, test_docs, int(epochs), model.alpha * float(mult))
        f1 = knn_classify(np.concatenate([model.dv.vectors, X]), y, train_n=len(train),
                          k=3)["macro_f1"]
        rows.append(dict(epochs=int(epochs), alpha=model.alpha * float(mult),
                         macro_f1=f1, docs_per_cpu_s=len(test_docs) / cpu))
        print(f"{variant:14s} 3-NN macro-F1 {f1:.3f}  {len(test_docs) / cpu:8,.0f} docs/CPU-s",
              flush=True)
    lines = [f"# Inference variants, 20 Newsgroups ({time.strftime('%Y-%m-%d')}, load average "
             f"{os.getloadavg()[0]:.1f})", "",
             f"Model: {model} trained {args.epochs} epochs on the train split "
             f"({args.settings} settings). `python benchmarks/infer_study.py "
             f"{' '.join(sys.argv[1:] if argv is None else argv)}`", "",
             "| epochs | alpha | 3-NN macro-F1 (inferred test vs trained train) | "
             "docs per CPU-s |", "|---|---|---|---|"]
    lines += [f"| {r['epochs']} | {r['alpha']:g} | {r['macro_f1']:.3f} | "
              f"{r['docs_per_cpu_s']:,.0f} |" for r in rows]
    args.out.mkdir(parents=True, exist_ok=True)
    stem = f"infer_study_{args.settings}"
    (args.out / f"{stem}.md").write_text("\n".join(lines) + "\n")
    (args.out / f"{stem}.json").write_text(json.dumps(dict(rows=rows, settings=args.settings),
                                                      indent=1))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
