"""Evaluation of embeddings: clustering, k-NN classification, word similarity
and word analogies, following the protocols of the JoSE paper (Meng et al.,
NeurIPS 2019).

Only ``sklearn.base`` and ``sklearn.utils`` are imported with this module (the
spherical k-means estimator needs them); scikit-learn's metrics, clustering
and neighbours modules and ``scipy.stats``/``scipy.sparse`` are imported
inside the functions that use them.
"""

import math
import os

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array, check_is_fitted

__all__ = [
    "SphericalKMeans",
    "purity_score",
    "clustering_scores",
    "evaluate_clustering",
    "knn_classify",
    "read_similarity_pairs",
    "word_similarity",
    "read_analogies",
    "analogy_accuracy",
]

CLUSTERING_METRICS = ("mi", "nmi", "ari", "purity")


# ==========================================================================
# Spherical k-means
# ==========================================================================

def _unit_rows(X):
    """Return ``X`` with every row scaled to unit L2 norm; zero rows are an error."""
    norms = np.linalg.norm(X, axis=1)
    zero = np.flatnonzero(norms == 0)
    if zero.size:
        raise ValueError(
            f"row {zero[0]} has zero norm ({zero.size} zero rows in total); "
            f"spherical k-means needs a direction for every row"
        )
    return X / norms[:, None]


class SphericalKMeans(ClusterMixin, TransformerMixin, BaseEstimator):
    """K-means on the unit sphere with cosine similarity (Dhillon & Modha, 2001).

    Rows of the input are normalised to unit length. Each iteration assigns a
    point to the center with the largest cosine similarity and moves every
    center to the normalised sum of its points. This replaces the
    ``spherecluster`` package used by the JoSE paper, which no longer installs
    with current scikit-learn.

    Parameters
    ----------
    n_clusters : int, default=8
        Number of clusters.
    n_init : int, default=1
        Number of seedings; the run with the smallest inertia is kept. The JoSE
        paper's protocol uses a single seeding per run (``n_init=1``) and
        averages over 10 runs instead.
    max_iter : int, default=300
        Maximum number of assignment/update iterations per seeding.
    tol : float, default=1e-4
        Stop when the centers move less than this in total squared
        Euclidean distance, ``sum_j ||c_j_new - c_j_old||^2``.
    random_state : int, RandomState instance or None, default=None
        Seed for k-means++ seeding; a fixed value gives identical results.

    Attributes
    ----------
    cluster_centers_ : ndarray of shape (n_clusters, n_features)
        Unit-norm centers.
    labels_ : ndarray of shape (n_samples,)
        Cluster of every training row.
    inertia_ : float
        Sum over rows of the cosine distance ``1 - cos`` to the assigned center.
    n_iter_ : int
        Iterations run by the kept seeding.
    n_features_in_ : int
        Number of features seen in ``fit``.
    """

    def __init__(self, n_clusters=8, n_init=1, max_iter=300, tol=1e-4, random_state=None):
        self.n_clusters = n_clusters
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state

    def fit(self, X, y=None):
        """Cluster the rows of ``X``; ``y`` is ignored."""
        X = _unit_rows(check_array(X, dtype=[np.float64, np.float32]))
        self._check_params(X.shape[0])
        seeds = check_random_state(self.random_state).randint(
            np.iinfo(np.int32).max, size=self.n_init
        )
        best = None
        for seed in seeds:
            result = self._fit_once(X, np.random.default_rng(seed))
            if best is None or result[2] < best[2]:
                best = result
        self.cluster_centers_, self.labels_, self.inertia_, self.n_iter_ = best
        self.n_features_in_ = X.shape[1]
        return self

    def predict(self, X):
        """Index of the most cosine-similar center for each row of ``X``."""
        return np.argmax(self._similarities(X), axis=1)

    def transform(self, X):
        """Cosine distance ``1 - cos(x, c_j)`` from each row to each center.

        Distances, not similarities, so that smaller means closer as in
        scikit-learn's ``KMeans.transform``. Shape ``(n_samples, n_clusters)``.
        """
        return 1.0 - self._similarities(X)

    def _similarities(self, X):
        """Cosine similarity of each (normalised) row of ``X`` to each center."""
        check_is_fitted(self, "cluster_centers_")
        X = _unit_rows(check_array(X, dtype=[np.float64, np.float32]))
        if X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, but SphericalKMeans is expecting "
                f"{self.n_features_in_} features as input"
            )
        return X @ self.cluster_centers_.T

    def _check_params(self, n_samples):
        if not (isinstance(self.n_clusters, (int, np.integer)) and self.n_clusters >= 1):
            raise ValueError(f"n_clusters must be a positive integer, got {self.n_clusters!r}")
        if n_samples < self.n_clusters:
            raise ValueError(f"n_samples={n_samples} should be >= n_clusters={self.n_clusters}")
        if not (isinstance(self.n_init, (int, np.integer)) and self.n_init >= 1):
            raise ValueError(f"n_init must be a positive integer, got {self.n_init!r}")
        if not (isinstance(self.max_iter, (int, np.integer)) and self.max_iter >= 1):
            raise ValueError(f"max_iter must be a positive integer, got {self.max_iter!r}")
        if not self.tol >= 0:
            raise ValueError(f"tol must be >= 0, got {self.tol!r}")

    def _fit_once(self, X, rng):
        """One seeding plus Lloyd iterations; returns (centers, labels, inertia, n_iter)."""
        centers = _kmeans_plusplus(X, self.n_clusters, rng)
        n_iter = 0
        for n_iter in range(1, self.max_iter + 1):
            labels = _assign(X, centers, self.n_clusters)
            new_centers = _spherical_means(X, labels, self.n_clusters)
            # Center shift: sum_j ||c_j_new - c_j_old||^2.
            shift = float(np.sum((new_centers - centers) ** 2))
            centers = new_centers
            if shift <= self.tol:
                break
        # Final assignment so that labels_ match cluster_centers_.
        similarity = X @ centers.T
        labels = np.argmax(similarity, axis=1)
        # inertia = sum_i (1 - cos(x_i, c_{label_i}))
        inertia = float(np.sum(1.0 - similarity[np.arange(X.shape[0]), labels]))
        return centers, labels, inertia, n_iter


def _kmeans_plusplus(X, n_clusters, rng):
    """k-means++ seeding with cosine distance on unit rows.

    For unit vectors ||x - c||^2 = 2 (1 - cos(x, c)), so sampling the next
    center with probability proportional to the cosine distance to the nearest
    chosen center, D(x) = min_c (1 - x.c), is k-means++'s D^2 weighting.
    """
    n = X.shape[0]
    indices = [int(rng.integers(n))]
    distance = 1.0 - X @ X[indices[0]]
    for _ in range(1, n_clusters):
        weights = np.clip(distance.astype(np.float64), 0.0, None)
        total = weights.sum()
        if total > 0:
            nxt = int(rng.choice(n, p=weights / total))
        else:
            # Every point coincides with a chosen center: pick uniformly.
            nxt = int(rng.integers(n))
        indices.append(nxt)
        distance = np.minimum(distance, 1.0 - X @ X[nxt])
    return X[indices].copy()


def _assign(X, centers, n_clusters):
    """Label each row with its most similar center, re-seeding empty clusters.

    An empty cluster takes the point farthest from its own center (the
    smallest cosine similarity to it); several empty clusters take the
    farthest points in order.
    """
    similarity = X @ centers.T
    labels = np.argmax(similarity, axis=1)
    empty = np.flatnonzero(np.bincount(labels, minlength=n_clusters) == 0)
    if empty.size:
        own = similarity[np.arange(X.shape[0]), labels]
        farthest = np.argsort(own, kind="stable")[: empty.size]
        labels[farthest] = empty
    return labels


def _spherical_means(X, labels, n_clusters):
    """Normalised sum of each cluster's rows: c_j = sum_{i in j} x_i / ||sum_{i in j} x_i||.

    A cluster whose rows sum to the zero vector keeps its first row as center.
    """
    from scipy.sparse import csr_matrix

    # Cluster sums as one sparse product: sums = M X with M[j, i] = [label_i = j].
    membership = csr_matrix(
        (np.ones(X.shape[0], dtype=X.dtype), (labels, np.arange(X.shape[0]))),
        shape=(n_clusters, X.shape[0]),
    )
    sums = np.asarray(membership @ X)
    norms = np.linalg.norm(sums, axis=1)
    degenerate = np.flatnonzero(norms == 0)
    for j in degenerate:
        sums[j] = X[np.flatnonzero(labels == j)[0]]
        norms[j] = 1.0
    return sums / norms[:, None]


# ==========================================================================
# Clustering scores
# ==========================================================================

def purity_score(labels_true, labels_pred):
    """Purity = (1/n) sum_over_clusters max_over_classes |cluster ∩ class|."""
    labels_true = np.asarray(labels_true)
    labels_pred = np.asarray(labels_pred)
    if labels_true.shape != labels_pred.shape or labels_true.ndim != 1:
        raise ValueError(
            f"labels_true and labels_pred must be 1-d of equal length, got shapes "
            f"{labels_true.shape} and {labels_pred.shape}"
        )
    if labels_true.size == 0:
        raise ValueError("purity of an empty labelling is undefined")
    _, classes = np.unique(labels_true, return_inverse=True)
    _, clusters = np.unique(labels_pred, return_inverse=True)
    # contingency[cluster, class] = number of points in both.
    contingency = np.zeros((clusters.max() + 1, classes.max() + 1), dtype=np.int64)
    np.add.at(contingency, (clusters, classes), 1)
    return float(contingency.max(axis=1).sum() / labels_true.size)


def clustering_scores(labels_true, labels_pred):
    """MI, NMI, ARI (scikit-learn's definitions) and purity of a clustering.

    MI is in nats; NMI uses scikit-learn's default arithmetic-mean
    normalisation, NMI = MI / ((H(true) + H(pred)) / 2).
    """
    from sklearn.metrics import (
        adjusted_rand_score,
        mutual_info_score,
        normalized_mutual_info_score,
    )

    return {
        "mi": float(mutual_info_score(labels_true, labels_pred)),
        "nmi": float(normalized_mutual_info_score(labels_true, labels_pred)),
        "ari": float(adjusted_rand_score(labels_true, labels_pred)),
        "purity": purity_score(labels_true, labels_pred),
    }


def evaluate_clustering(X, labels, n_clusters, method="kmeans", runs=10, random_state=0,
                        return_labels=False):
    """Cluster ``X`` ``runs`` times and score each run against ``labels``.

    ``method='kmeans'`` runs scikit-learn's ``KMeans(n_init=1)`` on the vectors
    as given; ``'skmeans'`` runs ``SphericalKMeans(n_init=1)``. Run ``r`` is
    seeded with the ``r``-th integer drawn from ``random_state``.

    Returns a dict mapping each of ``mi``, ``nmi``, ``ari``, ``purity`` to
    ``(mean, std)`` over runs (population std, ddof=0), and ``"per_run"`` to a
    dict of the same metrics' per-run value lists; with ``return_labels``,
    also ``"labels"`` to the cluster of every vector in the first run.
    """
    X = check_array(X, dtype=[np.float64, np.float32])
    labels = np.asarray(labels)
    if labels.shape != (X.shape[0],):
        raise ValueError(f"{labels.size} labels for {X.shape[0]} vectors")
    if not (isinstance(runs, (int, np.integer)) and runs >= 1):
        raise ValueError(f"runs must be a positive integer, got {runs!r}")
    make_estimator = _clustering_estimator(method)
    seeds = check_random_state(random_state).randint(np.iinfo(np.int32).max, size=runs)
    per_run = {metric: [] for metric in CLUSTERING_METRICS}
    first_run = None
    for seed in seeds:
        predicted = make_estimator(n_clusters, int(seed)).fit_predict(X)
        first_run = predicted if first_run is None else first_run
        for metric, value in clustering_scores(labels, predicted).items():
            per_run[metric].append(value)
    summary = {
        metric: (float(np.mean(values)), float(np.std(values)))
        for metric, values in per_run.items()
    }
    summary["per_run"] = per_run
    if return_labels:
        summary["labels"] = first_run
    return summary


def _clustering_estimator(method):
    """Factory ``(n_clusters, seed) -> estimator`` for a clustering method name."""
    if method == "kmeans":
        from sklearn.cluster import KMeans

        return lambda k, seed: KMeans(n_clusters=k, n_init=1, random_state=seed)
    if method == "skmeans":
        return lambda k, seed: SphericalKMeans(n_clusters=k, n_init=1, random_state=seed)
    raise ValueError(f"unknown clustering method {method!r}; use 'kmeans' or 'skmeans'")


# ==========================================================================
# k-NN classification
# ==========================================================================

def knn_classify(X, labels, train_n=None, train_idx=None, test_idx=None, k=3,
                 metric="euclidean"):
    """k-nearest-neighbour classification scores on a train/test split.

    By default the first ``train_n`` rows train and the remaining rows test
    (the JoSE paper: 11,314 / 7,532 documents of 20 Newsgroups, 3-NN,
    Euclidean). Alternatively pass index arrays ``train_idx`` and ``test_idx``.

    Returns a dict with ``macro_f1``, ``micro_f1``, ``accuracy`` on the test
    rows and ``n_train``, ``n_test``. (For single-label data micro-F1 equals
    accuracy.)
    """
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.neighbors import KNeighborsClassifier

    X = check_array(X, dtype=[np.float64, np.float32])
    labels = np.asarray(labels)
    if labels.shape != (X.shape[0],):
        raise ValueError(f"{labels.size} labels for {X.shape[0]} vectors")
    train_idx, test_idx = _split_indices(X.shape[0], train_n, train_idx, test_idx)
    if train_idx.size < k:
        raise ValueError(f"k={k} neighbours need at least {k} training rows, got {train_idx.size}")
    if test_idx.size == 0:
        raise ValueError("the test split is empty")
    classifier = KNeighborsClassifier(n_neighbors=k, metric=metric)
    classifier.fit(X[train_idx], labels[train_idx])
    predicted = classifier.predict(X[test_idx])
    truth = labels[test_idx]
    return {
        "macro_f1": float(f1_score(truth, predicted, average="macro")),
        "micro_f1": float(f1_score(truth, predicted, average="micro")),
        "accuracy": float(accuracy_score(truth, predicted)),
        "n_train": int(train_idx.size),
        "n_test": int(test_idx.size),
    }


def _split_indices(n, train_n, train_idx, test_idx):
    """Resolve the train/test split arguments of :func:`knn_classify`."""
    if train_idx is not None or test_idx is not None:
        if train_idx is None or test_idx is None or train_n is not None:
            raise ValueError("pass either train_n, or both train_idx and test_idx")
        return np.asarray(train_idx, dtype=np.intp), np.asarray(test_idx, dtype=np.intp)
    if train_n is None:
        raise ValueError("pass train_n, or both train_idx and test_idx")
    if not 0 < train_n < n:
        raise ValueError(f"train_n={train_n} must be between 1 and {n - 1} for {n} vectors")
    return np.arange(train_n), np.arange(train_n, n)


# ==========================================================================
# Word similarity
# ==========================================================================

def read_similarity_pairs(path):
    """Read a word-similarity file: ``word1 word2 score`` per line.

    Fields are tab-separated, or whitespace-separated when a line has no tab.
    Blank lines and lines starting with ``#`` are skipped, and so is a first
    data line whose score is not a number (a header). Words are lower-cased.
    Returns a list of ``(word1, word2, score)``; a malformed line raises
    ``ValueError`` naming the file and line number.
    """
    path = os.fspath(path)
    pairs = []
    seen_data_line = False
    with open(path, encoding="utf-8", errors="replace") as handle:
        for lineno, line in enumerate(handle, start=1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            fields = line.split("\t") if "\t" in line else line.split()
            fields = [field.strip() for field in fields]
            if len(fields) < 3:
                raise ValueError(
                    f"{path}: line {lineno}: expected 'word1 word2 score', "
                    f"found {len(fields)} fields"
                )
            try:
                score = float(fields[2])
            except ValueError:
                if seen_data_line:
                    raise ValueError(
                        f"{path}: line {lineno}: score {fields[2]!r} is not a number"
                    ) from None
                seen_data_line = True  # a header line
                continue
            seen_data_line = True
            pairs.append((fields[0].lower(), fields[1].lower(), score))
    return pairs


def _cosine(u, v):
    """cos(u, v) = u.v / (||u|| ||v||); 0 when either vector is zero."""
    u = np.asarray(u, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    norms = np.linalg.norm(u) * np.linalg.norm(v)
    return float(u @ v / norms) if norms > 0 else 0.0


def word_similarity(vectors, pairs):
    """Spearman correlation between human scores and cosine similarities.

    ``vectors`` is any mapping-like lookup with ``word in vectors`` and
    ``vectors[word] -> vector`` (a dict or KeyedVectors). Only pairs with both
    words present are scored. Returns ``spearman`` (NaN with fewer than two
    covered pairs), ``pairs_covered`` and ``pairs_total``.
    """
    from scipy.stats import spearmanr

    human, model = [], []
    for word1, word2, score in pairs:
        if word1 in vectors and word2 in vectors:
            human.append(score)
            model.append(_cosine(vectors[word1], vectors[word2]))
    if len(human) >= 2:
        rho = float(spearmanr(human, model).statistic)
    else:
        rho = math.nan
    return {"spearman": rho, "pairs_covered": len(human), "pairs_total": len(pairs)}


# ==========================================================================
# Word analogies
# ==========================================================================

def read_analogies(path):
    """Read Google analogy questions: ``: section`` lines, then ``a b c d`` lines.

    Returns a list of ``(section, a, b, c, d)`` with lower-cased words. Blank
    lines are skipped; a question before the first section or a line without
    exactly four words raises ``ValueError`` naming the file and line.
    """
    path = os.fspath(path)
    questions = []
    section = None
    with open(path, encoding="utf-8", errors="replace") as handle:
        for lineno, line in enumerate(handle, start=1):
            line = line.strip()
            if not line:
                continue
            if line.startswith(":"):
                section = line[1:].strip()
                continue
            words = line.lower().split()
            if len(words) != 4:
                raise ValueError(
                    f"{path}: line {lineno}: expected 4 words, found {len(words)}"
                )
            if section is None:
                raise ValueError(f"{path}: line {lineno}: question before any ': section' line")
            questions.append((section, *words))
    return questions


def analogy_accuracy(keys, vectors, questions, method="3cosadd", restrict_vocab=None,
                     batch_size=256):
    """Accuracy on analogy questions ``a b c d`` (a is to b as c is to d).

    Candidates are the first ``restrict_vocab`` keys (all by default), matched
    case-insensitively; when two keys lower-case alike the earlier one wins.
    A question is covered when all four words are candidates; the prediction
    is the best-scoring candidate other than a, b and c, and it is correct
    when it equals d. ``accuracy = correct / covered`` (NaN when nothing is
    covered), overall and in ``per_section``.
    """
    if method not in ("3cosadd", "3cosmul"):
        raise ValueError(f"unknown analogy method {method!r}; use '3cosadd' or '3cosmul'")
    vectors = np.asarray(vectors)
    if vectors.ndim != 2 or len(keys) != vectors.shape[0]:
        raise ValueError(f"{len(keys)} keys for vectors of shape {vectors.shape}")
    limit = len(keys) if restrict_vocab is None else min(restrict_vocab, len(keys))
    index = {}
    for i, key in enumerate(keys[:limit]):
        index.setdefault(str(key).lower(), i)
    unit = _unit_rows_or_zero(vectors[:limit].astype(np.float32))

    sections = {}
    covered_ids, covered_sections = [], []
    for section, *words in questions:
        counts = sections.setdefault(section, {"correct": 0, "covered": 0, "total": 0})
        counts["total"] += 1
        ids = [index.get(word.lower()) for word in words]
        if None not in ids:
            counts["covered"] += 1
            covered_ids.append(ids)
            covered_sections.append(section)

    ids = np.array(covered_ids, dtype=np.intp).reshape(-1, 4)
    hits = np.zeros(len(ids), dtype=bool)
    for start in range(0, len(ids), batch_size):
        batch = ids[start:start + batch_size]
        predicted = _predict_analogies(unit, batch[:, 0], batch[:, 1], batch[:, 2], method)
        hits[start:start + batch_size] = predicted == batch[:, 3]
    for section, hit in zip(covered_sections, hits):
        sections[section]["correct"] += int(hit)

    for counts in sections.values():
        counts["accuracy"] = _ratio(counts["correct"], counts["covered"])
    correct = int(hits.sum())
    return {
        "accuracy": _ratio(correct, len(ids)),
        "correct": correct,
        "covered": len(ids),
        "total": len(questions),
        "per_section": sections,
    }


def _ratio(numerator, denominator):
    return numerator / denominator if denominator else math.nan


def _unit_rows_or_zero(X):
    """Rows scaled to unit norm; zero rows stay zero (cosine 0 with everything)."""
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return np.divide(X, norms, out=np.zeros_like(X), where=norms > 0)


def _predict_analogies(unit, a, b, c, method):
    """Best candidate d for each question (a, b, c) given unit-norm rows ``unit``."""
    rows = np.arange(len(a))
    if method == "3cosadd":
        # 3CosAdd: argmax_d cos(d, b) - cos(d, a) + cos(d, c)
        #        = argmax_d d . (b - a + c)   for unit vectors.
        scores = (unit[b] - unit[a] + unit[c]) @ unit.T
    else:
        # 3CosMul (Levy & Goldberg, 2014), cosines shifted to [0, 1] by
        # s(x, y) = (cos(x, y) + 1) / 2:
        #   argmax_d s(d, b) s(d, c) / (s(d, a) + 1e-3)
        sim_a = (unit[a] @ unit.T + 1.0) / 2.0
        sim_b = (unit[b] @ unit.T + 1.0) / 2.0
        sim_c = (unit[c] @ unit.T + 1.0) / 2.0
        scores = sim_b * sim_c / (sim_a + 1e-3)
    # The question words themselves are never answers.
    for excluded in (a, b, c):
        scores[rows, excluded] = -np.inf
    return np.argmax(scores, axis=1)
