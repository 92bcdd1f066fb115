"""KeyedVectors.to_gensim / from_gensim: gensim's own queries must agree with ours."""
import sys

import numpy as np
import pytest

from jose import JoSE, KeyedVectors

gensim_models = pytest.importorskip("gensim.models")


@pytest.fixture(scope="module")
def model():
    rng = np.random.default_rng(0)
    topics = [[f"t{t}w{i}" for i in range(15)] for t in range(3)]
    docs = [list(rng.choice(topics[d % 3], size=20)) for d in range(60)]
    return JoSE(docs, vector_size=16, window=3, epochs=5, min_count=1, workers=1, seed=2).train()


def assert_same_neighbours(ours, theirs, queries, topn=8):
    for query in queries:
        a, b = ours.most_similar(query, topn=topn), theirs.most_similar(query, topn=topn)
        assert [k for k, _ in a] == [k for k, _ in b], query
        assert np.allclose([s for _, s in a], [s for _, s in b], atol=1e-5), query


@pytest.mark.parametrize("table", ["wv", "cv", "dv"])
def test_to_gensim_keeps_keys_order_and_vectors(model, table):
    ours = getattr(model, table)
    theirs = ours.to_gensim()
    assert isinstance(theirs, gensim_models.KeyedVectors)
    assert list(theirs.index_to_key) == ours.index_to_key
    assert np.array_equal(theirs.vectors, ours.vectors)
    assert theirs.vectors is not ours.vectors           # a copy: gensim may change its own
    keys = ours.index_to_key
    assert_same_neighbours(ours, theirs, keys[:5])
    for a, b in [(keys[0], keys[1]), (keys[2], keys[-1]), (keys[3], keys[3])]:
        assert ours.similarity(a, b) == pytest.approx(float(theirs.similarity(a, b)), abs=1e-6)


def test_positive_and_negative_queries_agree(model):
    theirs = model.wv.to_gensim()
    ours = model.wv
    for pos, neg in [(["t0w1", "t1w2"], ["t2w3"]), (["t1w0"], ["t0w0", "t2w0"])]:
        a = ours.most_similar(positive=pos, negative=neg, topn=5)
        b = theirs.most_similar(positive=pos, negative=neg, topn=5)
        assert [k for k, _ in a] == [k for k, _ in b]
        assert np.allclose([s for _, s in a], [s for _, s in b], atol=1e-5)


def test_from_gensim_normalises_onto_the_sphere():
    rng = np.random.default_rng(1)
    theirs = gensim_models.KeyedVectors(8)
    keys = [f"w{i}" for i in range(30)][::-1]          # an order that is not sorted
    theirs.add_vectors(keys, rng.normal(size=(30, 8)) * rng.uniform(0.1, 10, size=(30, 1)))
    ours = KeyedVectors.from_gensim(theirs)
    assert ours.index_to_key == keys
    assert np.allclose(np.linalg.norm(ours.vectors, axis=1), 1.0, atol=1e-6)
    assert np.allclose(ours.vectors, theirs.get_normed_vectors(), atol=1e-6)
    assert_same_neighbours(ours, theirs, keys[:6])
    assert ours.similarity("w3", "w7") == pytest.approx(float(theirs.similarity("w3", "w7")),
                                                        abs=1e-6)


def test_round_trip_through_gensim(model):
    back = KeyedVectors.from_gensim(model.dv.to_gensim())
    assert back.index_to_key == model.dv.index_to_key       # int tags stay ints
    assert np.allclose(back.vectors, model.dv.vectors, atol=1e-7)


def test_gensim_models_word_vectors(model):
    """A gensim Word2Vec's .wv comes over; the model itself is refused, with a hint."""
    docs = [["a", "b", "c"], ["b", "c", "d"]] * 10
    w2v = gensim_models.Word2Vec(docs, vector_size=6, min_count=1, workers=1, seed=1, epochs=2)
    ours = KeyedVectors.from_gensim(w2v.wv)
    assert ours.index_to_key == list(w2v.wv.index_to_key)
    with pytest.raises(TypeError, match=r"pass model.wv or model.dv"):
        KeyedVectors.from_gensim(w2v)


def test_from_gensim_rejects_zero_rows():
    theirs = gensim_models.KeyedVectors(3)
    theirs.add_vectors(["ok", "nil"], np.array([[1.0, 0, 0], [0, 0, 0]]))
    with pytest.raises(ValueError, match="'nil' is zero"):
        KeyedVectors.from_gensim(theirs)


def test_missing_gensim_names_the_extra(model, monkeypatch):
    monkeypatch.setitem(sys.modules, "gensim", None)
    monkeypatch.setitem(sys.modules, "gensim.models", None)
    with pytest.raises(ImportError, match=r'pip install "jose-embeddings\[gensim\]"'):
        model.wv.to_gensim()


def test_gensim_trains_on_a_text_corpus(tmp_path):
    """gensim refuses one-shot generators; TextCorpus restarts, so gensim can read it."""
    from jose import LineSentence

    path = tmp_path / "c.txt"
    path.write_text("a b c\nb c d\n" * 10)
    w2v = gensim_models.Word2Vec(LineSentence(path), vector_size=6, min_count=1, workers=1,
                                 seed=1, epochs=2)
    assert sorted(w2v.wv.index_to_key) == ["a", "b", "c", "d"]
    assert w2v.corpus_count == 20
