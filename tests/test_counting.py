"""Bounded counting: max_vocab_size (gensim's pruning while counting) in the
C++ Counter (jose-train) and in ScannedCorpus (JoSE(corpus)), and
max_final_vocab; a 5 M distinct-token stream counted in bounded memory."""
import gc

import numpy as np
import pytest

from jose import JoSE, _text
from jose.cli import main
from jose.corpus import ScannedCorpus
from jose.textcorpus import count_corpus
from jose.vocab import Vocabulary

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, strategies as st  # noqa: E402


def reference_prune_per_token(tokens, max_size):
    """gensim's rule, checked after every new word (as jose-train does)."""
    counts, min_reduce, pruned = {}, 1, 0
    for t in tokens:
        new = t not in counts
        counts[t] = counts.get(t, 0) + 1
        if new and len(counts) > max_size:
            drop = [w for w, c in counts.items() if c <= min_reduce]
            for w in drop:
                del counts[w]
            pruned += len(drop)
            min_reduce += 1
    return counts, min_reduce, pruned


def reference_prune_per_document(docs, max_size):
    """gensim's Word2Vec.scan_vocab: checked after every document."""
    counts, min_reduce, pruned = {}, 1, 0
    for doc in docs:
        for t in doc:
            counts[t] = counts.get(t, 0) + 1
        if len(counts) > max_size:
            drop = [w for w, c in counts.items() if c <= min_reduce]
            for w in drop:
                del counts[w]
            pruned += len(drop)
            min_reduce += 1
    return counts, min_reduce, pruned


WORDS = st.sampled_from([f"w{i}" for i in range(30)])
DOCS = st.lists(st.lists(WORDS, max_size=12), min_size=1, max_size=25)


@given(DOCS, st.integers(1, 12))
def test_counter_prunes_like_the_reference(docs, max_size):
    data = "\n".join(" ".join(d) for d in docs).encode()
    counter = _text.Counter(max_vocab_size=max_size)
    counter.feed(data)
    counter.finish()
    words, counts, _ = counter.export()
    expected, min_reduce, pruned = reference_prune_per_token(
        [t for d in docs for t in d], max_size)
    assert dict(zip(words, counts.tolist())) == expected
    assert (counter.min_reduce, counter.pruned_words) == (min_reduce, pruned)
    assert len(counter) <= max_size


@given(DOCS, st.integers(1, 12))
def test_scanned_corpus_prunes_like_gensim(docs, max_size):
    scanned = ScannedCorpus(docs, max_vocab_size=max_size)
    expected, min_reduce, pruned = reference_prune_per_document(docs, max_size)
    assert dict(zip(scanned.words, scanned.counts().tolist())) == expected
    assert (scanned.min_reduce, scanned.pruned_words) == (min_reduce, pruned)
    # every surviving word's tokens since its (last) first appearance are encoded
    vocab = {w: i for i, w in enumerate(scanned.words)}
    encoded = scanned.encode(vocab, {t: t for t in range(len(docs))})
    assert np.bincount(encoded.tokens, minlength=len(vocab)).tolist() == \
        scanned.counts().tolist()


def test_no_limit_counts_exactly():
    docs = [["a", "b", "a"], ["c"], []]
    scanned = ScannedCorpus(docs)
    assert dict(zip(scanned.words, scanned.counts().tolist())) == {"a": 2, "b": 1, "c": 1}


def test_counts_are_lower_bounds_after_pruning(tmp_path):
    # "b" is dropped at the first prune (count 1) and counted again from zero
    path = tmp_path / "c.txt"
    path.write_bytes(b"a a b x y\nb b\n")
    c = count_corpus(path, max_vocab_size=3)
    got = dict(zip(c.words, c.counts.tolist()))
    assert got == {"a": 2, "b": 2} and c.pruned_words == 3 and c.min_reduce == 2
    assert c.n_tokens == 7       # tokens and documents are still all counted


def test_max_final_vocab_keeps_most_frequent_with_deterministic_ties():
    words = ["d", "b", "a", "c", "e"]
    counts = [3, 5, 3, 3, 1]
    v = Vocabulary.from_counts(words, counts, min_count=1, max_final_vocab=3)
    assert v.words == ["b", "a", "c"]
    v = Vocabulary.from_counts(words[::-1], counts[::-1], min_count=1, max_final_vocab=3)
    assert v.words == ["b", "a", "c"]
    assert Vocabulary.from_counts(words, counts, min_count=4, max_final_vocab=3).words == ["b"]


def test_model_parameters():
    docs = [["a", "b", "c", "a", "d", "a", "b"]] * 3 + [["x", "y", "z"]]
    model = JoSE(docs, min_count=1, max_final_vocab=2, vector_size=4, workers=1)
    assert model.wv.index_to_key == ["a", "b"]
    assert model.params()["max_final_vocab"] == 2
    model = JoSE(docs, min_count=1, max_vocab_size=4, vector_size=4, workers=1)
    assert set(model.wv.index_to_key) <= {"a", "b", "c", "d", "x", "y", "z"}
    for name in ("max_vocab_size", "max_final_vocab"):
        for bad in (0, -1, 2.5, "10", True):
            with pytest.raises(ValueError, match=name):
                JoSE(**{name: bad})


def test_cli_options(capsys, tmp_path):
    path = tmp_path / "c.txt"
    path.write_bytes(("a b c a b a\n" * 20 + "rare1 rare2\n").encode())
    out = tmp_path / "w.txt"
    rc = main([str(path), "--size", "4", "--epochs", "1", "--min-count", "1", "--threads", "1",
               "--quiet", "--max-final-vocab", "2", "--max-vocab-size", "4",
               "--word-output", str(out), "--doc-output", str(tmp_path / "d.txt")])
    assert rc == 0, capsys.readouterr().err
    assert [line.split()[0] for line in out.read_text().splitlines()[1:]] == ["a", "b"]
    for option in ("--max-vocab-size", "--max-final-vocab"):
        rc = main([str(path), "--quiet", option, "0"])
        err = capsys.readouterr().err
        assert rc == 2 and option in err and err.count("\n") == 1


# --- memory --------------------------------------------------------------------

N_TOKENS = 5_000_000
MAX_VOCAB = 10_000
#: Growth of resident memory allowed while counting 5 M distinct tokens with
#: max_vocab_size=10,000 (without the bound the table alone needs > 300 MB).
RSS_BOUND = 32 << 20


def distinct_token_chunks(n, per_chunk=200_000):
    """n distinct tokens as ~1.3 MB chunks of bytes, generated, never all stored."""
    for start in range(0, n, per_chunk):
        stop = min(n, start + per_chunk)
        yield (" ".join(map(str, range(start, stop))) + "\n").encode()


def test_five_million_distinct_tokens_in_bounded_memory():
    psutil = pytest.importorskip("psutil")
    process = psutil.Process()
    gc.collect()
    counter = _text.Counter(max_vocab_size=MAX_VOCAB)
    before = peak = process.memory_info().rss
    for i, chunk in enumerate(distinct_token_chunks(N_TOKENS)):
        counter.feed(chunk)
        if i % 4 == 0:
            peak = max(peak, process.memory_info().rss)
    counter.finish()
    peak = max(peak, process.memory_info().rss)
    assert counter.n_tokens == N_TOKENS
    assert len(counter) <= MAX_VOCAB
    assert counter.pruned_words >= N_TOKENS - MAX_VOCAB
    assert peak - before < RSS_BOUND, f"RSS grew by {(peak - before) / 2**20:.1f} MiB"


def test_corpus_file_options(tmp_path):
    path = tmp_path / "c.txt"
    path.write_bytes(("a b c a b a\n" * 20 + "r1 r2 r3 r4 r5\n").encode())
    model = JoSE(corpus_file=path, min_count=1, max_final_vocab=2, max_vocab_size=4,
                 vector_size=4, workers=1)
    assert model.wv.index_to_key == ["a", "b"]


def _from_counts_by_numpy(words, counts, min_count, max_final_vocab=None):
    """Vocabulary.from_counts's order as first written: numpy's stable object
    sort by word, then stable by descending count."""
    counts = np.asarray(counts, dtype=np.int64)
    keep = np.flatnonzero(counts >= min_count)
    keep = keep[np.argsort(np.asarray([words[i] for i in keep], dtype=object), kind="stable")]
    keep = keep[np.argsort(-counts[keep], kind="stable")]
    if max_final_vocab is not None:
        keep = keep[:max_final_vocab]
    return [words[i] for i in keep], counts[keep].tolist()


@pytest.mark.parametrize("seed", range(5))
def test_vocabulary_order_is_the_numpy_sorts(seed):
    rng = np.random.default_rng(seed)
    alphabet = ["a", "b", "Z", "é", "\ufffd", "\x00", "日", "😀", "ab", "a\x00"]
    words = sorted({"".join(rng.choice(alphabet, rng.integers(1, 5))) for _ in range(3000)})
    rng.shuffle(words)
    counts = rng.integers(0, 8, len(words))         # many ties
    for min_count, cap in ((1, None), (3, None), (2, 50), (9, None)):
        v = Vocabulary.from_counts(words, counts, min_count, cap)
        assert (v.words, v.counts.tolist()) == _from_counts_by_numpy(words, counts, min_count, cap)
