"""``jose-eval``: evaluate document and word vectors from the command line.

Subcommands::

    jose-eval cluster    VECS LABELS [--k 20] [--method kmeans|skmeans] [--runs 10] [--seed 0]
                         [--plot MAP.png] [--plot-method pca|tsne]
    jose-eval classify   VECS LABELS [--train-n 11314] [--k 3]
    jose-eval similarity WORDVECS PAIRS [PAIRS ...]
    jose-eval analogy    WORDVECS QUESTIONS [--method 3cosadd|3cosmul] [--restrict-vocab N]

VECS and WORDVECS are word2vec text or binary files (detected automatically)
or a saved jose model directory (one holding ``model.json``). Document
vectors read from a word2vec file whose keys are all integers are ordered by
those integers (the JoSE program keys document rows by line number). LABELS
holds one integer label per line. Every subcommand accepts ``--json``. User
errors print ``jose-eval: error: ...`` and exit with status 2.
"""

import argparse
import json
import math
import os
import sys

import numpy as np

from . import evaluation
from .w2v_format import read_word2vec

PROG = "jose-eval"


def main(argv=None) -> int:
    """Run ``jose-eval`` with ``argv`` (default ``sys.argv[1:]``); return the exit status."""
    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error already printed by argparse
        return exc.code if isinstance(exc.code, int) else 2
    try:
        result = args.run(args)
    except (ValueError, OSError, ImportError) as exc:
        print(f"{PROG}: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(_jsonable(result), allow_nan=False))
    else:
        print(args.render(result))
    return 0


def _one_line(exc):
    """A one-line description of a user error."""
    if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        return f"{exc.filename}: {exc.strerror}"
    return " ".join(str(exc).split())


# --------------------------------------------------------------------------
# Argument parsing
# --------------------------------------------------------------------------

def _build_parser():
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true",
                        help="print one JSON object instead of a table")

    parser = argparse.ArgumentParser(
        prog=PROG, description="Evaluate JoSE (or any word2vec-format) embeddings.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    cluster = commands.add_parser(
        "cluster", parents=[common],
        help="cluster document vectors; MI, NMI, ARI and purity as mean ± std over runs")
    _add_vectors_and_labels(cluster)
    cluster.add_argument("--k", type=int, default=20, help="number of clusters (default 20)")
    cluster.add_argument("--method", choices=("kmeans", "skmeans"), default="kmeans",
                         help="K-Means or spherical K-Means, each with n_init=1 (default kmeans)")
    cluster.add_argument("--runs", type=int, default=10, help="number of runs (default 10)")
    cluster.add_argument("--seed", type=int, default=0, help="seed for the runs (default 0)")
    cluster.add_argument("--plot", metavar="PNG",
                         help="also draw the document vectors in 2-D, coloured by the true "
                              "labels and by the first run's clusters (needs matplotlib)")
    cluster.add_argument("--plot-method", choices=("pca", "tsne"), default="pca",
                         help="the 2-D projection of --plot (default pca)")
    cluster.set_defaults(run=_run_cluster, render=_render_cluster)

    classify = commands.add_parser(
        "classify", parents=[common],
        help="k-NN classification: train on the first rows, test on the rest")
    _add_vectors_and_labels(classify)
    classify.add_argument("--train-n", type=int, default=11314,
                          help="number of leading training rows (default 11314, 20news)")
    classify.add_argument("--k", type=int, default=3, help="neighbours (default 3)")
    classify.set_defaults(run=_run_classify, render=_render_classify)

    similarity = commands.add_parser(
        "similarity", parents=[common],
        help="Spearman correlation with human word-similarity scores")
    similarity.add_argument("wordvecs", metavar="WORDVECS",
                            help="word2vec file or jose model directory")
    similarity.add_argument("pairs", metavar="PAIRS", nargs="+",
                            help="files of 'word1 word2 score' lines")
    similarity.set_defaults(run=_run_similarity, render=_render_similarity)

    analogy = commands.add_parser(
        "analogy", parents=[common], help="accuracy on analogy questions (questions-words format)")
    analogy.add_argument("wordvecs", metavar="WORDVECS",
                         help="word2vec file or jose model directory")
    analogy.add_argument("questions", metavar="QUESTIONS", help="analogy questions file")
    analogy.add_argument("--method", choices=("3cosadd", "3cosmul"), default="3cosadd",
                         help="scoring rule (default 3cosadd)")
    analogy.add_argument("--restrict-vocab", type=int, default=None, metavar="N",
                         help="only the first N words are candidates (default all)")
    analogy.set_defaults(run=_run_analogy, render=_render_analogy)
    return parser


def _add_vectors_and_labels(parser):
    parser.add_argument("vecs", metavar="VECS",
                        help="document vectors: word2vec file or jose model directory")
    parser.add_argument("labels", metavar="LABELS", help="one integer label per line")


# --------------------------------------------------------------------------
# Loading inputs
# --------------------------------------------------------------------------

def _load_model(path):
    """Load a saved jose model directory."""
    if not os.path.isfile(os.path.join(path, "model.json")):
        raise ValueError(f"{path} is a directory but not a saved jose model (no model.json)")
    from .model import JoSE

    return JoSE.load(path)


def _load_document_vectors(path):
    """Document vectors, in document order, from a word2vec file or a model directory."""
    if os.path.isdir(path):
        return np.asarray(_load_model(path).dv.vectors)
    keys, vectors = read_word2vec(path)
    try:
        numbers = [int(key) for key in keys]
    except ValueError:
        return vectors  # string tags: keep the file's order
    if len(set(numbers)) != len(numbers):
        raise ValueError(f"{path}: document keys are integers but not unique")
    return vectors[np.argsort(numbers, kind="stable")]


def _load_word_vectors(path):
    """``(keys, vectors)`` of word vectors from a word2vec file or a model directory."""
    if os.path.isdir(path):
        wv = _load_model(path).wv
        return [str(key) for key in wv.index_to_key], np.asarray(wv.vectors)
    return read_word2vec(path)


def _read_labels(path, n_vectors):
    """Integer labels, one per line; their count must equal ``n_vectors``."""
    with open(path, encoding="utf-8") as handle:
        lines = handle.read().rstrip().splitlines()
    labels = []
    for lineno, line in enumerate(lines, start=1):
        try:
            labels.append(int(line))
        except ValueError:
            raise ValueError(f"{path}: line {lineno}: {line.strip()!r} is not an integer label") from None
    if len(labels) != n_vectors:
        raise ValueError(f"{path} has {len(labels)} labels but there are {n_vectors} document vectors")
    return np.array(labels)


# --------------------------------------------------------------------------
# Subcommands: compute
# --------------------------------------------------------------------------

def _run_cluster(args):
    if args.plot:
        _check_plot_output(args.plot)        # before the clustering, not after it
    vectors = _load_document_vectors(args.vecs)
    labels = _read_labels(args.labels, len(vectors))
    scores = evaluation.evaluate_clustering(
        vectors, labels, args.k, method=args.method, runs=args.runs, random_state=args.seed,
        return_labels=True)
    per_run = scores.pop("per_run")
    clusters = scores.pop("labels")
    result = {
        "command": "cluster", "vectors": args.vecs, "n": len(vectors), "dim": vectors.shape[1],
        "method": args.method, "k": args.k, "runs": args.runs, "seed": args.seed,
        "scores": {metric: {"mean": mean, "std": std, "per_run": per_run[metric]}
                   for metric, (mean, std) in scores.items()},
    }
    if args.plot:
        _plot_clusters(args.plot, vectors, labels, clusters, args)
        result["plot"] = args.plot
    return result


def _check_plot_output(path):
    from .plot import require_matplotlib

    require_matplotlib()                     # ImportError naming the [plot] extra
    if not path.lower().endswith(".png"):
        raise ValueError(f"--plot {path}: the picture is a PNG; give a name ending in .png")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise ValueError(f"--plot {path}: no directory {parent}")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ValueError(f"--plot {path}: {parent} is not writable")


def _plot_clusters(path, vectors, labels, clusters, args):
    """Two maps of the same projection: true labels, then the first run's clusters."""
    from matplotlib.figure import Figure

    from .atomic import atomic_file
    from .plot import document_map, project

    points = project(vectors, args.plot_method, random_state=args.seed)
    fig = Figure(figsize=(11, 4.8))
    left, right = fig.subplots(1, 2)
    name = "PCA" if args.plot_method == "pca" else "t-SNE"
    document_map(points, labels, ax=left, title=f"true labels ({name})")
    document_map(points, clusters, ax=right,
                 title=f"{args.method} clusters, k={args.k}, run 1 ({name})")
    fig.tight_layout()
    with atomic_file(path) as f:
        fig.savefig(f, format="png", dpi=100)


def _run_classify(args):
    vectors = _load_document_vectors(args.vecs)
    labels = _read_labels(args.labels, len(vectors))
    scores = evaluation.knn_classify(vectors, labels, train_n=args.train_n, k=args.k)
    return {"command": "classify", "vectors": args.vecs, "k": args.k, **scores}


def _run_similarity(args):
    keys, vectors = _load_word_vectors(args.wordvecs)
    # Case-insensitive lookup (the pair words are lower-cased); the first of
    # several keys that lower-case alike wins.
    lookup = {}
    for key, vector in zip(keys, vectors):
        lookup.setdefault(key.lower(), vector)
    results = []
    for path in args.pairs:
        scores = evaluation.word_similarity(lookup, evaluation.read_similarity_pairs(path))
        results.append({"file": path, "name": os.path.basename(path), **scores})
    return {"command": "similarity", "vectors": args.wordvecs, "results": results}


def _run_analogy(args):
    keys, vectors = _load_word_vectors(args.wordvecs)
    questions = evaluation.read_analogies(args.questions)
    scores = evaluation.analogy_accuracy(
        keys, vectors, questions, method=args.method, restrict_vocab=args.restrict_vocab)
    return {"command": "analogy", "vectors": args.wordvecs, "method": args.method, **scores}


# --------------------------------------------------------------------------
# Subcommands: render
# --------------------------------------------------------------------------

def _render_cluster(result):
    title = (f"{result['method']}, k={result['k']}, {result['runs']} runs (seed {result['seed']}), "
             f"{result['n']} vectors of dim {result['dim']}")
    rows = [(metric.upper() if metric != "purity" else "Purity",
             f"{scores['mean']:.4f} ± {scores['std']:.4f}")
            for metric, scores in result["scores"].items()]
    plot = f"\ndocument map written to {result['plot']}" if "plot" in result else ""
    return title + "\n" + _table(("metric", "mean ± std"), rows) + plot


def _render_classify(result):
    title = f"{result['k']}-NN, {result['n_train']} train / {result['n_test']} test vectors"
    rows = [(name, _number(result[key])) for name, key in
            (("Macro-F1", "macro_f1"), ("Micro-F1", "micro_f1"), ("Accuracy", "accuracy"))]
    return title + "\n" + _table(("metric", "score"), rows)


def _render_similarity(result):
    rows = [(item["name"], _number(item["spearman"]),
             f"{item['pairs_covered']}/{item['pairs_total']}")
            for item in result["results"]]
    return _table(("pairs file", "spearman", "covered/total"), rows)


def _render_analogy(result):
    rows = [(section, _number(counts["accuracy"]), str(counts["correct"]),
             f"{counts['covered']}/{counts['total']}")
            for section, counts in result["per_section"].items()]
    rows.append(("TOTAL", _number(result["accuracy"]), str(result["correct"]),
                 f"{result['covered']}/{result['total']}"))
    return (f"method {result['method']}\n"
            + _table(("section", "accuracy", "correct", "covered/total"), rows))


def _number(value):
    return "n/a" if math.isnan(value) else f"{value:.4f}"


def _table(headers, rows):
    """Aligned columns: the first left-aligned, the others right-aligned."""
    rows = [tuple(headers)] + [tuple(row) for row in rows]
    widths = [max(len(row[i]) for row in rows) for i in range(len(headers))]
    lines = []
    for row in rows:
        cells = [row[0].ljust(widths[0])] + [cell.rjust(w) for cell, w in zip(row[1:], widths[1:])]
        lines.append("  ".join(cells).rstrip())
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _jsonable(value):
    """Convert tuples, numpy scalars and NaN (to null) for strict JSON."""
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    if isinstance(value, (float, np.floating)):
        return None if math.isnan(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


if __name__ == "__main__":
    sys.exit(main())
