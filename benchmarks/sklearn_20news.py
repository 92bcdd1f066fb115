"""The README's scikit-learn example on 20 Newsgroups: texts -> JoSEVectorizer
-> LogisticRegression, trained on the 11,314 train documents, scored on the
7,532 test documents (their vectors inferred).

    python benchmarks/sklearn_20news.py --epochs 10 --workers 2
"""
import argparse
import gzip
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from local_jose import jose_origin, use_local_build  # noqa: E402

use_local_build()


def main(argv=None):
    from bench_infer import default_data
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=default_data())
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--workers", type=int, default=2)
    args = p.parse_args(argv)
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from jose.sklearn import JoSEVectorizer

    news = args.data / "20news"
    with gzip.open(news / "text.txt.gz", "rt", encoding="utf-8") as f:
        texts = f.read().split("\n")[:18846]
    labels = np.loadtxt(news / "label.txt", dtype=int)
    train = np.array([s.strip() == "train" for s in open(news / "split.txt")])
    X_train = [t for t, s in zip(texts, train) if s]
    X_test = [t for t, s in zip(texts, train) if not s]
    clf = make_pipeline(
        JoSEVectorizer(vector_size=100, window=10, min_count=5, epochs=args.epochs,
                       workers=args.workers),
        LogisticRegression(max_iter=1000))
    start = time.perf_counter()
    clf.fit(X_train, labels[train])
    score = clf.score(X_test, labels[~train])
    print(f"jose from {jose_origin()}: test accuracy {score:.3f} "
          f"({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
