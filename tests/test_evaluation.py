"""Tests for jose.evaluation: spherical k-means, scores, word similarity, analogies."""

import math

import numpy as np
import pytest
from sklearn.metrics import (
    adjusted_rand_score,
    mutual_info_score,
    normalized_mutual_info_score,
)

from jose.evaluation import (
    SphericalKMeans,
    analogy_accuracy,
    clustering_scores,
    evaluate_clustering,
    knn_classify,
    purity_score,
    read_analogies,
    read_similarity_pairs,
    word_similarity,
)


def planted_clusters(n_per=50, dim=20, k=4, noise=0.15, seed=0):
    """Points scattered around k random directions, at random lengths."""
    rng = np.random.default_rng(seed)
    directions = rng.standard_normal((k, dim))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    labels = np.repeat(np.arange(k), n_per)
    X = directions[labels] + noise * rng.standard_normal((k * n_per, dim))
    X *= rng.uniform(0.5, 3.0, size=(len(X), 1))  # lengths must not matter
    return X, labels


# -- SphericalKMeans -----------------------------------------------------------

def test_skmeans_recovers_planted_clusters():
    X, labels = planted_clusters()
    model = SphericalKMeans(n_clusters=4, random_state=0).fit(X)
    assert adjusted_rand_score(labels, model.labels_) == pytest.approx(1.0)
    np.testing.assert_allclose(np.linalg.norm(model.cluster_centers_, axis=1), 1.0, atol=1e-12)
    assert 1 <= model.n_iter_ <= model.max_iter


def test_skmeans_is_deterministic():
    X, _ = planted_clusters(k=6, noise=0.6, seed=3)
    first = SphericalKMeans(n_clusters=6, n_init=3, random_state=42).fit(X)
    second = SphericalKMeans(n_clusters=6, n_init=3, random_state=42).fit(X)
    np.testing.assert_array_equal(first.labels_, second.labels_)
    np.testing.assert_array_equal(first.cluster_centers_, second.cluster_centers_)
    assert first.inertia_ == second.inertia_


def test_skmeans_inertia_predict_transform():
    X, _ = planted_clusters(noise=0.5, seed=1)
    model = SphericalKMeans(n_clusters=4, random_state=0).fit(X)
    unit = X / np.linalg.norm(X, axis=1, keepdims=True)
    cosines = unit @ model.cluster_centers_.T
    # inertia = sum_i 1 - cos(x_i, c_{label_i})
    expected = np.sum(1 - cosines[np.arange(len(X)), model.labels_])
    assert model.inertia_ == pytest.approx(expected)
    np.testing.assert_array_equal(model.predict(X), model.labels_)
    np.testing.assert_allclose(model.transform(X), 1 - cosines)
    np.testing.assert_array_equal(model.fit_predict(X), model.labels_)


def test_skmeans_more_inits_never_worse():
    X, _ = planted_clusters(k=6, noise=0.8, seed=5)
    one = SphericalKMeans(n_clusters=6, n_init=1, random_state=0).fit(X)
    many = SphericalKMeans(n_clusters=6, n_init=5, random_state=0).fit(X)
    assert many.inertia_ <= one.inertia_ + 1e-9


def test_skmeans_duplicate_points_fill_every_cluster():
    X = np.array([[1.0, 0.0]] * 5 + [[0.0, 1.0]] * 5)
    model = SphericalKMeans(n_clusters=3, random_state=0).fit(X)
    assert model.cluster_centers_.shape == (3, 2)
    assert np.isfinite(model.cluster_centers_).all()


def test_skmeans_rejects_zero_rows_and_bad_params():
    X = np.ones((5, 3))
    X[3] = 0
    with pytest.raises(ValueError, match="row 3 has zero norm"):
        SphericalKMeans(n_clusters=2).fit(X)
    with pytest.raises(ValueError, match="n_samples=5 should be >= n_clusters=6"):
        SphericalKMeans(n_clusters=6).fit(np.ones((5, 3)))


def test_skmeans_sklearn_api():
    from sklearn.base import clone
    from sklearn.exceptions import NotFittedError

    model = SphericalKMeans(n_clusters=3, random_state=1)
    assert clone(model).get_params() == model.get_params()
    with pytest.raises(NotFittedError):
        model.predict(np.ones((2, 2)))


# -- clustering scores -----------------------------------------------------------

def test_purity_hand_computed():
    truth = [0, 0, 0, 1, 1, 1, 2, 2]
    pred = [0, 0, 1, 1, 1, 1, 2, 2]
    # clusters: {0,0} -> 2, {0,1,1,1} -> 3, {2,2} -> 2; purity = 7/8
    assert purity_score(truth, pred) == pytest.approx(7 / 8)
    assert purity_score(["a", "b"], [5, 5]) == pytest.approx(1 / 2)


def test_clustering_scores_match_sklearn():
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 4, 60)
    pred = np.where(rng.random(60) < 0.7, truth, rng.integers(0, 4, 60))
    scores = clustering_scores(truth, pred)
    assert scores["mi"] == pytest.approx(mutual_info_score(truth, pred))
    assert scores["nmi"] == pytest.approx(normalized_mutual_info_score(truth, pred))
    assert scores["ari"] == pytest.approx(adjusted_rand_score(truth, pred))
    assert scores["purity"] == pytest.approx(purity_score(truth, pred))


@pytest.mark.parametrize("method", ["kmeans", "skmeans"])
def test_evaluate_clustering(method):
    X, labels = planted_clusters(n_per=30)
    result = evaluate_clustering(X, labels, 4, method=method, runs=3, random_state=0)
    for metric in ("mi", "nmi", "ari", "purity"):
        mean, std = result[metric]
        assert mean == pytest.approx(np.mean(result["per_run"][metric]))
        assert std == pytest.approx(np.std(result["per_run"][metric]))
        assert len(result["per_run"][metric]) == 3
    # one k-means start per run (the paper's protocol) may merge two clusters
    assert max(result["per_run"]["purity"]) == 1.0 and result["purity"][0] > 0.8
    assert evaluate_clustering(X, labels, 4, method=method, runs=3, random_state=0) == result


def test_evaluate_clustering_errors():
    X, labels = planted_clusters(n_per=5)
    with pytest.raises(ValueError, match="unknown clustering method"):
        evaluate_clustering(X, labels, 4, method="dbscan")
    with pytest.raises(ValueError, match="19 labels for 20 vectors"):
        evaluate_clustering(X, labels[:-1], 4)


# -- k-NN classification -------------------------------------------------------

def test_knn_classify_default_split_and_indices():
    X, labels = planted_clusters(n_per=25)
    order = np.random.default_rng(0).permutation(len(X))
    X, labels = X[order], labels[order]
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    result = knn_classify(X, labels, train_n=70, k=3)
    assert result["n_train"] == 70 and result["n_test"] == 30
    assert result["accuracy"] == pytest.approx(1.0)
    assert result["micro_f1"] == pytest.approx(result["accuracy"])
    by_index = knn_classify(X, labels, train_idx=np.arange(70), test_idx=np.arange(70, 100))
    assert by_index == result


def test_knn_classify_hand_example():
    X = np.array([[0.0], [0.1], [0.2], [5.0], [5.1], [5.2], [0.05], [5.05], [2.4]])
    y = np.array([0, 0, 0, 1, 1, 1, 0, 1, 1])
    result = knn_classify(X, y, train_n=6, k=3)
    # Test points 0.05 -> 0, 5.05 -> 1, 2.4 -> 0 (nearest 0.2, 0.1, 0.0) but truth 1.
    assert result["accuracy"] == pytest.approx(2 / 3)
    assert result["macro_f1"] == pytest.approx((2 / 3 + 2 / 3) / 2)


def test_knn_classify_bad_split():
    X, labels = planted_clusters(n_per=5)
    with pytest.raises(ValueError, match="train_n=20 must be between 1 and 19"):
        knn_classify(X, labels, train_n=20)
    with pytest.raises(ValueError, match="pass train_n"):
        knn_classify(X, labels)


# -- word similarity ---------------------------------------------------------------

def test_read_similarity_pairs_formats(tmp_path):
    path = tmp_path / "pairs.txt"
    path.write_bytes(
        b"# a comment\r\nWord 1\tWord 2\tHuman (mean)\r\n\r\n"
        b"Tiger\tcat\t7.35\r\nbook\tpaper\t7.46\r\ncar  train   6.31\r\n"
    )
    assert read_similarity_pairs(path) == [
        ("tiger", "cat", 7.35), ("book", "paper", 7.46), ("car", "train", 6.31)]


def test_read_similarity_pairs_errors(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_text("a\tb\t1.0\nc\td\n")
    with pytest.raises(ValueError, match=r"bad\.txt: line 2: expected"):
        read_similarity_pairs(path)
    path.write_text("a\tb\t1.0\nc\td\thigh\n")
    with pytest.raises(ValueError, match=r"bad\.txt: line 2: score 'high'"):
        read_similarity_pairs(path)


def test_word_similarity_with_coverage():
    vectors = {
        "a": np.array([1.0, 0.0]),
        "b": np.array([10.0, 1.0]),   # nearly parallel to a, not unit length
        "c": np.array([0.0, 3.0]),
        "d": np.array([-1.0, 0.1]),
    }
    pairs = [("a", "b", 9.0), ("a", "c", 5.0), ("a", "d", 1.0), ("a", "zzz", 3.0)]
    result = word_similarity(vectors, pairs)
    assert result == {"spearman": pytest.approx(1.0), "pairs_covered": 3, "pairs_total": 4}
    reversed_scores = [(w1, w2, -s) for w1, w2, s in pairs]
    assert word_similarity(vectors, reversed_scores)["spearman"] == pytest.approx(-1.0)
    assert math.isnan(word_similarity(vectors, pairs[3:])["spearman"])


# -- analogies ---------------------------------------------------------------------

def test_read_analogies(tmp_path):
    path = tmp_path / "q.txt"
    path.write_text(": capitals\nAthens Greece Paris France\n\n: gram\nbig bigger small smaller\n")
    assert read_analogies(path) == [
        ("capitals", "athens", "greece", "paris", "france"),
        ("gram", "big", "bigger", "small", "smaller")]
    path.write_text(": s\na b c\n")
    with pytest.raises(ValueError, match=r"q\.txt: line 2: expected 4 words"):
        read_analogies(path)
    path.write_text("a b c d\n")
    with pytest.raises(ValueError, match="line 1: question before any"):
        read_analogies(path)


def analogy_vocabulary():
    """man:woman :: king:queen, built so that queen = king - man + woman exactly."""
    gender = np.array([0.0, 0.0, 1.0, 0.0])
    royal = np.array([0.0, 1.0, 0.0, 0.0])
    person = np.array([1.0, 0.0, 0.0, 0.0])
    vectors = {
        "man": person,
        "woman": person + gender,
        "king": person + royal,
        "queen": person + royal + gender,
        "apple": np.array([0.0, 0.0, 0.0, 1.0]),
        "prince": person + 0.9 * royal + 0.1 * np.array([0, 0, 0, 1.0]),
    }
    return list(vectors), np.array(list(vectors.values()))


@pytest.mark.parametrize("method", ["3cosadd", "3cosmul"])
def test_analogy_accuracy(method):
    keys, vectors = analogy_vocabulary()
    questions = [
        ("family", "man", "woman", "king", "queen"),
        ("family", "Man", "Woman", "King", "QUEEN"),      # matched case-insensitively
        ("family", "woman", "man", "queen", "apple"),     # wrong answer (king is right)
        ("other", "man", "woman", "king", "unicorn"),     # out of vocabulary
    ]
    result = analogy_accuracy(keys, vectors, questions, method=method, batch_size=2)
    assert (result["correct"], result["covered"], result["total"]) == (2, 3, 4)
    assert result["accuracy"] == pytest.approx(2 / 3)
    assert result["per_section"]["family"] == {
        "correct": 2, "covered": 3, "total": 3, "accuracy": pytest.approx(2 / 3)}
    assert result["per_section"]["other"]["covered"] == 0
    assert math.isnan(result["per_section"]["other"]["accuracy"])


def test_analogy_excludes_question_words_and_restricts_vocab():
    keys, vectors = analogy_vocabulary()
    # b - a + c = king itself when a == b; the answer must not be a question word.
    result = analogy_accuracy(keys, vectors, [("s", "man", "man", "king", "prince")])
    assert result["correct"] == 1
    restricted = analogy_accuracy(keys, vectors, [("s", "man", "woman", "king", "queen")],
                                  restrict_vocab=3)
    assert restricted["covered"] == 0
    with pytest.raises(ValueError, match="unknown analogy method"):
        analogy_accuracy(keys, vectors, [], method="cos")
