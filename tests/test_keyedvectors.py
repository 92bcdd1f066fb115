"""KeyedVectors queries against brute-force NumPy on small hand-made vectors."""
import numpy as np
import pytest

from jose.keyedvectors import KeyedVectors, normalize_rows

WORDS = ["cat", "dog", "wolf", "car", "truck", "bus", "apple", "pear"]


@pytest.fixture
def kv():
    rng = np.random.default_rng(0)
    base = {"animal": rng.standard_normal(6), "vehicle": rng.standard_normal(6),
            "fruit": rng.standard_normal(6)}
    groups = ["animal"] * 3 + ["vehicle"] * 3 + ["fruit"] * 2
    raw = np.stack([base[g] + 0.3 * rng.standard_normal(6) for g in groups])
    return KeyedVectors(WORDS, normalize_rows(raw))


def brute_most_similar(kv, positive=(), negative=(), topn=10):
    """The obvious O(n) reference: mean of normalised items, cosine, sort."""
    def vec(item):
        v = np.asarray(item, np.float64) if isinstance(item, np.ndarray) \
            else kv.vectors[kv.key_to_index[item]].astype(np.float64)
        return v / np.linalg.norm(v)
    q = sum(vec(p) for p in positive) - sum((vec(n) for n in negative), np.zeros(6))
    q = q / np.linalg.norm(q)
    sims = []
    for i, key in enumerate(kv.index_to_key):
        if key in [x for x in list(positive) + list(negative) if not isinstance(x, np.ndarray)]:
            continue
        v = kv.vectors[i].astype(np.float64)
        sims.append((key, float(v @ q / np.linalg.norm(v))))
    sims.sort(key=lambda kv_: -kv_[1])
    return sims[:topn]


def assert_same_ranking(got, want):
    assert [k for k, _ in got] == [k for k, _ in want]
    np.testing.assert_allclose([s for _, s in got], [s for _, s in want], atol=1e-5)


@pytest.mark.parametrize("positive,negative,topn", [
    (["cat"], [], 10),
    (["cat"], [], 3),
    (["cat", "dog"], [], 4),
    (["car"], ["apple"], 5),
    ([], ["pear"], 2),
    (["cat", "truck"], ["apple", "bus"], 10),
    (["wolf"], [], 1),
])
def test_most_similar_matches_brute_force(kv, positive, negative, topn):
    got = kv.most_similar(positive=positive, negative=negative, topn=topn)
    want = brute_most_similar(kv, positive, negative, topn)
    assert_same_ranking(got, want)
    assert len(got) == min(topn, len(WORDS) - len(positive) - len(negative))
    for key in positive + negative:
        assert key not in [k for k, _ in got]


def test_most_similar_single_key_and_neighbours(kv):
    assert kv.most_similar("cat", topn=2) == kv.most_similar(["cat"], topn=2)
    assert {k for k, _ in kv.most_similar("cat", topn=2)} == {"dog", "wolf"}
    assert {k for k, _ in kv.most_similar("apple", topn=1)} == {"pear"}
    assert kv.similar_by_key("car", topn=2) == kv.most_similar("car", topn=2)
    assert kv.similar_by_word("car", topn=2) == kv.most_similar("car", topn=2)


def test_most_similar_raw_vector(kv):
    v = kv["cat"] * 3.0 + 0.01               # a raw vector: not excluded, any length
    got = kv.most_similar(positive=[v], topn=8)
    want = brute_most_similar(kv, [v], [], 8)
    assert_same_ranking(got, want)
    assert got[0][0] == "cat"
    single = kv.most_similar(v, topn=3)
    assert_same_ranking(single, want[:3])
    by_vec = kv.similar_by_vector(v, topn=3)
    assert_same_ranking(by_vec, want[:3])
    mixed = kv.most_similar(positive=[v, "dog"], negative=["car"], topn=5)
    assert_same_ranking(mixed, brute_most_similar(kv, [v, "dog"], ["car"], 5))


def test_most_similar_topn_none_and_restrict(kv):
    sims = kv.most_similar("cat", topn=None)
    np.testing.assert_allclose(sims, kv.vectors @ kv["cat"], atol=1e-6)
    got = kv.most_similar("cat", topn=10, restrict_vocab=4)
    assert [k for k, _ in got] == [k for k, _ in brute_most_similar(
        KeyedVectors(WORDS[:4], kv.vectors[:4]), ["cat"], [], 10)]


def test_most_similar_errors(kv):
    with pytest.raises(KeyError):
        kv.most_similar("zebra")
    with pytest.raises(KeyError):
        kv.most_similar(positive=["cat"], negative=["zebra"])
    with pytest.raises(ValueError):
        kv.most_similar()
    with pytest.raises(ValueError):
        kv.most_similar(positive=["cat"], negative=["cat"])    # zero query


def test_similarity_and_distance(kv):
    for a in WORDS:
        for b in WORDS:
            va = kv.vectors[WORDS.index(a)].astype(np.float64)
            vb = kv.vectors[WORDS.index(b)].astype(np.float64)
            want = va @ vb / (np.linalg.norm(va) * np.linalg.norm(vb))
            assert kv.similarity(a, b) == pytest.approx(want, abs=1e-6)
            assert kv.distance(a, b) == pytest.approx(1.0 - want, abs=1e-6)
    assert kv.similarity("cat", "cat") == pytest.approx(1.0, abs=1e-6)
    with pytest.raises(KeyError):
        kv.similarity("cat", "zebra")


def test_n_similarity(kv):
    a = kv.vectors[[0, 1]].mean(axis=0).astype(np.float64)
    b = kv.vectors[[3, 6]].mean(axis=0).astype(np.float64)
    want = a @ b / (np.linalg.norm(a) * np.linalg.norm(b))
    assert kv.n_similarity(["cat", "dog"], ["car", "apple"]) == pytest.approx(want, abs=1e-6)


def test_doesnt_match(kv):
    def brute(keys):
        # gensim's definition: least similar to the mean of all the keys' unit vectors
        vecs = np.stack([kv.vectors[kv.key_to_index[k]] for k in keys]).astype(np.float64)
        mean = vecs.mean(axis=0)
        return keys[int(np.argmin(vecs @ (mean / np.linalg.norm(mean))))]
    for keys in (["cat", "dog", "wolf", "car"], ["car", "bus", "truck", "pear"],
                 ["apple", "pear", "dog"], ["cat", "car", "apple", "truck", "bus"]):
        assert kv.doesnt_match(keys) == brute(keys)
    assert kv.doesnt_match(["cat", "dog", "wolf", "car"]) == "car"
    assert kv.doesnt_match(["cat", "dog", "zebra", "apple"]) == "apple"   # unknown keys skipped
    with pytest.raises(ValueError):
        kv.doesnt_match(["zebra", "unicorn"])


def test_lookups(kv):
    assert len(kv) == len(WORDS) and kv.vector_size == 6
    assert list(kv) == WORDS
    assert "cat" in kv and "zebra" not in kv
    assert np.array_equal(kv["truck"], kv.vectors[4])
    assert np.array_equal(kv.get_vector("truck"), kv.vectors[4])
    assert np.array_equal(kv[["pear", "cat"]], kv.vectors[[7, 0]])
    assert kv.get_index("bus") == 5
    assert kv.get_index(2) == 2               # an int that is no key is a position
    with pytest.raises(KeyError):
        kv["zebra"]
    with pytest.raises(KeyError):
        kv.get_index(len(WORDS))
    with pytest.raises(KeyError):
        kv.get_index(-1)
    with pytest.raises(KeyError):
        kv[["cat", "zebra"]]


def test_vectors_are_shared_not_copied():
    vecs = normalize_rows(np.eye(3))
    kv = KeyedVectors(["a", "b", "c"], vecs)
    vecs[0] = [0.0, 1.0, 0.0]
    assert np.array_equal(kv["a"], [0.0, 1.0, 0.0])


def test_int_tags_versus_positions():
    # document tags 10, "x", 0, 1: an int that is a tag means the tag
    vecs = normalize_rows(np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0]], float))
    dv = KeyedVectors([10, "x", 0, 1], vecs)
    assert dv.get_index(10) == 0
    assert dv.get_index("x") == 1
    assert dv.get_index(0) == 2                # tag 0, not position 0
    assert dv.get_index(1) == 3                # tag 1, not position 1
    assert dv.get_index(np.int64(10)) == 0
    assert np.array_equal(dv[0], vecs[2])
    assert np.array_equal(dv["x"], vecs[1])
    assert 10 in dv and 0 in dv and 2 not in dv and "10" not in dv
    assert dv.get_index(2) == 2                # no tag 2: position 2
    with pytest.raises(KeyError):
        dv.get_index(4)
    with pytest.raises(KeyError):
        dv["y"]
    # most_similar by an int tag excludes the tag's own row
    got = dv.most_similar(10, topn=3)
    assert 10 not in [k for k, _ in got]
    assert got[0][0] == 1                      # [1, 1, 0] is nearest to [1, 0, 0]
    # string tags that look like numbers stay strings
    sv = KeyedVectors(["0", "1"], vecs[:2])
    assert sv.get_index("1") == 1 and sv.get_index(0) == 0 and 0 not in sv


def test_normalize_rows():
    x = np.array([[3.0, 4.0], [0.0, -2.0], [1e-3, 0.0]])
    y = normalize_rows(x)
    assert y.dtype == np.float32 and y.flags.c_contiguous
    np.testing.assert_allclose(y, [[0.6, 0.8], [0.0, -1.0], [1.0, 0.0]], atol=1e-7)
    assert x[0, 0] == 3.0                       # a copy, the input is kept
    y2 = normalize_rows(np.asfortranarray(np.ones((3, 4))))
    assert y2.flags.c_contiguous
    with pytest.raises(ValueError, match="row 1"):
        normalize_rows(np.array([[1.0, 0.0], [0.0, 0.0]]))
    with pytest.raises(ValueError, match="row 0"):
        normalize_rows(np.array([[np.nan, 1.0]]))
    with pytest.raises(ValueError, match="row 2"):
        normalize_rows(np.array([[1.0, 0.0], [0.0, 1.0], [np.inf, 0.0]]))
    with pytest.raises(ValueError):
        normalize_rows(np.ones(3))


@pytest.mark.parametrize("scale", [1e-20, 1e-30, 1e20, 1e30])
def test_normalize_rows_extreme_magnitudes(scale):
    # Finite, non-zero float32 rows have a direction whatever their length:
    # they must come out as unit vectors, not be rejected as "zero or not
    # finite" (squares under- or overflow when the norm is taken in float32).
    x = np.array([[scale, 0.0], [scale, scale], [-scale, 2 * scale]])
    x32 = x.astype(np.float32)
    assert np.all(np.isfinite(x32)) and np.all(np.abs(x32).max(axis=1) > 0)
    y = normalize_rows(x)
    want = x / np.linalg.norm(x, axis=1, keepdims=True)
    np.testing.assert_allclose(y, want, atol=1e-6)
    assert np.all(np.abs(np.linalg.norm(y.astype(np.float64), axis=1) - 1.0) < 1e-6)


def test_mismatched_keys_and_vectors():
    with pytest.raises(ValueError):
        KeyedVectors(["a", "b"], np.ones((3, 2), np.float32))
