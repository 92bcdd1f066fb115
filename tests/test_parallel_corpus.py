"""Counting and encoding a corpus file with several threads gives exactly what
one thread gives: the same counts (so the same Vocabulary), documents, tokens,
invalid-UTF-8 tally, and byte-identical encoded files -- on the edge cases of
the line format, any chunk size and more threads than lines."""
import bz2
import gzip
import os
import random
import time

import numpy as np
import pytest

from jose import JoSE, _text, textcorpus
from jose.parallel import ordered_map
from jose.textcorpus import CorpusFileError, count_and_encode, count_corpus, encode_corpus
from jose.vocab import Vocabulary

from test_textcorpus import as_dict, random_corpus, reference_counts


EDGE_CASES = {
    "one byte": b"a",
    "one newline": b"\n",
    "empty lines": b"\n\n\na b\n\n\nb\n\n",
    "no final newline": b"a b c\nb c\nc",
    "final newline": b"a b c\nb c\nc\n",
    "ends in spaces": b"a b \t \nb   ",
    "crlf": b"a b\r\nb\r\n\r\nc a\r\n",
    "one long line": b" ".join(b"w%d" % (i % 37) for i in range(5000)),
    "long line then short": b"x" * 3000 + b" y\nz\n" + b"q " * 2000,
    "invalid utf-8": b"caf\xe9 caf\xc3\xa9 \xff\xfe \xff\xfe\ncaf\xe9 \xed\xa0\x80\n\xc3\n\xff",
    "replacement collisions": b"\xff \xfe \xef\xbf\xbd \xff\n\xfe\xff x\n",
    "utf-8 across chunks": ("é Ü Σ 😀 ñ\n" * 50).encode() + "Ünter".encode(),
    "only spaces": b"   \t  \n  \n",
    "nul bytes": b"a\x00b a\n\x00\n",
}


def write(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def summary(c):
    return (as_dict(c), c.n_docs, c.n_tokens, c.n_invalid_utf8, c.pruned_words, c.min_reduce)


def encoded(path, key_to_index, out, **kw):
    out.mkdir(exist_ok=True)
    corpus = encode_corpus(path, key_to_index, out, **kw)
    return (open(corpus.tokens_path, "rb").read(), open(corpus.offsets_path, "rb").read(),
            corpus.n_docs, corpus.n_tokens)


@pytest.mark.parametrize("case", sorted(EDGE_CASES))
@pytest.mark.parametrize("workers", [2, 3, 8])
@pytest.mark.parametrize("chunk", [1, 2, 7, 64, 1 << 20])
@pytest.mark.parametrize("tokenize", [False, True])
def test_threads_count_and_encode_like_one(tmp_path, case, workers, chunk, tokenize):
    data = EDGE_CASES[case]
    path = write(tmp_path, "c.txt", data)
    one = count_corpus(path, tokenize=tokenize, chunk_size=chunk)
    many = count_corpus(path, tokenize=tokenize, chunk_size=chunk, workers=workers)
    assert summary(many) == summary(one)
    if not tokenize:
        assert (as_dict(one), one.n_docs, one.n_tokens, one.n_invalid_utf8) == \
            reference_counts(data)
    vocab = Vocabulary.from_counts(many.words, many.counts, 1)
    assert vocab.words == Vocabulary.from_counts(one.words, one.counts, 1).words
    # encode with a vocabulary that leaves some words out (rare ones dropped)
    index = {w: i for i, w in enumerate(vocab.words) if i % 3 != 1}
    assert encoded(path, index, tmp_path / "many", tokenize=tokenize, chunk_size=chunk,
                   workers=workers) == \
        encoded(path, index, tmp_path / "one", tokenize=tokenize, chunk_size=chunk)


def one_pass(path, out, key_to_index_of, **kw):
    """count_and_encode's counts and files; key_to_index_of(counts) cuts the vocabulary."""
    out.mkdir(exist_ok=True)
    counts, pending = count_and_encode(path, out, **kw)
    assert sorted(os.listdir(out)) == ["offsets.i64.part", "tokens.i32.part"]
    corpus = pending.finish(key_to_index_of(counts))
    assert sorted(os.listdir(out)) == ["offsets.i64", "tokens.i32"]
    return counts, (open(corpus.tokens_path, "rb").read(),
                    open(corpus.offsets_path, "rb").read(), corpus.n_docs, corpus.n_tokens)


def some_words(counts):
    """A vocabulary that leaves every third word out (as min_count drops words)."""
    vocab = Vocabulary.from_counts(counts.words, counts.counts, 1)
    return {w: i for i, w in enumerate(vocab.words) if i % 3 != 1}


@pytest.mark.parametrize("case", sorted(EDGE_CASES))
@pytest.mark.parametrize("workers", [1, 2, 3])
@pytest.mark.parametrize("chunk", [1, 7, 1 << 20])
@pytest.mark.parametrize("tokenize", [False, True])
def test_one_pass_gives_what_two_passes_give(tmp_path, case, workers, chunk, tokenize):
    path = write(tmp_path, "c.txt", EDGE_CASES[case])
    two = count_corpus(path, tokenize=tokenize, chunk_size=chunk)
    one, files = one_pass(path, tmp_path / "one", some_words, tokenize=tokenize,
                          chunk_size=chunk, workers=workers)
    assert summary(one) == summary(two)
    assert files == encoded(path, some_words(two), tmp_path / "two", tokenize=tokenize,
                            chunk_size=chunk)


@pytest.mark.parametrize("workers", [1, 2, 4])
def test_one_pass_on_a_compressed_random_corpus(tmp_path, workers):
    path = write(tmp_path, "c.txt.gz", gzip.compress(random_corpus(random.Random(7), 30_000)))
    two = count_corpus(path, chunk_size=1000)
    seen = []
    one, files = one_pass(path, tmp_path / "one", some_words, chunk_size=1000,
                          workers=workers, progress=seen.append)
    assert summary(one) == summary(two)
    assert files == encoded(path, some_words(two), tmp_path / "two", chunk_size=1000)
    assert len(seen) > 1 and sum(seen) == os.path.getsize(path)


def test_one_pass_keeps_nothing_when_every_word_is_out(tmp_path):
    path = write(tmp_path, "c.txt", b"a b\n\nc\n")
    _, (tokens, offsets, n_docs, n_tokens) = one_pass(path, tmp_path / "o", lambda c: {})
    assert (tokens, n_docs, n_tokens) == (b"", 3, 0)
    assert offsets == np.zeros(4, dtype=np.int64).tobytes()


def test_one_pass_finish_reports_the_file_size(tmp_path):
    path = write(tmp_path, "c.txt", random_corpus(random.Random(3), 5_000))
    _, pending = count_and_encode(path, tmp_path, chunk_size=100, workers=2)
    seen = []
    pending.finish({"a": 0}, progress=seen.append)
    assert len(seen) > 1 and sum(seen) == os.path.getsize(path)


def test_one_pass_discard_and_failures_leave_nothing(tmp_path):
    path = write(tmp_path, "c.txt", random_corpus(random.Random(2), 20_000))
    out = tmp_path / "out"
    out.mkdir()
    _, pending = count_and_encode(path, out, workers=2, chunk_size=1000)
    pending.discard()
    assert os.listdir(out) == []

    def interrupt(n):
        raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        count_and_encode(path, out, progress=interrupt, chunk_size=1000, workers=2)
    assert os.listdir(out) == []
    _, pending = count_and_encode(path, out, chunk_size=1000)
    with pytest.raises(KeyboardInterrupt):
        pending.finish({"a": 0}, progress=interrupt)
    assert os.listdir(out) == []


def test_counter_records_ids_in_order_of_first_occurrence():
    c = _text.Counter(record=True)
    c.feed(b"x y x\n\nz y")
    assert c.take() == (np.array([0, 1, 0, 2], np.int32).tobytes(),   # "y" may go on
                        np.array([3, 3], np.int64).tobytes())
    c.finish()
    assert c.take() == (np.array([1], np.int32).tobytes(), np.array([5], np.int64).tobytes())
    assert c.n_kept == c.n_tokens == 5
    words, counts, _ = c.export()
    assert (words, counts.tolist()) == (["x", "y", "z"], [2, 2, 1])
    other = _text.Counter(record=True)
    other.feed(b"w z\n")
    assert c.merge(other).tolist() == [3, 2]       # w is new here (3), z was 2
    with pytest.raises(ValueError, match="record=False"):
        _text.Counter().take()
    with pytest.raises(ValueError, match="cannot record"):
        _text.Counter(record=True, max_vocab_size=5)


def test_pruning_keeps_the_survivors_in_order():
    c = _text.Counter(max_vocab_size=3)
    c.feed(b"a a b c d e\n")     # d makes 4 words: b, c and d (counted once) go
    words, counts, _ = c.export()
    assert (words, counts.tolist(), c.pruned_words) == (["a", "e"], [2, 1], 3)


@pytest.mark.parametrize("suffix, compress", [(".gz", gzip.compress), (".bz2", bz2.compress)])
@pytest.mark.parametrize("workers", [2, 4])
def test_threads_on_compressed_random_corpora(tmp_path, suffix, compress, workers):
    data = random_corpus(random.Random(workers), 30_000)
    path = write(tmp_path, "c.txt" + suffix, compress(data))
    one = count_corpus(path, chunk_size=1000)
    many = count_corpus(path, chunk_size=1000, workers=workers)
    assert summary(many) == summary(one)
    index = {w: i for i, w in enumerate(sorted(one.words)) if i % 2 == 0}
    assert encoded(path, index, tmp_path / "a", chunk_size=1000, workers=workers) == \
        encoded(path, index, tmp_path / "b", chunk_size=1000)


def test_more_threads_than_lines(tmp_path):
    path = write(tmp_path, "c.txt", b"a b\nb")
    c = count_corpus(path, workers=16, chunk_size=1)
    assert (as_dict(c), c.n_docs, c.n_tokens) == ({"a": 1, "b": 2}, 2, 3)
    assert encoded(path, {"a": 0, "b": 1}, tmp_path / "e", workers=16, chunk_size=1)[1] == \
        np.array([0, 2, 3], dtype=np.int64).tobytes()


def test_max_vocab_size_counts_on_one_thread(tmp_path):
    # pruning depends on the order words come in: with several workers the
    # counts are still one thread's
    data = random_corpus(random.Random(1), 20_000)
    path = write(tmp_path, "c.txt", data)
    one = count_corpus(path, max_vocab_size=50, chunk_size=500)
    many = count_corpus(path, max_vocab_size=50, chunk_size=500, workers=4)
    assert one.pruned_words > 0 and summary(many) == summary(one)


def test_counter_merge():
    a, b = _text.Counter(), _text.Counter()
    a.feed(b"x y\nx\n")
    b.feed(b"y z\nz")
    b.finish()
    a.merge(b)
    words, counts, _ = a.export()
    assert dict(zip(words, counts.tolist())) == {"x": 2, "y": 2, "z": 2}
    assert (a.n_docs, a.n_tokens) == (4, 6)
    with pytest.raises(ValueError, match="max_vocab_size"):
        _text.Counter(max_vocab_size=5).merge(a)
    with pytest.raises(ValueError, match="itself"):
        a.merge(a)


def test_encoder_clone_is_independent():
    e = _text.Encoder({"a": 0, "b": 1})
    e.feed(b"a b\n")
    c = e.clone()
    c.feed(b"b b a\n")
    assert c.take() == (np.array([1, 1, 0], np.int32).tobytes(), np.array([3], np.int64).tobytes())
    assert e.take() == (np.array([0, 1], np.int32).tobytes(), np.array([2], np.int64).tobytes())
    assert (c.n_kept, e.n_kept) == (3, 2)


def test_threads_report_progress_in_bytes_on_disk(tmp_path):
    path = write(tmp_path, "c.txt.gz", gzip.compress(random_corpus(random.Random(3), 20_000)))
    seen = []
    count_corpus(path, progress=seen.append, chunk_size=1000, workers=2)
    assert len(seen) > 1 and sum(seen) == os.path.getsize(path)
    seen.clear()
    encode_corpus(path, {"a": 0}, tmp_path, progress=seen.append, chunk_size=1000, workers=2)
    assert len(seen) > 1 and sum(seen) == os.path.getsize(path)


def test_threads_report_corrupt_data(tmp_path):
    good = gzip.compress(random_corpus(random.Random(5), 50_000))
    path = write(tmp_path, "c.txt.gz", good[:len(good) // 2] + b"\x00" * 64 + good[len(good) // 2:])
    for call in (lambda: count_corpus(path, chunk_size=1000, workers=2),
                 lambda: encode_corpus(path, {"a": 0}, tmp_path, chunk_size=1000, workers=2)):
        with pytest.raises(CorpusFileError, match="corrupt compressed data"):
            call()
    assert not [n for n in os.listdir(tmp_path) if n.endswith(".part")]


def test_interrupted_threaded_encoding_leaves_nothing(tmp_path):
    path = write(tmp_path, "c.txt", random_corpus(random.Random(2), 20_000))
    out = tmp_path / "out"
    out.mkdir()

    def interrupt(n):
        raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        encode_corpus(path, {"a": 0}, out, progress=interrupt, chunk_size=1000, workers=2)
    assert os.listdir(out) == []


@pytest.mark.filterwarnings("ignore::UnicodeWarning")
def test_model_from_file_is_the_same_for_any_number_of_workers(tmp_path):
    path = write(tmp_path, "c.txt", random_corpus(random.Random(4), 20_000))
    models = [JoSE(corpus_file=path, min_count=2, workers=w, vector_size=8) for w in (1, 2, 3)]
    for m in models[1:]:
        assert m.vocab.words == models[0].vocab.words
        assert m.vocab.counts.tolist() == models[0].vocab.counts.tolist()
        assert m.corpus_total_words == models[0].corpus_total_words
        for name in ("tokens_path", "offsets_path"):
            assert open(getattr(m.encoded_corpus, name), "rb").read() == \
                open(getattr(models[0].encoded_corpus, name), "rb").read()
        for table in ("wv", "cv", "dv"):     # drawn beside the encoding pass when workers > 1
            np.testing.assert_array_equal(getattr(m, table).vectors,
                                          getattr(models[0], table).vectors)


def test_failed_encoding_leaves_no_thread_behind(tmp_path, monkeypatch):
    import threading
    path = write(tmp_path, "c.txt", b"a b a\nb a\n" * 100)
    before = threading.active_count()

    def broken(*a, **k):
        raise OSError("disk full")
    monkeypatch.setattr(textcorpus.PendingEncoding, "finish", broken)
    with pytest.raises(OSError, match="disk full"):
        JoSE(corpus_file=path, min_count=1, workers=2, vector_size=4)
    for _ in range(100):       # the drawing thread's job is done; it is ending
        if threading.active_count() == before:
            break
        time.sleep(0.01)
    assert threading.active_count() == before


def test_line_blocks_end_after_newlines(tmp_path):
    data = b"ab\ncd ef\n\ngh" + b"x" * 50 + b"\ny"
    path = write(tmp_path, "c.txt", data)
    tail = []
    blocks = [b"".join(bytes(p) for p in block)
              for block in textcorpus._line_blocks(str(path), 4, None, tail)]
    assert all(b.endswith(b"\n") for b in blocks)
    assert b"".join(blocks) + b"".join(bytes(p) for p in tail) == data
    assert b"".join(bytes(p) for p in tail) == b"y"


@pytest.mark.parametrize("workers", [1, 2, 4])
def test_ordered_map_keeps_order_and_raises(workers):
    assert list(ordered_map(lambda x: x * x, range(50), workers, window=3)) == \
        [x * x for x in range(50)]

    def fail(x):
        if x == 7:
            raise RuntimeError("seven")
        return x
    with pytest.raises(RuntimeError, match="seven"):
        list(ordered_map(fail, range(50), workers))
