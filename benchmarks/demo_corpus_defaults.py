"""Round 2 vs round 3 defaults on the demo corpus shipped in the package.

jose/data/news5.txt.gz: 500 documents of 5 newsgroups, 86 K tokens -- the
smallest corpus shape we have. Spherical K-Means NMI (k = 5, 10 runs) of the
trained document vectors, per training seed, 1 worker (repeatable).

    python benchmarks/demo_corpus_defaults.py [--seeds 5] [--workers 1]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from local_jose import use_local_build  # noqa: E402

use_local_build()

SETTINGS = {
    "round 2 defaults (10 epochs, sample 1e-3, margin 0.3)": dict(epochs=10, sample=1e-3,
                                                                   margin=0.3),
    "round 2 at 20 epochs": dict(epochs=20, sample=1e-3, margin=0.3),
    "defaults (epochs, margin, sample 'auto')": dict(),
}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--workers", type=int, default=1)
    args = p.parse_args(argv)
    from jose import JoSE, TaggedDocument
    from jose.datasets import load_demo_corpus
    from jose.evaluation import evaluate_clustering

    data = load_demo_corpus()
    corpus = [TaggedDocument(words, [i]) for i, words in enumerate(data.documents)]
    labels = np.unique(data.labels, return_inverse=True)[1]
    print("| settings | epochs | margin | sample | NMI sph. K-Means per seed | mean |")
    print("|---|---:|---:|---:|---|---:|")
    for name, params in SETTINGS.items():
        scores = []
        for seed in range(1, args.seeds + 1):
            model = JoSE(corpus, workers=args.workers, seed=seed, **params).train()
            res = evaluate_clustering(model.dv.vectors, labels, len(data.label_names),
                                      method="skmeans", runs=10, random_state=0)
            scores.append(res["nmi"][0] if isinstance(res["nmi"], tuple) else res["nmi"])
        print(f"| {name} | {model.epochs} | {model.margin:g} | {model.sample:.2g} | "
              f"{', '.join(f'{s:.3f}' for s in scores)} | {np.mean(scores):.3f} |")


if __name__ == "__main__":
    main()
