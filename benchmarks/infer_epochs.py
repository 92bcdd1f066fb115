"""How many inference epochs new documents need, on corpora of several shapes.

For each corpus of benchmarks/robustness.py: train jose at its defaults on the
train documents (bydate split; stratified 70/30 for small and small2), infer
the test documents with 1, 3, 5 epochs and with the model's own, and score
3-NN macro-F1 of the inferred test vectors against the trained train vectors.
Speed is inference documents per CPU-second at 1 worker.

    python benchmarks/infer_epochs.py [--corpora short small medium long] [--seed 1]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from local_jose import jose_origin, use_local_build  # noqa: E402

use_local_build()
from robustness import corpora  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--corpora", nargs="+", default=["short", "small", "medium", "long"])
    p.add_argument("--epochs", nargs="+", type=int, default=[1, 3, 5])
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--workers", type=int, default=2, help="training threads (default 2)")
    args = p.parse_args(argv)
    from jose import JoSE
    from jose.evaluation import knn_classify

    print(f"jose from `{jose_origin()}`; command: `python benchmarks/infer_epochs.py "
          f"{' '.join(argv if argv is not None else sys.argv[1:])}`\n")
    print("| corpus | model epochs | inference epochs | 3-NN macro-F1 | docs per CPU-s |")
    print("|---|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as scratch:
        for corpus in corpora(args.corpora, scratch):
            lines = Path(corpus["path"]).read_text(encoding="utf-8").split("\n")[:corpus["n_docs"]]
            docs = [line.split() for line in lines]
            train, test = corpus["train_idx"], corpus["test_idx"]
            model = JoSE([docs[i] for i in train], workers=args.workers,
                         seed=args.seed).train()
            y = np.concatenate([corpus["labels"][train], corpus["labels"][test]])
            test_docs = [docs[i] for i in test]
            for epochs in sorted(set(args.epochs) | {model.epochs}):
                cpu = time.process_time()
                X = model.infer_vectors(test_docs, workers=1, epochs=epochs)
                cpu = time.process_time() - cpu
                f1 = knn_classify(np.concatenate([model.dv.vectors, X]), y,
                                  train_n=len(train), k=3)["macro_f1"]
                own = " (the model's)" if epochs == model.epochs else ""
                print(f"| {corpus['name']} | {model.epochs} | {epochs}{own} | {f1:.3f} | "
                      f"{len(test_docs) / max(cpu, 1e-9):,.0f} |", flush=True)


if __name__ == "__main__":
    main()
