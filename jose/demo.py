"""`jose-demo`: the main job end to end on the corpus shipped in the package.

Trains JoSE on 500 documents from five 20 Newsgroups groups, then prints the
nearest words to a few probes, the nearest documents to one document, where an
unseen sentence lands, and how well spherical k-means on the document vectors
recovers the five groups.
"""
from __future__ import annotations

import argparse
import sys
import time
from collections import Counter

import numpy as np

PROBES = ("space", "hockey", "graphics", "israel", "doctor")
UNSEEN = "the shuttle launch to the orbit of the moon was delayed by nasa".split()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="jose-demo", description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=None,
                        help="training epochs (default: the library's, 'auto': 20 for this "
                             "small corpus)")
    parser.add_argument("--workers", type=int, default=None,
                        help="threads (default: the machine's cores)")
    parser.add_argument("--update-rule", choices=("paper", "reference"), default=None,
                        help="update rule (default: the library's default)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    args = parser.parse_args(argv)

    from . import JoSE, TaggedDocument
    from .datasets import load_demo_corpus
    from .evaluation import SphericalKMeans, clustering_scores

    data = load_demo_corpus()
    corpus = [TaggedDocument(words, [i]) for i, words in enumerate(data.documents)]
    n_tokens = sum(len(d) for d in data.documents)
    print(f"corpus: {len(corpus)} documents, {n_tokens:,} tokens, "
          f"groups: {', '.join(data.label_names)}")
    # jose's defaults (objective, window, negative, margin, ...), as a new user gets them
    params = dict(workers=args.workers, seed=args.seed)
    if args.epochs is not None:
        params["epochs"] = args.epochs
    if args.update_rule:
        params["update_rule"] = args.update_rule
    start = time.perf_counter()
    model = JoSE(corpus, **params).train()
    seconds = time.perf_counter() - start
    print(f"trained {model!r} in {seconds:.1f} s "
          f"({n_tokens * model.epochs / seconds / 1e3:,.0f}K words/s); "
          f"loss {model.epoch_loss(0):.4f} -> {model.get_latest_training_loss():.4f}")

    print("\nnearest words")
    for word in PROBES:
        if word in model.wv:
            near = ", ".join(w for w, _ in model.wv.most_similar(word, topn=8))
            print(f"  {word:>9}: {near}")

    print(f"\nnearest documents to document 0 ({data.labels[0]}):")
    for tag, sim in model.dv.most_similar(0, topn=5):
        preview = " ".join(data.documents[tag][:10])
        print(f"  {sim:.3f}  {data.labels[tag]:<22} {preview} ...")

    vec = model.infer_vector(UNSEEN)
    near = model.dv.most_similar([vec], topn=10)
    votes = Counter(data.labels[tag] for tag, _ in near).most_common()
    print(f"\nunseen text: {' '.join(UNSEEN)!r}")
    print("  its 10 nearest documents: " + ", ".join(f"{g} x{n}" for g, n in votes))

    truth = np.array([data.label_names.index(g) for g in data.labels])
    pred = SphericalKMeans(n_clusters=len(data.label_names), n_init=5,
                           random_state=args.seed).fit_predict(model.dv.vectors)
    scores = clustering_scores(truth, pred)
    print(f"\nspherical k-means (k={len(data.label_names)}) on document vectors: "
          + "  ".join(f"{k.upper()} {v:.3f}" for k, v in scores.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
