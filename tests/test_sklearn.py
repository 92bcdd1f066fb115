"""jose.sklearn.JoSEVectorizer and SphericalKMeans as scikit-learn estimators."""
import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import adjusted_rand_score
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.utils import estimator_checks as ec
from sklearn.utils.estimator_checks import parametrize_with_checks

from jose.evaluation import SphericalKMeans
from jose.inference import tokenize_text
from jose.sklearn import JoSEVectorizer
from planted import fresh_document, planted_corpus

SMALL = dict(vector_size=16, epochs=8, sample=0.0, margin=0.5, seed=3)

#: Checks of SphericalKMeans that fail by design, with the reason.
SPHERICAL_KMEANS_EXPECTED_FAILURES = {
    "check_estimators_dtypes":
        "casts uniform data to int, which makes some rows all zero; a zero row has no "
        "direction on the sphere, and SphericalKMeans raises a ValueError naming the row "
        "rather than clustering it arbitrarily",
}


@parametrize_with_checks([SphericalKMeans(n_clusters=3, random_state=0)],
                         expected_failed_checks=lambda est: SPHERICAL_KMEANS_EXPECTED_FAILURES)
def test_spherical_kmeans_sklearn_checks(estimator, check):
    check(estimator)


#: parametrize_with_checks runs no check on an estimator whose input is text
#: (input_tags.two_d_array=False): every check there feeds numeric arrays. These
#: are the checks that do not need numeric input, run on the vectorizer directly.
VECTORIZER_CHECKS = [
    "check_no_attributes_set_in_init", "check_parameters_default_constructible",
    "check_get_params_invariance", "check_set_params", "check_estimator_cloneable",
    "check_estimator_repr", "check_estimator_tags_renamed", "check_valid_tag_types",
    "check_estimator_sparse_tag",
]


@pytest.mark.parametrize("name", VECTORIZER_CHECKS)
def test_vectorizer_api_checks(name):
    getattr(ec, name)("JoSEVectorizer", JoSEVectorizer())


def test_parametrize_with_checks_has_nothing_for_text_input():
    with pytest.warns(ec.SkipTestWarning, match="Can't test estimator JoSEVectorizer"):
        assert list(ec._yield_all_checks(JoSEVectorizer(), legacy=True)) == []


@pytest.fixture(scope="module")
def planted():
    docs, labels, vocab = planted_corpus(seed=0)
    return [" ".join(d).upper() for d in docs], labels, vocab   # raw text, upper case


def test_fit_transform_transform_and_feature_names(planted):
    texts, labels, vocab = planted
    vec = JoSEVectorizer(**SMALL)
    X = vec.fit_transform(texts)
    assert X.shape == (len(texts), 16) and X.dtype == np.float32
    assert np.array_equal(X, vec.model_.dv.vectors)
    # the default tokenizer lower-cases: the model's words are the planted ones
    assert set(vec.model_.wv.key_to_index) == {w for t in vocab for w in t}
    names = vec.get_feature_names_out()
    assert list(names) == [f"josevectorizer{i}" for i in range(16)]
    Y = vec.transform(texts[:10])
    assert np.allclose(np.linalg.norm(Y, axis=1), 1, atol=1e-5)
    assert np.array_equal(Y, vec.model_.infer_vectors([tokenize_text(t) for t in texts[:10]],
                                                     workers=1))
    # token lists are taken as they are
    assert np.array_equal(vec.transform([t.lower().split() for t in texts[:10]]), Y)
    # fit and fit_transform train the same model (workers=1, a seed)
    again = JoSEVectorizer(**SMALL).fit(texts)
    assert np.array_equal(again.model_.dv.vectors, X)
    assert np.array_equal(pickle.loads(pickle.dumps(vec)).transform(texts[:10]), Y)


def test_unfitted_and_bad_input(planted):
    texts = planted[0]
    from sklearn.exceptions import NotFittedError
    with pytest.raises(NotFittedError):
        JoSEVectorizer().transform(texts)
    with pytest.raises(NotFittedError):
        JoSEVectorizer().get_feature_names_out()
    with pytest.raises(ValueError, match="vector_size"):
        JoSEVectorizer(vector_size=0).fit(texts)
    with pytest.raises(ValueError, match="margin"):
        JoSEVectorizer(margin=3).fit(texts)
    with pytest.raises(TypeError, match="single string"):
        JoSEVectorizer().fit("one text")
    with pytest.raises(ValueError, match=r"X\[1\] is missing"):
        JoSEVectorizer().fit(["a b", None])
    with pytest.raises(TypeError, match=r"X\[0\] is a int"):
        JoSEVectorizer().fit([3])
    with pytest.raises(ValueError, match="empty"):
        JoSEVectorizer().fit([])
    with pytest.raises(ValueError, match="tokenizer"):
        JoSEVectorizer(tokenizer="words").fit(texts)
    with pytest.raises(ValueError, match="infer_epochs"):
        JoSEVectorizer(infer_epochs=0, **SMALL).fit(texts).transform(texts)


def test_custom_tokenizer(planted):
    texts = planted[0]
    vec = JoSEVectorizer(tokenizer=str.split, **SMALL).fit(texts[:40])
    assert all(w.isupper() for w in vec.model_.wv.key_to_index)


def test_default_tokenizer_keeps_unicode_letters():
    assert tokenize_text("Ça coûte 5€, n'est-ce pas? ΑΒΓ_δ") == \
        ["ça", "coûte", "5", "n", "est", "ce", "pas", "αβγ", "δ"]


def test_pipeline_with_spherical_kmeans(planted):
    texts, labels, _ = planted
    pipe = make_pipeline(JoSEVectorizer(**SMALL), SphericalKMeans(n_clusters=4, n_init=3,
                                                                   random_state=0))
    predicted = pipe.fit_predict(texts)
    assert adjusted_rand_score(labels, predicted) > 0.9
    rng = np.random.default_rng(5)
    vocab = planted[2]
    new = [" ".join(fresh_document(rng, vocab, t)) for t in range(4) for _ in range(5)]
    assert adjusted_rand_score(np.repeat(np.arange(4), 5), pipe.predict(new)) > 0.9


def test_pipeline_with_logistic_regression_and_grid_search(planted):
    texts, labels, vocab = planted
    pipe = make_pipeline(JoSEVectorizer(**SMALL), LogisticRegression(max_iter=500))
    search = GridSearchCV(pipe, {"josevectorizer__vector_size": [8, 16],
                                 "josevectorizer__margin": [0.3, 0.5]}, cv=2)
    search.fit(texts, labels)
    assert set(search.best_params_) == {"josevectorizer__vector_size", "josevectorizer__margin"}
    assert search.best_score_ > 0.95
    rng = np.random.default_rng(9)
    new = [" ".join(fresh_document(rng, vocab, t)) for t in range(4) for _ in range(5)]
    assert search.score(new, np.repeat(np.arange(4), 5)) > 0.9


def test_clone_and_params():
    vec = JoSEVectorizer(vector_size=7, tokenizer=str.split, infer_epochs=3)
    params = clone(vec).get_params()
    assert params["vector_size"] == 7 and params["tokenizer"] is str.split
    assert params["infer_epochs"] == 3
    vec.set_params(epochs=2)
    assert vec.epochs == 2
