"""jose.dask and JoSEInferencer on a real two-process Dask cluster."""
import pickle
import sys

import numpy as np
import pytest

from jose import JoSE
from jose.inference import JoSEInferencer, tokenize_text

pd = pytest.importorskip("pandas")
distributed = pytest.importorskip("distributed")
db = pytest.importorskip("dask.bag")
dd = pytest.importorskip("dask.dataframe")

from jose.dask import count_vocabulary, infer_bag, infer_dataframe  # noqa: E402
from planted import fresh_document, planted_corpus, saved_planted_model  # noqa: E402


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return saved_planted_model(tmp_path_factory.mktemp("m"))


@pytest.fixture(scope="module")
def model(model_dir):
    return JoSE.load(model_dir)


@pytest.fixture(scope="module")
def texts():
    rng = np.random.default_rng(2)
    vocab = planted_corpus(seed=0)[2]
    out = [" ".join(fresh_document(rng, vocab, i % 4, length=3 + i % 20)).upper()
           for i in range(200)]
    out[3] = "nothing known here"
    return out


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as c:
        # workers that cannot start (e.g. they import an unbuilt jose) fail here, not hang later
        c.wait_for_workers(2, timeout=120)
        yield c


def expected(model, texts):
    return model.infer_vectors([tokenize_text(t) for t in texts], workers=1)


def test_inferencer_pickles_as_its_path(model_dir, model, texts):
    infer = JoSEInferencer(model_dir, workers=2, tokenize=True)
    X = infer(texts)
    assert np.array_equal(X, expected(model, texts))
    blob = pickle.dumps(infer)              # after the model was loaded
    assert len(blob) < 1000 and b"NUMPY" not in blob
    again = pickle.loads(blob)
    assert np.array_equal(again(texts[:7]), X[:7])
    assert repr(again).startswith("JoSEInferencer(")


def test_inferencer_batch_kinds(model_dir, model, texts):
    pa = pytest.importorskip("pyarrow")
    infer = JoSEInferencer(model_dir, tokenize=True)
    X = expected(model, texts[:20])
    assert np.array_equal(infer(pd.Series(texts[:20])), X)
    assert np.array_equal(infer(pa.array(texts[:20])), X)
    assert np.array_equal(infer(np.array(texts[:20], dtype=object)), X)
    assert np.array_equal(infer([tokenize_text(t) for t in texts[:20]]), X)
    frame = infer(pd.DataFrame({"text": texts[:20], "id": range(20)}))
    assert list(frame.columns) == ["text", "id", "vector"]
    assert np.array_equal(np.stack(frame["vector"]), X)
    batch = infer({"text": np.array(texts[:20], dtype=object)})       # Ray's numpy batches
    assert np.array_equal(batch["vector"], X)
    out = list(infer.map_pandas(iter([pd.DataFrame({"text": texts[:5]}),
                                      pd.DataFrame({"text": texts[5:20]})])))
    assert np.array_equal(np.concatenate([np.stack(f["vector"]) for f in out]), X)
    # whitespace splitting (the default) keeps case: upper-case words are unknown
    assert not JoSEInferencer(model_dir)(texts[:5]).any()


def test_inferencer_bad_input(model_dir, tmp_path):
    with pytest.raises(ValueError, match="workers"):
        JoSEInferencer(model_dir, workers=0)
    with pytest.raises(ValueError, match="epochs"):
        JoSEInferencer(model_dir, epochs=0)
    with pytest.raises(ValueError, match="tokenize"):
        JoSEInferencer(model_dir, tokenize="yes")
    infer = JoSEInferencer(model_dir)
    with pytest.raises(ValueError, match="no column 'text'"):
        infer(pd.DataFrame({"body": ["a"]}))
    with pytest.raises(ValueError, match=r"texts\[1\] is missing"):
        infer(pd.Series(["a", None]))
    with pytest.raises(FileNotFoundError, match="no saved model"):
        JoSEInferencer(tmp_path / "nope")(["a"])


def test_infer_bag_on_cluster(client, model_dir, model, texts):
    bag = db.from_sequence(texts, npartitions=5)
    rows = infer_bag(model_dir, bag, workers=2, tokenize=True).compute()
    assert np.array_equal(np.stack(rows), expected(model, texts))
    assert not rows[3].any()


def test_infer_dataframe_on_cluster(client, model_dir, model, texts):
    frame = pd.DataFrame({"text": texts, "n": range(len(texts))},
                         index=pd.Index(range(1000, 1000 + len(texts)), name="doc"))
    ddf = dd.from_pandas(frame, npartitions=4)
    out = infer_dataframe(model_dir, ddf, "text", tokenize=True).compute()
    assert list(out.columns) == [f"v{i}" for i in range(16)]
    assert (out.dtypes == np.float32).all() and out.index.equals(frame.index)
    assert np.array_equal(out.to_numpy(), expected(model, texts))
    with pytest.raises(ValueError, match="no column 'body'"):
        infer_dataframe(model_dir, ddf, "body")


def test_count_vocabulary_equals_single_machine(client, tmp_path, texts):
    from jose.textcorpus import count_corpus
    from jose.vocab import Vocabulary
    corpus = tmp_path / "c.txt"
    corpus.write_text("\n".join(texts) + "\n", encoding="utf-8")
    for tokenize in (False, True):
        single = count_corpus(corpus, tokenize=tokenize)
        want = Vocabulary.from_counts(single.words, single.counts, 3)
        got = count_vocabulary(db.from_sequence(texts, npartitions=6), min_count=3,
                               tokenize=tokenize)
        assert got.words == want.words and np.array_equal(got.counts, want.counts)
    # a model can be built from it, as jose-train builds one from its counts
    model = JoSE(min_count=3, vector_size=8).build_vocab_from_counts(
        got.words, got.counts, range(len(texts)))
    assert model.vocab.words == got.words


def test_missing_dask_names_the_extra(monkeypatch, model_dir):
    monkeypatch.setitem(sys.modules, "dask.bag", None)
    with pytest.raises(ImportError, match=r"jose-embeddings\[dask\]"):
        infer_bag(model_dir, [])
