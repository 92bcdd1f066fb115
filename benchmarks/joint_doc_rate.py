"""One-off study: the joint objective's document step at alpha / contexts vs alpha.

Results and reading: benchmarks/results/joint_doc_rate.md. The "mean" rate
was removed from the kernel after this run; to repeat it, check out commit
ee6ba1b, where `Trainer(..., doc_step_mean=True)` selected it.
"""
import gzip
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from local_jose import use_local_build  # noqa: E402

use_local_build()
from jose import JoSE  # noqa: E402
from jose.evaluation import evaluate_clustering, knn_classify  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "20news"


def main():
    lines = gzip.open(DATA / "text.txt.gz", "rt").read().split("\n")[:18846]
    labels = np.array([int(x) for x in open(DATA / "label.txt").read().split()])
    perm = np.random.default_rng(0).permutation(len(lines))
    docs, y = [lines[i].split() for i in perm], labels[perm]
    train = perm < 11314
    order = np.r_[np.where(train)[0], np.where(~train)[0]]
    for objective in ("separate", "joint"):
        t = time.time()
        m = JoSE(docs, vector_size=100, window=10, negative=2, margin=0.15, epochs=10,
                 workers=2, seed=1, objective=objective).train()
        X = m.dv.vectors
        knn = knn_classify(X[order], y[order], train_n=int(train.sum()), k=3)
        nmi = evaluate_clustering(X, y, 20, method="kmeans", runs=3, random_state=0)["nmi"]
        print(objective, f"{time.time() - t:.0f}s", "nmi", nmi, "3-NN", knn["macro_f1"])


if __name__ == "__main__":
    main()
