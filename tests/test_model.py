"""The JoSE model on small synthetic corpora: planted topics are recovered,
training is deterministic, the tables stay on the sphere, and bad input fails
with a clear error."""
import json
import math
import os

import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score

from jose import JoSE, TaggedDocument, TrainingProgress
from legacy_format import downgrade
from planted import fresh_document, planted_corpus

# the separate objective, unless a test says otherwise (the joint one has tests of its own)
PARAMS = dict(vector_size=24, min_count=1, epochs=10, workers=1, sample=0.0, seed=3,
              margin=0.5, window=5, objective="separate")


@pytest.fixture(scope="module")
def planted():
    return planted_corpus(seed=0)


@pytest.fixture(scope="module", params=["paper", "reference"])
def trained(request, planted):
    docs, labels, vocab = planted
    model = JoSE(docs, update_rule=request.param, **PARAMS).train()
    return model, docs, labels, vocab


def tables(model):
    return model.wv.vectors, model.cv.vectors, model.dv.vectors


def assert_unit_rows(a, tol=1e-5):
    norms = np.linalg.norm(a.astype(np.float64), axis=1)
    assert np.all(np.abs(norms - 1.0) < tol), np.abs(norms - 1.0).max()


def ari(model, labels):
    km = KMeans(n_clusters=len(set(labels)), n_init=10, random_state=0).fit(model.dv.vectors)
    return adjusted_rand_score(labels, km.labels_)


def neighbour_purity(kv, vocab, topn=5):
    topic = {w: t for t, words in enumerate(vocab) for w in words}
    return np.mean([np.mean([topic[k] == topic[w] for k, _ in kv.most_similar(w, topn=topn)])
                    for w in topic])


# -- the planted structure is recovered --------------------------------------------

def test_documents_cluster_by_topic(trained):
    model, docs, labels, _ = trained
    assert ari(model, labels) > 0.9
    # nearest other document shares the topic
    D = model.dv.vectors
    sims = D @ D.T
    np.fill_diagonal(sims, -np.inf)
    assert np.mean(labels[np.argmax(sims, axis=1)] == labels) > 0.95


def test_untrained_model_does_not_cluster(planted):
    # the clustering test above measures training, not the initialisation
    docs, labels, _ = planted
    model = JoSE(docs, **PARAMS)
    assert ari(model, labels) < 0.3


def test_word_neighbours_share_topic(trained):
    model, _, _, vocab = trained
    assert neighbour_purity(model.cv, vocab) > 0.9
    assert neighbour_purity(model.wv, vocab) > 0.7   # chance is 29/119


def test_infer_vector_finds_the_topic(trained):
    model, _, labels, vocab = trained
    rng = np.random.default_rng(42)
    D = model.dv.vectors
    for topic in range(len(vocab)):
        for _ in range(3):
            x = model.infer_vector(fresh_document(rng, vocab, topic))
            assert x.dtype == np.float32 and x.shape == (model.vector_size,)
            assert abs(np.linalg.norm(x.astype(np.float64)) - 1.0) < 1e-5
            mean_sims = [float((D[labels == t] @ x).mean()) for t in range(len(vocab))]
            assert int(np.argmax(mean_sims)) == topic, mean_sims


def test_infer_vector_deterministic_and_leaves_model_alone(trained):
    model, _, _, vocab = trained
    before = [t.copy() for t in tables(model)]
    doc = fresh_document(np.random.default_rng(0), vocab, 1)
    a = model.infer_vector(doc)
    b = model.infer_vector(doc)
    c = model.infer_vector(doc, seed=model.seed)
    d = model.infer_vector(doc, seed=model.seed + 1)
    assert np.array_equal(a, b) and np.array_equal(a, c)
    assert not np.array_equal(a, d)
    for x, y in zip(before, tables(model)):
        assert np.array_equal(x, y)
    # unknown words are ignored
    e = model.infer_vector(["never-seen"] + doc + ["nor-this"])
    assert np.array_equal(e, a)


def test_infer_vector_bad_input(trained):
    model = trained[0]
    with pytest.raises(ValueError, match="vocabulary"):
        model.infer_vector(["never-seen", "nor-this"])
    with pytest.raises(ValueError, match="vocabulary"):
        model.infer_vector([])
    with pytest.raises(TypeError):
        model.infer_vector("t0w1 t0w2")
    with pytest.raises(ValueError, match="epochs"):
        model.infer_vector(["t0w1"], epochs=0)
    with pytest.raises(ValueError, match="alpha"):
        model.infer_vector(["t0w1"], alpha=-1.0)


# -- invariants --------------------------------------------------------------------

def test_tables_are_unit_float32_contiguous(trained):
    model, docs, _, vocab = trained
    n_words = sum(len(v) for v in vocab)
    shapes = [(n_words, 24), (n_words, 24), (len(docs), 24)]
    for table, shape in zip(tables(model), shapes):
        assert table.shape == shape
        assert table.dtype == np.float32 and table.flags.c_contiguous
        assert np.all(np.isfinite(table))
        assert_unit_rows(table)


def test_starting_vectors_are_the_same_for_any_number_of_workers():
    from jose.model import seeded_unit_vectors
    seed = np.random.SeedSequence(7)
    one = seeded_unit_vectors(seed, 1000, 5, workers=1, chunk=64)
    assert one.dtype == np.float32 and one.shape == (1000, 5)
    assert_unit_rows(one)
    for workers in (2, 3):
        assert np.array_equal(seeded_unit_vectors(seed, 1000, 5, workers, chunk=64), one)
    # each block its own stream: the first rows do not depend on how many follow
    assert np.array_equal(seeded_unit_vectors(seed, 70, 5, chunk=64), one[:70])
    assert not np.array_equal(seeded_unit_vectors(np.random.SeedSequence(8), 70, 5), one[:70])
    assert seeded_unit_vectors(seed, 0, 5).shape == (0, 5)
    # roughly uniform: the mean direction of many is near the centre
    assert np.linalg.norm(seeded_unit_vectors(seed, 20000, 5, workers=2).mean(axis=0)) < 0.03


@pytest.mark.parametrize("rule", ["paper", "reference"])
def test_unit_norm_with_large_steps(planted, rule):
    docs = planted[0]
    model = JoSE(docs, vector_size=17, min_count=1, epochs=3, workers=1, alpha=0.9,
                 margin=2.0, update_rule=rule, seed=5).train()
    for table in tables(model):
        assert_unit_rows(table)


def test_training_is_deterministic(planted):
    docs = planted[0]
    a = JoSE(docs, **PARAMS).train()
    b = JoSE(docs, **PARAMS).train()
    for x, y in zip(tables(a), tables(b)):
        assert np.array_equal(x, y)
    assert a.training_loss == b.training_loss
    c = JoSE(docs, **{**PARAMS, "seed": 4}).train()
    for x, y in zip(tables(a), tables(c)):
        assert not np.array_equal(x, y)


def test_batch_size_does_not_change_training_in_corpus_order(planted):
    # every document's draws come from its index, its learning rate from its
    # place in the order: in corpus order, how it is cut into batches is moot
    docs = planted[0]
    a = JoSE(docs, **{**PARAMS, "epochs": 3, "shuffle": False}).train()
    b = JoSE(docs, **{**PARAMS, "epochs": 3, "shuffle": False})
    b.batch_tokens = 97
    b.train()
    for x, y in zip(tables(a), tables(b)):
        assert np.array_equal(x, y)


def test_shuffle_changes_the_order_not_the_quality(planted):
    docs, labels, _ = planted
    ordered = JoSE(docs, **{**PARAMS, "shuffle": False}).train()
    shuffled = JoSE(docs, **PARAMS).train()
    assert not np.array_equal(ordered.dv.vectors, shuffled.dv.vectors)
    for model in (ordered, shuffled):
        assert ari(model, labels) > 0.9


def small_corpus(kind, tmp_path, n_docs=200):
    """The same 200 documents of 0..29 tokens in memory or as a DiskCorpus."""
    from jose.corpus import MemoryCorpus
    from jose.textcorpus import OFFSETS_FILE, TOKENS_FILE, DiskCorpus
    lengths = np.random.default_rng(0).integers(0, 30, size=n_docs)
    tokens = (np.arange(lengths.sum()) % 7).astype(np.int32)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    if kind == "memory":
        return MemoryCorpus(tokens, offsets)
    tokens.tofile(tmp_path / TOKENS_FILE)
    offsets.tofile(tmp_path / OFFSETS_FILE)
    return DiskCorpus(tmp_path)


@pytest.mark.parametrize("kind", ["memory", "disk"])
def test_shuffle_visits_every_document_once_per_epoch(kind, tmp_path):
    from jose.corpus import training_batches
    corpus = small_corpus(kind, tmp_path)
    offsets = corpus.offsets
    tokens = np.fromfile(corpus.tokens_path, np.int32) if kind == "disk" else corpus.tokens
    orders = []
    for epoch in range(3):
        batches = list(training_batches(corpus, True, np.random.default_rng([1, epoch]),
                                        chunk_tokens=40, chunks_per_batch=2))
        ids = np.concatenate([b.doc_ids for b in batches])
        assert sorted(ids.tolist()) == list(range(200))
        orders.append(ids)
        for b in batches:   # each document keeps its own tokens and its own row
            assert len(b.tokens) <= 2 * (40 + 29)
            assert np.array_equal(b.tag_rows, b.doc_ids)
            for k, d in enumerate(b.doc_ids):
                expected = tokens[offsets[d]:offsets[d + 1]]
                assert np.array_equal(b.tokens[b.offsets[k]:b.offsets[k + 1]], expected)
    assert not np.array_equal(orders[0], np.arange(200))
    assert not np.array_equal(orders[0], orders[1])
    again = np.concatenate([b.doc_ids for b in training_batches(
        corpus, True, np.random.default_rng([1, 0]), chunk_tokens=40, chunks_per_batch=2)])
    assert np.array_equal(again, orders[0])   # the seed decides


@pytest.mark.parametrize("kind", ["memory", "disk"])
def test_every_shuffled_batch_draws_from_the_whole_corpus(kind, tmp_path):
    # a batch of one ~40-token chunk: shuffling chunks would keep its
    # documents neighbours in the file; a full permutation spreads them
    from jose.corpus import training_batches
    corpus = small_corpus(kind, tmp_path)
    batches = [b for b in training_batches(corpus, True, np.random.default_rng(2),
                                           chunk_tokens=40, chunks_per_batch=1)
               if len(b.doc_ids) > 1]
    spans = [np.ptp(b.doc_ids) for b in batches]
    assert np.mean(spans) > 40   # 2 or 3 random documents of 200 span 67 to 100; a chunk < 10


def test_in_order_batches_are_contiguous_runs(tmp_path):
    from jose.corpus import training_batches
    corpus = small_corpus("memory", tmp_path)
    batches = list(training_batches(corpus, False, np.random.default_rng(0),
                                    chunk_tokens=40, chunks_per_batch=2))
    assert np.array_equal(np.concatenate([b.doc_ids for b in batches]), np.arange(200))
    assert len(batches) > 5


def test_sorted_and_shuffled_files_train_alike():
    # the same documents sorted by topic and in random order: with shuffle=True
    # the file order must not matter beyond seed noise (many small batches)
    docs, labels, _ = planted_corpus(seed=4, docs_per_topic=60, doc_len=20)
    rng = np.random.default_rng(0)
    shared = [f"s{i}" for i in range(100)]   # half of every document is shared noise
    docs = [d[:10] + list(rng.choice(shared, 10)) for d in docs]
    by_topic = np.argsort(labels, kind="stable")
    scores = {}
    for name, order in (("sorted", by_topic), ("shuffled", rng.permutation(len(docs)))):
        runs = []
        for seed in range(3):   # one run's ARI varies by about 0.05 with the seed
            model = JoSE([docs[i] for i in order],
                         **{**PARAMS, "margin": 0.15, "epochs": 5, "seed": seed})
            model.batch_tokens = 16 * 60
            model.train()
            km = KMeans(n_clusters=4, n_init=10, random_state=0).fit(model.dv.vectors)
            runs.append(adjusted_rand_score(labels[order], km.labels_))
        scores[name] = np.mean(runs)
    assert min(scores.values()) > 0.7, scores
    assert abs(scores["sorted"] - scores["shuffled"]) < 0.1, scores


@pytest.mark.parametrize("sync_pairs", [1, 1 << 18])
def test_two_workers(planted, sync_pairs):
    # every word of this vocabulary gets private rows; sync_pairs=1 folds them
    # into the shared table after every document, 1 << 18 at the end of a block
    docs, labels, _ = planted
    model = JoSE(docs, **{**PARAMS, "workers": 2})
    model.sync_pairs = sync_pairs
    if os.environ.get("JOSE_NO_OPENMP") != "1":
        trainer = model._trainer(1, 1)
        assert trainer.n_threads == 2 and trainer.n_hot == len(model.wv)
    model.batch_tokens = 500        # several blocks, both threads busy
    model.train()
    for table in tables(model):
        # Hogwild: two threads writing one shared row at once can interleave
        # two unit vectors' coordinates (seen: |norm - 1| = 2e-5)
        assert_unit_rows(table, tol=1e-4)
    assert ari(model, labels) > 0.9


@pytest.mark.parametrize("hot_bytes", [0, 1 << 20])
def test_one_document_trains_alike_on_one_or_two_workers(planted, hot_bytes):
    """A block of one document goes to one thread: with private hot rows that
    thread steps its copies and folds them in, which must give what one
    worker gets by stepping the shared table (up to rounding)."""
    docs, _, _ = planted
    one_doc = [[w for d in docs[:8] for w in d]]
    results = []
    for workers in (1, 2):
        model = JoSE(one_doc, **{**PARAMS, "workers": workers, "epochs": 3})
        model.hot_row_bytes = hot_bytes
        results.append(tables(model.train()))
    for single, double in zip(*results):
        np.testing.assert_allclose(single, double, atol=1e-4)
    start = JoSE(one_doc, **{**PARAMS, "epochs": 3})
    assert not np.allclose(start.wv.vectors, results[1][0], atol=1e-2)


def test_loss_decreases(trained):
    model, docs, _, _ = trained
    losses = model.training_loss
    assert len(losses) == PARAMS["epochs"] == model.epochs_trained
    assert [e["epoch"] for e in losses] == list(range(1, PARAMS["epochs"] + 1))
    n_tokens = sum(len(d) for d in docs)
    for e in losses:
        assert e["words"] == n_tokens
        assert e["kept_words"] == n_tokens          # sample=0 keeps every word
        assert e["word_pairs"] > 0 and e["doc_pairs"] > 0
        assert 0.0 <= e["word_loss"] <= 2.0 + PARAMS["margin"]
    assert losses[-1]["word_loss"] < losses[0]["word_loss"]
    assert losses[-1]["doc_loss"] < losses[0]["doc_loss"]
    assert model.get_latest_training_loss() == pytest.approx(
        losses[-1]["word_loss"] + losses[-1]["doc_loss"])


def test_subsampling_drops_frequent_words(planted):
    docs = planted[0]
    model = JoSE(docs, **{**PARAMS, "sample": 1e-3, "epochs": 1}).train()
    e = model.training_loss[0]
    assert 0 < e["kept_words"] < e["words"]


def test_progress_and_callbacks(planted):
    docs = planted[0]
    n_tokens = sum(len(d) for d in docs)
    seen = []

    class Recorder:
        def __init__(self):
            self.calls = []

        def on_train_begin(self, model):
            self.calls.append(("train_begin", model.epochs_trained))

        def on_epoch_begin(self, model):
            self.calls.append(("epoch_begin", model.epochs_trained))

        def on_epoch_end(self, model):
            self.calls.append(("epoch_end", len(model.training_loss)))

        def on_train_end(self, model):
            self.calls.append(("train_end", model.epochs_trained))

    class OnlyEpochEnd:
        count = 0

        def on_epoch_end(self, model):
            OnlyEpochEnd.count += 1

    rec = Recorder()
    model = JoSE(docs, **{**PARAMS, "epochs": 3})
    model.batch_tokens = 1000
    model.train(progress=seen.append, callbacks=[rec, OnlyEpochEnd()])
    assert rec.calls == [("train_begin", 0),
                         ("epoch_begin", 0), ("epoch_end", 1),
                         ("epoch_begin", 1), ("epoch_end", 2),
                         ("epoch_begin", 2), ("epoch_end", 3),
                         ("train_end", 3)]
    assert OnlyEpochEnd.count == 3
    assert len(seen) >= 3 * (n_tokens // 1000)
    assert all(isinstance(p, TrainingProgress) for p in seen)
    done = [p.words_done for p in seen]
    assert all(b > a for a, b in zip(done, done[1:]))
    assert done[-1] == seen[-1].words_total == 3 * n_tokens
    assert [p.epoch for p in seen] == sorted(p.epoch for p in seen)
    assert {p.epoch for p in seen} == {0, 1, 2}
    alphas = [p.alpha for p in seen]
    assert all(b <= a for a, b in zip(alphas, alphas[1:]))
    assert alphas[-1] == pytest.approx(model.min_alpha)
    assert alphas[-1] < alphas[0] <= model.alpha
    assert all(p.word_loss >= 0 and p.doc_loss >= 0 for p in seen)


# -- documents without words ---------------------------------------------------------

def test_empty_and_unknown_documents_keep_their_vectors(planted):
    docs = planted[0][:60]
    corpus = ([[]] + docs[:30] + [["only-once"], [], ["rare-a", "rare-b"]] + docs[30:]
              + [["only-twice-not"], []])
    silent = [0, 31, 32, 33, len(corpus) - 2, len(corpus) - 1]
    model = JoSE(corpus, **{**PARAMS, "min_count": 2, "epochs": 2})
    assert "only-once" not in model.wv
    before = model.dv.vectors.copy()
    model.train()
    after = model.dv.vectors
    assert_unit_rows(after)
    for i in silent:
        assert np.array_equal(before[i], after[i]), i
    moved = [i for i in range(len(corpus)) if i not in silent]
    assert all(not np.array_equal(before[i], after[i]) for i in moved)


def test_trailing_empty_documents_in_their_own_block(planted):
    # batches smaller than a document
    docs = planted[0][:5]
    corpus = docs + [[], [], []]
    model = JoSE(corpus, **{**PARAMS, "epochs": 2})
    model.batch_tokens = 10
    before = model.dv.vectors.copy()
    model.train()
    assert np.array_equal(before[5:], model.dv.vectors[5:])
    assert not np.array_equal(before[:5], model.dv.vectors[:5])
    for table in tables(model):
        assert_unit_rows(table)


# -- tags ----------------------------------------------------------------------------

def test_plain_token_lists_are_tagged_by_position(planted):
    docs = planted[0][:20]
    model = JoSE(docs, **PARAMS)
    assert model.dv.index_to_key == list(range(20))
    assert np.array_equal(model.dv[7], model.dv.vectors[7])


def test_tags_ints_strings_and_several(planted):
    docs = planted[0][:40]
    corpus = []
    for i, d in enumerate(docs):
        if i == 3:
            corpus.append(TaggedDocument(d, ["both-a", 1000]))
        elif i % 2:
            corpus.append(TaggedDocument(d, [f"doc{i}"]))
        else:
            corpus.append(TaggedDocument(d, i + 500))          # a bare int tag
    corpus.append(TaggedDocument(docs[0], ["doc1"]))          # a tag used twice
    model = JoSE(corpus, **PARAMS)
    dv = model.dv
    assert len(dv) == 41     # 40 documents, one of them with two tags; "doc1" twice
    assert "both-a" in dv and 1000 in dv and "doc5" in dv and 502 in dv
    assert "doc3" not in dv and 503 not in dv
    assert dv.index_to_key[:5] == [500, "doc1", 502, "both-a", 1000]
    before = dv.vectors.copy()
    model.train()
    for key in ("both-a", 1000, "doc1", 502):
        row = dv.get_index(key)
        assert not np.array_equal(before[row], dv.vectors[row]), key
        assert np.array_equal(dv[key], dv.vectors[row])
    assert np.array_equal(dv[["doc1", 500]], dv.vectors[[1, 0]])
    with pytest.raises(KeyError):
        dv["doc3"]


def test_bad_documents_and_tags():
    with pytest.raises(TypeError, match="string"):
        JoSE(["a b c", "d e f"], min_count=1)
    with pytest.raises(TypeError):
        JoSE("a b c d", min_count=1)
    with pytest.raises(TypeError, match="tags"):
        JoSE([TaggedDocument(["a", "b"], [True])], min_count=1)
    with pytest.raises(TypeError, match="tags"):
        JoSE([TaggedDocument(["a", "b"], [1.5])], min_count=1)


# -- the gensim call sequence --------------------------------------------------------

def test_gensim_sequence(planted):
    docs = planted[0]
    model = JoSE(**PARAMS)
    with pytest.raises(RuntimeError):
        model.train(docs)
    assert model.build_vocab(docs) is model
    assert model.train(docs, total_examples=len(docs), epochs=2) is model
    assert len(model.training_loss) == 2 and model.epochs_trained == 2
    direct = JoSE(docs, **PARAMS).train(epochs=2)
    for x, y in zip(tables(model), tables(direct)):
        assert np.array_equal(x, y)
    with pytest.raises(ValueError, match="total_examples"):
        model.train(docs, total_examples=len(docs) + 1, epochs=1)
    with pytest.raises(ValueError, match="epochs"):
        model.train(epochs=0)


def test_generator_corpus_equals_list(planted):
    docs = planted[0]
    a = JoSE((d for d in docs), **{**PARAMS, "epochs": 2}).train()
    b = JoSE(docs, **{**PARAMS, "epochs": 2}).train()
    for x, y in zip(tables(a), tables(b)):
        assert np.array_equal(x, y)
    a.train()     # the generator was read once; the encoded corpus is kept
    assert a.epochs_trained == 4


def test_train_on_another_corpus(planted):
    docs = planted[0]
    model = JoSE(docs, **{**PARAMS, "epochs": 1})
    other = [TaggedDocument(d, [i]) for i, d in enumerate(docs[:10])]
    before = model.dv.vectors.copy()
    model.train(other)
    assert not np.array_equal(before[:10], model.dv.vectors[:10])
    assert np.array_equal(before[10:], model.dv.vectors[10:])
    with pytest.raises(ValueError, match="tag"):
        model.train([TaggedDocument(docs[0], ["new-tag"])])


# -- parameter validation ------------------------------------------------------------

@pytest.mark.parametrize("name,value", [
    ("vector_size", 0), ("vector_size", -5), ("vector_size", 2.5), ("vector_size", "10"),
    ("vector_size", True),
    ("window", 0), ("window", -1), ("window", 1.0),
    ("negative", 0), ("negative", -2),
    ("epochs", 0), ("epochs", -1), ("epochs", 2.0),
    ("alpha", 0), ("alpha", -0.1), ("alpha", math.nan), ("alpha", math.inf),
    ("margin", 0), ("margin", -1), ("margin", 2.5), ("margin", math.nan),
    ("update_rule", "gensim"), ("update_rule", "Paper"),
    ("min_count", 0), ("workers", 0), ("workers", -1),
    ("sample", -0.001), ("sample", math.nan),
    ("min_alpha", 0), ("min_alpha", 1.0),      # 1.0 > alpha
    ("seed", -1), ("seed", 1.5),
])
def test_bad_parameter(name, value):
    with pytest.raises(ValueError, match=name):
        JoSE(**{name: value})


def test_good_edge_parameters():
    model = JoSE(margin=2.0, sample=0.0, min_alpha=0.04, alpha=0.04, workers=1,
                 update_rule="reference")
    assert model.margin == 2.0 and model.sample == 0.0


def test_empty_corpus():
    with pytest.raises(ValueError, match="empty"):
        JoSE([])
    with pytest.raises(ValueError, match="empty"):
        JoSE(iter([]))


def test_empty_vocabulary_mentions_min_count():
    with pytest.raises(ValueError, match="min_count"):
        JoSE([["a", "b"], ["c"]], min_count=2)
    with pytest.raises(ValueError, match="min_count"):
        JoSE([[], []], min_count=1)


# -- pretrained vectors --------------------------------------------------------------

def _write_w2v(path, rows):
    dim = len(rows[0][1])
    with open(path, "w", encoding="utf-8") as f:
        f.write(f"{len(rows)} {dim}\n")
        for word, vec in rows:
            f.write(word + " " + " ".join(repr(float(x)) for x in vec) + "\n")


def test_load_pretrained(tmp_path, planted):
    pytest.importorskip("jose.w2v_format")
    docs = planted[0]
    model = JoSE(docs, **{**PARAMS, "vector_size": 4})
    rng = np.random.default_rng(1)
    words = ["t0w1", "t1w2", "t3w29"]
    vecs = rng.standard_normal((3, 4)) * [[3.0], [0.2], [7.0]]     # not unit vectors
    _write_w2v(tmp_path / "u.txt", list(zip(words + ["not-in-vocab"],
                                             list(vecs) + [np.ones(4)])))
    ctx = rng.standard_normal((1, 4)) * 5
    _write_w2v(tmp_path / "v.txt", [("t2w0", ctx[0])])
    wv_before, cv_before = model.wv.vectors.copy(), model.cv.vectors.copy()
    found = model.load_pretrained(tmp_path / "u.txt", tmp_path / "v.txt")
    assert found == 3
    for word, vec in zip(words, vecs):
        np.testing.assert_allclose(model.wv[word], vec / np.linalg.norm(vec), atol=1e-6)
    i = model.cv.get_index("t2w0")
    np.testing.assert_allclose(model.cv.vectors[i], ctx[0] / np.linalg.norm(ctx[0]), atol=1e-6)
    touched = [model.wv.get_index(w) for w in words]
    untouched = np.setdiff1d(np.arange(len(model.wv)), touched)
    assert np.array_equal(model.wv.vectors[untouched], wv_before[untouched])
    cv_untouched = np.setdiff1d(np.arange(len(model.cv)), [i])
    assert np.array_equal(model.cv.vectors[cv_untouched], cv_before[cv_untouched])
    assert model.wv.vectors.dtype == np.float32 and model.wv.vectors.flags.c_contiguous
    model.train(epochs=1)
    assert_unit_rows(model.wv.vectors)


def test_load_pretrained_errors(tmp_path, planted):
    pytest.importorskip("jose.w2v_format")
    _write_w2v(tmp_path / "u5.txt", [("t0w1", np.ones(5))])
    model = JoSE(planted[0], **{**PARAMS, "vector_size": 4})
    before = model.wv.vectors.copy()
    with pytest.raises(ValueError, match="vector_size"):
        model.load_pretrained(tmp_path / "u5.txt")
    assert np.array_equal(before, model.wv.vectors)
    with pytest.raises(RuntimeError):
        JoSE(vector_size=5).load_pretrained(tmp_path / "u5.txt")




# -- the joint objective -------------------------------------------------------------

@pytest.mark.parametrize("rule", ["paper", "reference"])
def test_joint_objective_recovers_the_topics(planted, rule):
    docs, labels, vocab = planted
    model = JoSE(docs, update_rule=rule, **{**PARAMS, "objective": "joint"}).train()
    for table in tables(model):
        assert_unit_rows(table)
    assert ari(model, labels) > 0.9
    # the joint hinge pulls the center word u towards v + d; the context
    # vectors v carry the word topics (u is less pure here: 0.48 / 0.20)
    assert neighbour_purity(model.cv, vocab) > 0.9
    last = model.training_loss[-1]
    assert last["joint_tuples"] > 0 and last["word_pairs"] == 0
    # the mean hinge need not fall here: a topic's words are interchangeable,
    # so as they gather, a negative from the same topic scores like the
    # positive and its hinge stays near m
    assert 0 < last["joint_loss"] < model.margin


def test_objectives_differ_and_repeat(planted):
    docs = planted[0][:40]
    runs = {o: [tables(JoSE(docs, **{**PARAMS, "objective": o, "epochs": 2}).train())
                for _ in range(2)] for o in ("separate", "joint")}
    for o, (a, b) in runs.items():
        assert all(np.array_equal(x, y) for x, y in zip(a, b)), o
    assert not np.array_equal(runs["separate"][0][0], runs["joint"][0][0])


def test_objective_is_checked_and_saved(tmp_path, planted):
    with pytest.raises(ValueError, match="objective"):
        JoSE(objective="paper")
    model = JoSE(planted[0][:20], **{**PARAMS, "objective": "joint", "epochs": 1}).train()
    model.save(tmp_path / "m")
    assert JoSE.load(tmp_path / "m").objective == "joint"
    # a model saved before the joint objective existed was trained separately
    # ... and in format version 1, without checksums
    downgrade(tmp_path / "m", 1)
    meta_path = tmp_path / "m" / "model.json"
    meta = json.loads(meta_path.read_text())
    del meta["params"]["objective"]
    meta_path.write_text(json.dumps(meta))
    assert JoSE.load(tmp_path / "m").objective == "separate"


def test_non_finite_vectors_stop_training(planted):
    model = JoSE(planted[0][:20], **{**PARAMS, "epochs": 1})
    model.cv.vectors[3, 0] = np.nan        # spreads to the rows it meets
    with pytest.raises(FloatingPointError, match=r"diverged in epoch 1: row \d+ of (wv|cv|dv) "
                                                 r"\(\w+ vectors\), key '?\w+'?, is not finite"):
        model.train()


def test_auto_margin_follows_the_documents_length():
    from jose.model import LONG_MARGIN, SHORT_MARGIN, auto_margin
    assert auto_margin(50 * 10, 10) == SHORT_MARGIN and auto_margin(200 * 10, 10) == LONG_MARGIN
    assert auto_margin(0, 0) == SHORT_MARGIN and auto_margin(10 ** 6, 10) == LONG_MARGIN
    # log-linear between 50 and 200 tokens: halfway (100 tokens) is the mean margin
    assert auto_margin(100 * 10, 10) == pytest.approx((SHORT_MARGIN + LONG_MARGIN) / 2)
    margins = [auto_margin(n * 10, 10) for n in range(40, 260, 7)]
    assert all(a >= b for a, b in zip(margins, margins[1:])) and len(set(margins)) > 10
    rng = np.random.default_rng(0)
    short = [[f"w{i}" for i in rng.integers(0, 30, 8)] for _ in range(60)]
    long = [[f"w{i}" for i in rng.integers(0, 30, 250)] for _ in range(60)]
    params = {k: v for k, v in PARAMS.items() if k != "margin"}
    assert JoSE(**params).margin is None                      # not chosen yet
    assert JoSE(short, **params).margin == SHORT_MARGIN
    assert JoSE(long, **params).margin == LONG_MARGIN
    assert JoSE(long, **{**params, "margin": 0.2}).margin == 0.2   # a given margin stays
    # chosen by train() when the vocabulary came from counts
    m = JoSE(**params).build_vocab_from_counts([f"w{i}" for i in range(30)], [9] * 30, range(60))
    from jose.corpus import ScannedCorpus
    m.train(encoded=ScannedCorpus(short).encode(m.vocab.key_to_index, m.dv.key_to_index))
    assert m.margin == SHORT_MARGIN
    with pytest.raises(ValueError, match="margin must be"):
        JoSE(margin="wide")


def test_auto_epochs_follow_the_corpus_size():
    from jose.model import AUTO_EPOCHS_TOKENS, MAX_AUTO_EPOCHS, MIN_AUTO_EPOCHS, auto_epochs
    assert auto_epochs(AUTO_EPOCHS_TOKENS) == MIN_AUTO_EPOCHS == auto_epochs(10 ** 10)
    assert auto_epochs(AUTO_EPOCHS_TOKENS // 4) == MAX_AUTO_EPOCHS == auto_epochs(1)
    assert auto_epochs(0) == MAX_AUTO_EPOCHS
    assert auto_epochs(AUTO_EPOCHS_TOKENS // 2) == 14          # 10 * sqrt(2), rounded
    sizes = [auto_epochs(n) for n in np.geomspace(1e6, 2e7, 30).astype(int)]
    assert all(a >= b for a, b in zip(sizes, sizes[1:]))
    rng = np.random.default_rng(0)
    docs = [[f"w{i}" for i in rng.integers(0, 30, 20)] for _ in range(40)]
    params = {k: v for k, v in PARAMS.items() if k != "epochs"}
    model = JoSE(**params)
    assert model.epochs is None and model.params()["epochs"] == "auto"
    assert model.inference_epochs == MIN_AUTO_EPOCHS          # before a corpus chose
    assert "epochs='auto'" in repr(model) and "margin=0.5," in repr(model)   # PARAMS' margin
    model = JoSE(docs, **params)
    assert model.epochs == MAX_AUTO_EPOCHS == model.params()["epochs"] == model.inference_epochs
    assert f"epochs={MAX_AUTO_EPOCHS}," in repr(model)      # what jose-train's log shows
    model.train()
    assert model.epochs_trained == MAX_AUTO_EPOCHS
    assert JoSE(docs, **{**params, "epochs": 3}).epochs == 3      # a given number stays
    # train(epochs=N) trains N passes and keeps the chosen default
    model = JoSE(docs, **params).train(epochs=2)
    assert model.epochs_trained == 2 and model.epochs == MAX_AUTO_EPOCHS
    for bad in ("many", 0, 2.5, True):
        with pytest.raises(ValueError, match="epochs must be"):
            JoSE(epochs=bad)


def test_auto_sample_thins_only_words_seen_often():
    from jose.model import AUTO_SAMPLE, MIN_SAMPLE_COUNT, auto_sample
    assert auto_sample(10 ** 7) == AUTO_SAMPLE == auto_sample(MIN_SAMPLE_COUNT * 10 ** 4)
    assert auto_sample(100_000) == pytest.approx(MIN_SAMPLE_COUNT / 100_000)
    rng = np.random.default_rng(0)
    docs = [[f"w{i}" for i in rng.zipf(1.5, 30) % 50] for _ in range(40)]
    params = {k: v for k, v in PARAMS.items() if k != "sample"}
    assert JoSE(**params).sample is None
    model = JoSE(docs, **params)
    total = model.vocab.total_words
    assert model.sample == pytest.approx(MIN_SAMPLE_COUNT / total)
    keep = model._get_samplers()[0]
    full = 1 << 32
    # word2vec's rule keeps w with probability (sqrt(c/(sT)) + 1) sT / c, which
    # is 1 while c <= ~2.6 sT: here words seen up to ~100 times all stay
    counts = model.vocab.counts
    assert np.all(keep[counts <= 2.6 * MIN_SAMPLE_COUNT] == full)
    assert np.any(keep < full) == bool(np.any(counts > 2.7 * MIN_SAMPLE_COUNT))
    assert JoSE(docs, **{**params, "sample": 1e-3}).sample == 1e-3     # a given value stays
    with pytest.raises(ValueError, match="sample must be"):
        JoSE(sample="often")


def test_a_model_saved_before_its_corpus_keeps_epochs_and_margin_auto(tmp_path):
    params = {k: v for k, v in PARAMS.items() if k not in ("epochs", "margin", "sample")}
    model = JoSE(**params).build_vocab_from_counts([f"w{i}" for i in range(30)], [9] * 30,
                                                    range(40))
    model.save(tmp_path / "m")
    loaded = JoSE.load(tmp_path / "m")
    assert loaded.epochs is None and loaded.margin is None
    assert loaded.params()["epochs"] == loaded.params()["margin"] == "auto"
    # sample depends on the vocabulary alone: chosen from the counts already
    from jose.model import auto_sample
    assert loaded.sample == model.sample == auto_sample(model.vocab.total_words)
