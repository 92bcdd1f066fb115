"""Batch inference (infer_vectors), add_documents and inference-only loading,
for both objectives."""
import os

import numpy as np
import pytest

from jose import JoSE, TaggedDocument, _core
from planted import fresh_document, planted_corpus

PARAMS = dict(vector_size=24, min_count=1, epochs=10, workers=1, sample=0.0, seed=3,
              margin=0.5)

needs_openmp = pytest.mark.skipif(os.environ.get("JOSE_NO_OPENMP") == "1",
                                  reason="JOSE_NO_OPENMP=1: built single-threaded on purpose")


@pytest.fixture(scope="module")
def planted():
    return planted_corpus(seed=0)


@pytest.fixture(scope="module", params=["separate", "joint"])
def model(planted, request):
    docs, _, _ = planted
    return JoSE(docs, objective=request.param, **PARAMS).train()


@pytest.fixture(scope="module")
def new_docs(planted):
    rng = np.random.default_rng(7)
    vocab = planted[2]
    # varied lengths, and several documents of the same length
    return [fresh_document(rng, vocab, i % 4, length=[5, 40, 40, 13][i % 4]) for i in range(60)]


def topic_of(model, labels, x):
    D = model.dv.vectors
    return int(np.argmax([(D[labels == t] @ x).mean() for t in range(labels.max() + 1)]))


def test_batch_rows_are_unit_and_find_their_topic(model, planted, new_docs):
    X = model.infer_vectors(new_docs)
    assert X.dtype == np.float32 and X.shape == (len(new_docs), 24)
    assert np.allclose(np.linalg.norm(X.astype(np.float64), axis=1), 1.0, atol=1e-5)
    hits = [topic_of(model, planted[1], x) == i % 4 for i, x in enumerate(X)]
    assert np.mean(hits) >= 0.95


def test_row_independent_of_batch_and_order(model, new_docs):
    X = model.infer_vectors(new_docs, workers=1)
    order = np.random.default_rng(0).permutation(len(new_docs))
    Y = model.infer_vectors([new_docs[i] for i in order], workers=1)
    assert np.array_equal(Y, X[order])
    assert np.array_equal(model.infer_vectors(new_docs[10:13], workers=1), X[10:13])


@needs_openmp
def test_row_independent_of_thread_count(model, new_docs):
    many = new_docs * 5
    one = model.infer_vectors(many, workers=1)
    two = model.infer_vectors(many, workers=2)
    assert np.array_equal(one, two)
    # and two threads really ran: the kernel reports its team's size
    from jose.model import encode_documents
    tokens, offsets = encode_documents(many, model.vocab.key_to_index)
    keep, thresh, alias = model._get_samplers()
    out = np.empty((len(many), 24), np.float32)
    team = _core.infer_documents(model.wv.vectors, out, tokens, offsets, keep, thresh, alias,
                                 2, 0.5, "paper", 0.04, 1e-4, 10, 3, 2)
    assert team == 2
    assert np.array_equal(out, two)


@needs_openmp
def test_chunked_parallel_inference_changes_no_row(model, new_docs, monkeypatch):
    """With several workers the caller encodes chunk k + 1 while the kernel
    fits chunk k; chunk boundaries (here every 7 documents) change nothing."""
    import jose.model
    docs = new_docs + [[], ["unknown-word"]] + new_docs[:9]
    one, mask_one = model.infer_vectors(docs, workers=1, return_mask=True)
    monkeypatch.setattr(jose.model, "INFER_CHUNK_DOCS", 7)
    two, mask_two = model.infer_vectors(iter(docs), workers=2, return_mask=True)
    assert np.array_equal(one, two) and np.array_equal(mask_one, mask_two)
    assert not mask_two[len(new_docs)] and not mask_two[len(new_docs) + 1]
    assert model.infer_vectors(iter([]), workers=2).shape == (0, 24)
    # a bad document in a later chunk is named by its place in the whole batch
    with pytest.raises(TypeError, match="document 15 is a string"):
        model.infer_vectors(new_docs[:15] + ["t0w1 t0w2"], workers=2)
    with pytest.raises(TypeError, match="document 9: tokens must be strings"):
        model.infer_vectors(new_docs[:9] + [["t0w1", 3]], workers=2)


def test_single_equals_batch_row_bit_for_bit(model, new_docs):
    X = model.infer_vectors(new_docs)
    for i in (0, 1, 2, 17):
        assert np.array_equal(model.infer_vector(new_docs[i]), X[i])
    # also with non-default epochs, alpha and seed
    Y = model.infer_vectors(new_docs[:3], epochs=3, alpha=0.01, seed=11)
    assert np.array_equal(model.infer_vector(new_docs[1], epochs=3, alpha=0.01, seed=11), Y[1])
    assert not np.array_equal(Y[1], X[1])


def test_documents_of_one_length_get_their_own_draws(model, planted):
    # before, the stream was seeded by the document's length: here two
    # documents of one length must not share a start vector or draws
    vocab = planted[2]
    a = [vocab[0][0]] * 10
    b = [vocab[0][1]] * 10
    ids_a = np.array([model.wv.key_to_index[w] for w in a], dtype=np.int32)
    ids_b = np.array([model.wv.key_to_index[w] for w in b], dtype=np.int32)
    assert _core.document_seed(1, ids_a) != _core.document_seed(1, ids_b)
    assert _core.document_seed(1, ids_a) != _core.document_seed(2, ids_a)
    assert _core.document_seed(1, ids_a[:9]) != _core.document_seed(1, ids_a)
    # the seed depends on the word order too
    ab = np.concatenate([ids_a[:5], ids_b[:5]])
    ba = np.concatenate([ids_b[:5], ids_a[:5]])
    assert _core.document_seed(1, ab) != _core.document_seed(1, ba)
    # one epoch with a tiny rate barely moves d: rows show their start
    # vectors. The random start (the fallback when the mean of the words'
    # vectors is ~0) differs between the two documents
    from jose.model import encode_documents
    tokens, offsets = encode_documents([a, b], model.wv.key_to_index)
    keep, thresh, alias = model._get_samplers()
    X = np.empty((2, 24), np.float32)
    _core.infer_documents(model.wv.vectors, X, tokens, offsets, keep, thresh, alias,
                          2, 0.5, "paper", 1e-6, 1e-4, 1, 1, 1, start="random")
    assert abs(float(X[0] @ X[1])) < 0.9


def test_unknown_words_are_ignored_and_empty_documents_masked(model, new_docs):
    doc = new_docs[3]
    X, known = model.infer_vectors([["never-seen"] + doc + ["nor-this"], [], ["nope"], doc],
                                   return_mask=True)
    assert known.tolist() == [True, False, False, True]
    assert np.array_equal(X[0], X[3])
    assert not X[1].any() and not X[2].any()
    empty = model.infer_vectors([])
    assert empty.shape == (0, 24)
    with pytest.raises(ValueError, match="vocabulary"):
        model.infer_vector(["nope"])


def test_tagged_documents_and_generators(model, new_docs):
    X = model.infer_vectors(new_docs[:4])
    Y = model.infer_vectors(TaggedDocument(d, [i]) for i, d in enumerate(new_docs[:4]))
    assert np.array_equal(X, Y)


def test_model_left_unchanged(model, new_docs):
    before = [t.vectors.copy() for t in (model.wv, model.cv, model.dv)]
    model.infer_vectors(new_docs)
    for x, t in zip(before, (model.wv, model.cv, model.dv)):
        assert np.array_equal(x, t.vectors)


@pytest.mark.parametrize("kwargs, match", [
    (dict(epochs=0), "epochs"), (dict(epochs=1.5), "epochs"), (dict(alpha=0.0), "alpha"),
    (dict(alpha=float("nan")), "alpha"), (dict(workers=0), "workers"),
    (dict(seed=-1), "seed"), (dict(seed="x"), "seed")])
def test_bad_parameters(model, kwargs, match):
    with pytest.raises(ValueError, match=match):
        model.infer_vectors([["t0w1"]], **kwargs)


def test_bad_documents(model):
    with pytest.raises(TypeError, match="document 1 is a string"):
        model.infer_vectors([["t0w1"], "t0w1 t0w2"])
    with pytest.raises(TypeError, match="not a string"):
        model.infer_vectors("t0w1 t0w2")
    with pytest.raises(TypeError, match="document 0: tokens must be strings"):
        model.infer_vectors([["t0w1", 3]])
    with pytest.raises(TypeError, match="document 0 is not a list"):
        model.infer_vectors([5])
    with pytest.raises(RuntimeError, match="vocabulary"):
        JoSE().infer_vectors([["a"]])


def test_kernel_checks_its_arguments(model):
    keep, thresh, alias = model._get_samplers()
    U = model.wv.vectors
    out = np.empty((1, 24), np.float32)
    args = (keep, thresh, alias, 2, 0.5, "paper", 0.04, 1e-4, 1, 1)
    with pytest.raises(ValueError, match="word id"):
        _core.infer_documents(U, out, np.array([len(U)], np.int32), np.array([0, 1]), *args)
    with pytest.raises(ValueError, match="offsets"):
        _core.infer_documents(U, out, np.array([0], np.int32), np.array([0, 2]), *args)
    with pytest.raises(ValueError, match="out must be"):
        _core.infer_documents(U, np.empty((2, 24), np.float32), np.array([0], np.int32),
                              np.array([0, 1]), *args)


# -- add_documents -------------------------------------------------------------------

def test_added_documents_land_near_their_topic(planted):
    docs, labels, vocab = planted
    # train on half of the documents, add the other half afterwards
    half = len(docs) // 2
    m = JoSE(docs[:half], **PARAMS).train()
    n_before = len(m.dv)
    wv, cv = m.wv.vectors.copy(), m.cv.vectors.copy()
    known = m.add_documents(docs[half:])
    assert known.all() and len(m.dv) == len(docs)
    assert m.dv.index_to_key[n_before:] == list(range(half, len(docs)))
    assert np.array_equal(wv, m.wv.vectors) and np.array_equal(cv, m.cv.vectors)
    D = m.dv.vectors.astype(np.float64)
    centroids = np.stack([D[:half][labels[:half] == t].mean(0) for t in range(4)])

    def margin(rows, lab):
        sims = D[rows] @ centroids.T
        own = sims[np.arange(len(rows)), lab]
        sims[np.arange(len(rows)), lab] = -np.inf
        return own - sims.max(1)

    trained = margin(np.arange(half), labels[:half])
    added = margin(np.arange(half, len(docs)), labels[half:])
    assert (added > 0).all()                       # every added document is nearest its topic
    assert np.median(added) >= 0.8 * np.median(trained)


def test_add_documents_equals_inference_and_is_saved(model, new_docs, tmp_path):
    m = JoSE.load(save(model, tmp_path / "m"))
    tags = [f"new{i}" for i in range(5)]
    m.add_documents(new_docs[:5], tags=tags)
    assert np.array_equal(m.dv[tags], model.infer_vectors(new_docs[:5]))
    m.save(tmp_path / "m2")
    again = JoSE.load(tmp_path / "m2")
    assert again.dv.index_to_key[-5:] == tags
    assert np.array_equal(again.dv.vectors, m.dv.vectors)
    # a read-only (mmap) model takes new documents too: dv becomes an in-memory table
    ro = JoSE.load(tmp_path / "m2", mmap="r")
    ro.add_documents([TaggedDocument(new_docs[6], ["x"])])
    assert "x" in ro.dv and len(ro.dv) == len(again.dv) + 1


def test_add_documents_rejects_clashing_tags(model, new_docs, tmp_path):
    m = JoSE.load(save(model, tmp_path / "m"))
    n = len(m.dv)
    with pytest.raises(ValueError, match="tag 0 is already"):
        m.add_documents(new_docs[:2], tags=[n + 5, 0])
    with pytest.raises(ValueError, match="'a' is given twice"):
        m.add_documents(new_docs[:2], tags=["a", "a"])
    with pytest.raises(ValueError, match="2 entries for 3 documents"):
        m.add_documents(new_docs[:3], tags=["a", "b"])
    with pytest.raises(ValueError, match="exactly one tag"):
        m.add_documents([TaggedDocument(new_docs[0], ["a", "b"])])
    with pytest.raises(ValueError, match="tags"):
        m.add_documents(new_docs[:1], tags=[1.5])
    assert len(m.dv) == n                          # nothing was added


def test_add_document_without_known_words_gets_a_unit_vector(model, tmp_path):
    m = JoSE.load(save(model, tmp_path / "m"))
    known = m.add_documents([["nope"], ["t0w1"]], tags=["a", "b"])
    assert known.tolist() == [False, True]
    assert abs(np.linalg.norm(m.dv["a"]) - 1) < 1e-5
    m.save(tmp_path / "m")                         # still loads: every row is a unit vector
    JoSE.load(tmp_path / "m")


# -- inference-only loading ------------------------------------------------------------

def save(model, path):
    model.save(path)
    return path


def test_inference_only_load(model, new_docs, tmp_path):
    path = save(model, tmp_path / "m")
    (path / "dv.npy").write_bytes(b"garbage")      # never read
    (path / "cv.npy").unlink()                     # nor this, for either objective
    light = JoSE.load(path, mmap="r", inference_only=True)
    assert np.array_equal(light.infer_vectors(new_docs), model.infer_vectors(new_docs))
    assert "inference only" in repr(light)
    uses = [lambda: light.dv.most_similar(0), lambda: light.save(tmp_path / "x"),
            lambda: light.train([["t0w1", "t0w2"]]), lambda: light.add_documents([["t0w1"]])]
    for use in uses + [lambda: len(light.cv)]:
        with pytest.raises(RuntimeError, match="inference_only"):
            use()
    with pytest.raises(ValueError, match="cv.npy is missing"):
        JoSE.load(path)                            # a full load does check them
    with pytest.raises(ValueError, match="inference_only"):
        JoSE.load(path, inference_only="yes")


@pytest.mark.parametrize("rule", ["paper", "reference"])
def test_word_document_inference_matches_the_float64_oracle(model, new_docs, rule):
    # the kernel's inference with the word-document hinge, step for step
    # against tests/reference.py (same random stream, float64 arithmetic)
    import reference
    keep, thresh, alias = model._get_samplers()
    docs = [new_docs[1], new_docs[3]]
    ids = [np.array([model.wv.key_to_index[w] for w in doc if w in model.wv.key_to_index],
                    dtype=np.int32) for doc in docs]
    tokens = np.concatenate(ids)
    offsets = np.array([0, len(ids[0]), len(tokens)], dtype=np.int64)
    out = np.empty((2, model.vector_size), dtype=np.float32)
    _core.infer_documents(model.wv.vectors, out, tokens, offsets, keep, thresh, alias,
                          2, 0.5, rule, 0.05, 1e-4, 4, 123, 1)
    for row, words in zip(out, ids):
        want = reference.infer_document(model.wv.vectors, words, keep, thresh, alias, 2, 0.5,
                                        0.05, 1e-4, 4, 123, rule)
        np.testing.assert_allclose(row, want, atol=2e-4)
        assert abs(float(row @ want) - 1.0) < 1e-5


# -- the start vector ---------------------------------------------------------------

def unit_rows(rng, n, dim):
    U = rng.standard_normal((n, dim))
    return (U / np.linalg.norm(U, axis=1, keepdims=True)).astype(np.float32)


def infer_raw(U, docs, epochs=1, alpha=1e-7, seed=5, start="centred", rule="paper"):
    """The kernel on hand-made word vectors (no subsampling, uniform negatives)."""
    tokens = np.array([w for d in docs for w in d], dtype=np.int32)
    offsets = np.cumsum([0] + [len(d) for d in docs]).astype(np.int64)
    V = len(U)
    keep = np.full(V, 1 << 32, dtype=np.uint64)        # keep every token
    thresh = np.full(V, 1 << 32, dtype=np.uint64)      # alias table: uniform
    alias = np.arange(V, dtype=np.int32)
    out = np.empty((len(docs), U.shape[1]), np.float32)
    _core.infer_documents(U, out, tokens, offsets, keep, thresh, alias, 2, 0.5, rule,
                          alpha, 1e-4, epochs, seed, 1, start=start)
    return out, (U, tokens, offsets, keep, thresh, alias)


def test_start_is_the_centred_mean_of_the_word_vectors():
    # with a vanishing rate d stays where it starts: at the direction of the
    # sum over the tokens of U[w] - mu, mu the mean negative (here, with
    # uniform negatives, the mean row of U); a random start would be ~orthogonal
    U = unit_rows(np.random.default_rng(1), 50, 32)
    mu = U.astype(np.float64).mean(0)
    assert np.allclose(_core.negative_mean(U, *infer_raw(U, [[0]])[1][4:]), mu)
    docs = [[7] * 6, [3, 9, 9, 40, 3, 12], [5]]
    X, _ = infer_raw(U, docs)
    M, _ = infer_raw(U, docs, start="mean")
    R, _ = infer_raw(U, docs, start="random")
    for x, m, r, doc in zip(X, M, R, docs):
        centred = (U[doc] - mu).sum(0)
        assert float(x @ centred) / np.linalg.norm(centred) > 1 - 1e-5
        mean = U[doc].astype(np.float64).mean(0)
        assert float(m @ mean) / np.linalg.norm(mean) > 1 - 1e-5
        assert abs(float(r @ x)) < 0.9
    with pytest.raises(ValueError, match="start"):
        infer_raw(U, docs, start="zero")


@pytest.mark.parametrize("rule", ["paper", "reference"])
@pytest.mark.parametrize("start", ["centred", "mean"])
def test_start_falls_back_to_random_when_the_mean_vanishes(rule, start):
    import reference
    U = unit_rows(np.random.default_rng(2), 20, 16)
    U[1] = -U[0]                     # [0, 1]: the plain mean is 0
    vanish = [[0, 1], [1, 0, 0, 1]] if start == "mean" else \
        [list(range(20)), list(range(20))[::-1]]      # every word once: the centred sum is 0
    docs = vanish + [[0, 1, 2]]
    X, args = infer_raw(U, docs, epochs=3, alpha=0.05, rule=rule, start=start)
    R, _ = infer_raw(U, docs, epochs=3, alpha=0.05, rule=rule, start="random")
    assert np.array_equal(X[:2], R[:2]) and not np.array_equal(X[2], R[2])
    U, tokens, offsets, keep, thresh, alias = args
    for x, doc in zip(X, docs):
        want = reference.infer_document(U, np.array(doc, np.int32), keep, thresh, alias,
                                        2, 0.5, 0.05, 1e-4, 3, 5, rule, start=start)
        np.testing.assert_allclose(x, want, atol=2e-5)


def test_model_caches_the_centre_until_its_word_vectors_change(planted):
    docs, _, _ = planted
    m = JoSE(docs[:40], **dict(PARAMS, epochs=1)).train()
    keep, thresh, alias = m._get_samplers()
    assert np.array_equal(m._get_infer_shift(), _core.negative_mean(m.wv.vectors, thresh, alias))
    assert m._get_infer_shift() is m._get_infer_shift()
    before = m._get_infer_shift().copy()
    m.train()                                          # moves U in place
    assert not np.array_equal(m._get_infer_shift(), before)
    assert np.array_equal(m._get_infer_shift(), _core.negative_mean(m.wv.vectors, thresh, alias))
