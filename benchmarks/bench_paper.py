"""Reproduce the JoSE paper's experiments on ../shared/data.

Documents (20 Newsgroups, the paper's protocol): train with the paper's
settings (100-d, window 10, 2 negatives, margin 0.15, alpha 0.04, sample 1e-3,
min_count 5, 20 epochs) for each update rule -- and gensim Doc2Vec PV-DBOW with
the same dimension, window and epochs when gensim is installed -- then
  * cluster the document vectors with K-Means and spherical K-Means, k = 20,
    10 runs of n_init = 1: MI, NMI, ARI, purity as mean +- std;
  * classify with 3-NN (Euclidean), trained on the 11,314 train documents and
    tested on the 7,532 others: macro- and micro-F1.
Words (--words): train on wiki_en_sample/tokens.txt.gz and report Spearman's
rho on WS-353, MEN and SimLex-999 for the center, context and summed tables,
beside gensim Word2Vec skip-gram on the same tokens when gensim is installed.

Writes benchmarks/results/paper.md (+ .json) and, with matplotlib, the figures
paper.png (NMI of every system), paper_training.png (both hinges per epoch)
and paper_documents.png (a PCA map of the document vectors by newsgroup).

    python benchmarks/bench_paper.py                 # documents, both rules, gensim if present
    python benchmarks/bench_paper.py --words         # word similarity too
    python benchmarks/bench_paper.py --epochs 5 --runs 3 --rules paper   # a quick look
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
from local_jose import jose_origin, use_local_build  # noqa: E402

use_local_build()
DATA = Path(os.environ.get("JOSE_DATA", ROOT.parent / "shared" / "data"))   # JOSE_DATA: elsewhere
PAPER = dict(vector_size=100, window=10, negative=2, margin=0.15, alpha=0.04,
             sample=1e-3, min_count=5)
SIM_SETS = ("EN-WS-353-ALL.txt", "EN-MEN-TR-3k.txt", "EN-SIMLEX-999.txt")
#: What the JoSE C program reaches on the same 20news input (issue #4).
C_PROGRAM = {"nmi_kmeans": 0.559, "nmi_skmeans": 0.556, "macro_f1": 0.656}


def train_file(path, epochs, workers, seed, cls=None, callbacks=(), **params):
    """Train JoSE (or the subclass `cls`) on a one-document-per-line file
    through the streaming path, calling `callbacks` as train() does; returns
    the model and its training seconds (set-up not included)."""
    from jose import JoSE

    model = (cls or JoSE)(corpus_file=path, epochs=epochs, workers=workers, seed=seed,
                          **params)
    start = time.perf_counter()
    model.train(callbacks=callbacks)
    seconds = time.perf_counter() - start
    model.release_corpus()
    return model, seconds


def evaluate_documents(X, labels, train_n, runs, n_clusters=20, train_idx=None, test_idx=None):
    """Clustering (k = n_clusters, `runs` runs each) and 3-NN scores of document vectors X;
    3-NN trains on the first train_n rows, or on train_idx and tests on test_idx."""
    from jose.evaluation import evaluate_clustering, knn_classify
    row = {}
    for method in ("kmeans", "skmeans"):
        res = evaluate_clustering(X, labels, n_clusters, method=method, runs=runs, random_state=0)
        for metric in ("mi", "nmi", "ari", "purity"):
            row[f"{metric}_{method}"] = res[metric]
    knn = knn_classify(X, labels, train_n=train_n, train_idx=train_idx, test_idx=test_idx, k=3)
    row["macro_f1"], row["micro_f1"] = knn["macro_f1"], knn["micro_f1"]
    return row


def gensim_doc2vec(path, epochs, workers, seed, **params):
    """gensim Doc2Vec PV-DBOW on a one-document-per-line file (gzip or plain);
    `params` override the paper's dimension/window/min_count/sample."""
    from gensim.models.doc2vec import Doc2Vec, TaggedDocument
    import gzip
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        docs = [TaggedDocument(line.split(), [i]) for i, line in enumerate(f)]
    settings = {**dict(dm=0, vector_size=100, window=10, min_count=5, sample=1e-3), **params}
    start = time.perf_counter()
    model = Doc2Vec(docs, epochs=epochs, workers=workers, seed=seed, **settings)
    seconds = time.perf_counter() - start
    return np.asarray(model.dv.vectors), seconds


def documents(args):
    labels = np.loadtxt(args.data / "20news" / "label.txt", dtype=int)
    train_n = sum(1 for line in open(args.data / "20news" / "split.txt")
                  if line.strip() == "train")
    corpus = args.data / "20news" / "text.txt.gz"
    rows, trained = [], {}
    for rule in args.rules:
        model, seconds = train_file(corpus, args.epochs, args.workers, args.seed,
                                    update_rule=rule, shuffle=not args.no_shuffle, **PAPER)
        order = ", file order" if args.no_shuffle else ""
        row = {"system": f"jose ({rule}{order})", "train_s": seconds,
               **evaluate_documents(model.dv.vectors, labels, train_n, args.runs)}
        rows.append(row)
        trained[rule] = model
        print(format_row(row), flush=True)
    model_figures(trained, labels, args.out)
    if not args.no_gensim:
        try:
            X, seconds = gensim_doc2vec(corpus, args.epochs, args.workers, args.seed)
        except ImportError:
            print("gensim is not installed: no Doc2Vec baseline", file=sys.stderr)
        else:
            row = {"system": "gensim Doc2Vec PV-DBOW", "train_s": seconds,
                   **evaluate_documents(X, labels, train_n, args.runs)}
            rows.append(row)
            print(format_row(row), flush=True)
    return rows


def format_row(row):
    return (f"{row['system']}: NMI kmeans {row['nmi_kmeans'][0]:.3f} skmeans "
            f"{row['nmi_skmeans'][0]:.3f}, 3-NN macro-F1 {row['macro_f1']:.3f}, "
            f"{row['train_s']:.0f} s")


def words(args):
    from jose.evaluation import read_similarity_pairs, word_similarity
    from jose.keyedvectors import KeyedVectors, normalize_rows

    sets = {name: read_similarity_pairs(args.data / "wordsim" / name) for name in SIM_SETS}
    corpus = args.data / "wiki_en_sample" / "tokens.txt.gz"
    rows = []

    def score(system, kv, seconds):
        row = {"system": system, "train_s": seconds}
        for name, pairs in sets.items():
            res = word_similarity(kv, pairs)
            row[name] = (res["spearman"], res["pairs_covered"], res["pairs_total"])
        rows.append(row)
        print(system, {k: round(v[0], 3) for k, v in row.items() if k in sets}, flush=True)

    for rule in args.rules:
        model, seconds = train_file(corpus, args.word_epochs, args.workers, args.seed,
                                    update_rule=rule, **PAPER)
        score(f"jose ({rule}) center u", model.wv, seconds)
        score(f"jose ({rule}) context v", model.cv, seconds)
        summed = normalize_rows(model.wv.vectors + model.cv.vectors)
        score(f"jose ({rule}) u + v", KeyedVectors(model.wv.index_to_key, summed), seconds)
    if not args.no_gensim:
        try:
            from gensim.models import Word2Vec
        except ImportError:
            print("gensim is not installed: no Word2Vec baseline", file=sys.stderr)
        else:
            import gzip
            with gzip.open(corpus, "rt", encoding="utf-8") as f:
                sentences = [line.split() for line in f]
            start = time.perf_counter()
            w2v = Word2Vec(sentences, sg=1, vector_size=100, window=10, epochs=args.word_epochs,
                           min_count=5, workers=args.workers, seed=args.seed)
            score("gensim Word2Vec skip-gram", w2v.wv, time.perf_counter() - start)
    return rows


def markdown(doc_rows, word_rows, args):
    lines = [f"# Paper reproduction ({time.strftime('%Y-%m-%d')}, {cpu_model()}, "
             f"{os.cpu_count()} cores, workers={args.workers}, seed={args.seed})", "",
             f"jose from `{jose_origin()}`.", ""]
    if doc_rows:
        lines += [f"## 20 Newsgroups documents ({args.epochs} epochs, {args.runs} clustering runs)", "",
                  "| system | NMI K-Means | NMI sph. K-Means | ARI K-Means | purity K-Means | "
                  "3-NN macro-F1 | 3-NN micro-F1 | train s |",
                  "|---|---|---|---|---|---|---|---|"]
        for r in doc_rows:
            lines.append(f"| {r['system']} | {pm(r['nmi_kmeans'])} | {pm(r['nmi_skmeans'])} | "
                         f"{pm(r['ari_kmeans'])} | {pm(r['purity_kmeans'])} | "
                         f"{r['macro_f1']:.3f} | {r['micro_f1']:.3f} | {r['train_s']:.0f} |")
        lines += ["", f"The JoSE C program on the same input: NMI {C_PROGRAM['nmi_kmeans']} (K-Means) / "
                  f"{C_PROGRAM['nmi_skmeans']} (spherical), 3-NN macro-F1 {C_PROGRAM['macro_f1']}.", ""]
    if word_rows:
        lines += [f"## Word similarity, wiki_en_sample ({args.word_epochs} epochs; Spearman rho, "
                  f"pairs covered)", "", "| system | " + " | ".join(SIM_SETS) + " | train s |",
                  "|---|" + "---|" * (len(SIM_SETS) + 1)]
        for r in word_rows:
            cells = " | ".join(f"{r[s][0]:.3f} ({r[s][1]}/{r[s][2]})" for s in SIM_SETS)
            lines.append(f"| {r['system']} | {cells} | {r['train_s']:.0f} |")
        lines.append("")
    lines.append(f"Command: `python benchmarks/bench_paper.py {shlex.join(sys.argv[1:])}`")
    return "\n".join(lines) + "\n"


def pm(pair):
    return f"{pair[0]:.3f} ± {pair[1]:.3f}"


def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _figure(size):
    """A matplotlib Figure (no pyplot, no display needed), or None without matplotlib."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        print("matplotlib is not installed: no figures", file=sys.stderr)
        return None
    return Figure(figsize=size)


def figure(doc_rows, out):
    """results/paper.png: NMI of every system, with the JoSE C program's line."""
    fig = _figure((7, 3.5))
    if fig is None:
        return
    ax = fig.subplots()
    names = [r["system"] for r in doc_rows]
    x = np.arange(len(names))
    for i, (key, label) in enumerate((("nmi_kmeans", "NMI K-Means"),
                                      ("nmi_skmeans", "NMI sph. K-Means"))):
        ax.bar(x + (i - 0.5) * 0.35, [r[key][0] for r in doc_rows], 0.35,
               yerr=[r[key][1] for r in doc_rows], label=label)
    ax.axhline(C_PROGRAM["nmi_kmeans"], color="gray", ls="--", lw=1, label="jose.c (K-Means)")
    ax.set_xticks(x, names, fontsize=8)
    ax.set_ylabel("NMI")
    ax.set_title("20 Newsgroups document clustering")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "paper.png", dpi=120)


def model_figures(trained, labels, out):
    """results/paper_training.png (both hinges per epoch, one panel per rule) and
    results/paper_documents.png (the first rule's document vectors by newsgroup)."""
    from jose import plot

    fig = _figure((4.5 * len(trained), 3.2))
    if fig is None or not trained:
        return
    out.mkdir(parents=True, exist_ok=True)
    for ax, (rule, model) in zip(np.atleast_1d(fig.subplots(1, len(trained))), trained.items()):
        plot.training_curve(model, ax=ax)
        ax.set_title(f"training loss, {rule} rule")
    fig.tight_layout()
    fig.savefig(out / "paper_training.png", dpi=120)
    rule, model = next(iter(trained.items()))
    fig = _figure((7, 5.5))
    plot.document_map(model.dv, labels, ax=fig.subplots(),
                      title=f"20 Newsgroups documents, {rule} rule (PCA), by newsgroup")
    fig.tight_layout()
    fig.savefig(out / "paper_documents.png", dpi=120)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rules", nargs="+", default=["paper", "reference"])
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--word-epochs", type=int, default=10)
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--workers", type=int, default=os.cpu_count())
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--words", action="store_true", help="also the word-similarity benchmark")
    p.add_argument("--no-documents", action="store_true")
    p.add_argument("--no-gensim", action="store_true")
    p.add_argument("--no-shuffle", action="store_true",
                   help="train jose in file order, as jose.c does (20news is sorted by group)")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    p.add_argument("--data", type=Path, default=DATA,
                   help="the shared data directory (default ../shared/data)")
    args = p.parse_args(argv)
    if not args.data.is_dir():
        p.error(f"no data at {args.data}: the benchmarks read ../shared/data beside the "
                f"repository (or give --data DIR)")
    doc_rows = [] if args.no_documents else documents(args)
    word_rows = words(args) if args.words else []
    args.out.mkdir(parents=True, exist_ok=True)
    text = markdown(doc_rows, word_rows, args)
    (args.out / "paper.md").write_text(text)
    (args.out / "paper.json").write_text(json.dumps(
        {"documents": doc_rows, "words": word_rows, "argv": sys.argv[1:]}, indent=1))
    if doc_rows:
        figure(doc_rows, args.out)
    print(text)


if __name__ == "__main__":
    main()
