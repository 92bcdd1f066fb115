"""JoSE(corpus_file=...): the streaming path of jose-train as a library call.

Tiny planted corpora written to tmp_path; workers=1 and a seed, so vectors
repeat bit for bit and can be compared with the in-memory path exactly.
"""
import bz2
import gc
import gzip
import lzma
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest

from jose import JoSE, TextCorpus
from jose.cli import main

PARAMS = dict(vector_size=12, window=3, epochs=3, min_count=2, workers=1, seed=5)


def planted_lines(docs=40, seed=0):
    rng = np.random.default_rng(seed)
    vocab = [[f"t{t}w{i}" for i in range(10)] for t in range(3)]
    lines = [" ".join(rng.choice(vocab[d % 3], size=12)) for d in range(docs)]
    lines[5] = ""                                     # an empty document
    lines[9] = "   \t "                               # a blank one
    return lines


def write_lines(path, lines, terminated=False, compress=bytes):
    data = ("\n".join(lines) + ("\n" if terminated else "")).encode()
    Path(path).write_bytes(compress(data))
    return Path(path)


@pytest.fixture
def lines():
    return planted_lines()


@pytest.fixture
def corpus(tmp_path, lines):
    return write_lines(tmp_path / "corpus.txt", lines)


@pytest.fixture
def scratch_root(tmp_path, monkeypatch):
    """Temporary directories go here, so a test can see them come and go."""
    root = tmp_path / "tmp"
    root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    return root


def assert_same_vectors(a, b):
    for table in ("wv", "cv", "dv"):
        x, y = getattr(a, table), getattr(b, table)
        assert x.index_to_key == y.index_to_key, table
        assert np.array_equal(x.vectors, y.vectors), table


# -- the same vectors as the in-memory path and as jose-train ---------------------

def test_corpus_file_trains_like_a_list_of_the_same_lines(corpus, lines):
    from_file = JoSE(corpus_file=corpus, **PARAMS).train()
    in_memory = JoSE([line.split() for line in lines], **PARAMS).train()
    assert from_file.dv.index_to_key == list(range(len(lines)))   # 0-based line numbers
    assert_same_vectors(from_file, in_memory)
    assert from_file.training_loss == in_memory.training_loss
    assert (from_file.corpus_count, from_file.corpus_total_words) == (
        in_memory.corpus_count, in_memory.corpus_total_words) == (
        len(lines), sum(len(line.split()) for line in lines))


def test_jose_train_gives_the_vectors_of_the_library(capsys, tmp_path, corpus, lines):
    rc = main([str(corpus), "--size", "12", "--window", "3", "--iter", "3", "--min-count", "2",
               "--threads", "1", "--seed", "5", "--quiet", "--model-output", str(tmp_path / "m")])
    assert rc == 0, capsys.readouterr().err
    in_memory = JoSE([line.split() for line in lines], **PARAMS).train()
    assert_same_vectors(JoSE.load(tmp_path / "m"), in_memory)


@pytest.mark.parametrize("suffix, compress", [(".gz", gzip.compress), (".bz2", bz2.compress),
                                              (".xz", lzma.compress)])
def test_compressed_files_train_like_plain_ones(tmp_path, corpus, lines, suffix, compress):
    packed = write_lines(tmp_path / ("corpus.txt" + suffix), lines, compress=compress)
    assert_same_vectors(JoSE(corpus_file=packed, **PARAMS).train(),
                        JoSE(corpus_file=corpus, **PARAMS).train())


def test_gensim_sequence_and_tokenize(tmp_path):
    path = write_lines(tmp_path / "raw.txt", ["Hello, World! hello", "WORLD world."] * 5)
    model = JoSE(**PARAMS)
    model.build_vocab(corpus_file=path, tokenize=True)
    assert model.wv.index_to_key == ["world", "hello"]
    model.train()
    reference = JoSE(list(TextCorpus(path, tokenize=True)), **PARAMS).train()
    assert_same_vectors(model, reference)


def test_text_corpus_is_a_corpus(corpus, lines):
    """JoSE(TextCorpus(path)) is the in-memory path over the same documents."""
    assert_same_vectors(JoSE(TextCorpus(corpus), **PARAMS).train(),
                        JoSE(corpus_file=corpus, **PARAMS).train())


def test_word_counts_replace_counting(corpus):
    model = JoSE(**PARAMS).build_vocab_from_file(corpus, word_counts={"t0w1": 9, "t1w2": 3,
                                                                      "rare": 1})
    assert model.wv.index_to_key == ["t0w1", "t1w2"]
    assert model.corpus_total_words is None
    assert model.encoded_corpus.n_tokens == sum(
        line.split().count(w) for line in planted_lines() for w in ("t0w1", "t1w2"))


# -- the encoded corpus: where it goes and when it goes ------------------------------

def test_temporary_encoding_is_removed(corpus, scratch_root):
    model = JoSE(corpus_file=corpus, **PARAMS)
    (scratch,) = os.listdir(scratch_root)
    assert sorted(os.listdir(scratch_root / scratch)) == ["offsets.i64", "tokens.i32"]
    model.train().train(epochs=1)                 # trains again from the same encoding
    assert model.epochs_trained == PARAMS["epochs"] + 1
    model.release_corpus()
    assert os.listdir(scratch_root) == [] and model.encoded_corpus is None
    with pytest.raises(RuntimeError, match="no corpus"):
        model.train()
    model = JoSE(corpus_file=corpus, **PARAMS)
    assert len(os.listdir(scratch_root)) == 1
    model.build_vocab_from_file(corpus)           # a new encoding replaces the old one
    assert len(os.listdir(scratch_root)) == 1
    del model
    gc.collect()
    assert os.listdir(scratch_root) == []         # gone with the model


def test_cache_dir_keeps_the_encoding(tmp_path, corpus, scratch_root):
    cache = tmp_path / "cache" / "sub"
    model = JoSE(corpus_file=corpus, cache_dir=cache, **PARAMS).train()
    model.release_corpus()
    assert sorted(os.listdir(cache)) == ["offsets.i64", "tokens.i32"]
    assert (cache / "offsets.i64").stat().st_size == 8 * (len(planted_lines()) + 1)
    assert os.listdir(scratch_root) == []


# each step of reading a file that can fail, and what makes prepare_file take it
STEPS = [("jose.filecorpus", "count_and_encode", {}),      # the one pass over the file
         ("jose.textcorpus.PendingEncoding", "finish", {}),  # its ids mapped in place
         ("jose.filecorpus", "count_corpus", {"max_vocab_size": 1000}),  # two passes
         ("jose.filecorpus", "encode_corpus", {"max_vocab_size": 1000})]


@pytest.mark.parametrize("owner, name, options", STEPS)
def test_failed_encoding_leaves_no_scratch(corpus, scratch_root, monkeypatch, owner, name,
                                           options):
    def interrupted(*a, **k):
        raise KeyboardInterrupt
    monkeypatch.setattr(f"{owner}.{name}", interrupted)
    with pytest.raises(KeyboardInterrupt):
        JoSE(corpus_file=corpus, **PARAMS, **options)
    assert os.listdir(scratch_root) == []


@pytest.mark.parametrize("phase", ["counting", "encoding"])
def test_interrupted_pass_leaves_the_cache_dir_as_it_was(tmp_path, corpus, phase):
    cache = tmp_path / "cache"
    JoSE(**PARAMS).build_vocab(corpus_file=corpus, cache_dir=cache)
    before = {n: (cache / n).read_bytes() for n in os.listdir(cache)}

    def interrupt(p, n):
        if p == phase and n:
            raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        JoSE(**PARAMS).build_vocab(corpus_file=corpus, cache_dir=cache, progress=interrupt)
    assert {n: (cache / n).read_bytes() for n in os.listdir(cache)} == before


def test_progress_reports_both_passes(tmp_path, lines):
    path = write_lines(tmp_path / "c.txt.gz", lines * 50, compress=gzip.compress)
    seen = []
    JoSE(**PARAMS).build_vocab(corpus_file=path, progress=lambda *a: seen.append(a))
    assert [a for a in seen if a[1] == 0][:2] == [("counting", 0), ("encoding", 0)]
    for phase in ("counting", "encoding"):
        assert sum(n for p, n in seen if p == phase) == path.stat().st_size


def test_progress_bars_go_to_stderr(capsys, corpus):
    JoSE(corpus_file=corpus, **PARAMS).build_vocab_from_file(corpus, progress=True)
    assert capsys.readouterr().out == ""


# -- bad input: one clear error naming the problem ------------------------------------

def test_corpus_and_corpus_file_together(corpus, lines):
    with pytest.raises(ValueError, match="either corpus or corpus_file"):
        JoSE([line.split() for line in lines], corpus_file=corpus)
    with pytest.raises(ValueError, match="either corpus or corpus_file"):
        JoSE(**PARAMS).build_vocab([["a"]], corpus_file=corpus)


def test_file_options_without_a_file(tmp_path, lines):
    docs = [line.split() for line in lines]
    with pytest.raises(ValueError, match="tokenize and cache_dir apply to corpus_file"):
        JoSE(docs, tokenize=True)
    with pytest.raises(ValueError, match="tokenize and cache_dir apply to corpus_file"):
        JoSE(cache_dir=tmp_path)
    with pytest.raises(ValueError, match="needs a corpus or a corpus_file"):
        JoSE().build_vocab()


@pytest.mark.parametrize("make, message", [
    (lambda d: d / "missing.txt", "missing.txt: no such file"),
    (lambda d: d, "is a directory"),
    (lambda d: write_lines(d / "empty.txt", []), "empty.txt: file is empty"),
    (lambda d: write_lines(d / "nothing.txt.gz", [], compress=gzip.compress),
     "nothing.txt.gz: compressed file decompresses to nothing"),
    (lambda d: (d / "bad.txt.gz").write_bytes(b"not gzip at all") and d / "bad.txt.gz",
     "bad.txt.gz: corrupt compressed data"),
    (lambda d: write_lines(d / "rare.txt", ["a b c", "d"]),
     "rare.txt: the vocabulary is empty: none of its 4 distinct words occurs min_count=2"),
])
def test_bad_files(tmp_path, make, message, scratch_root):
    path = make(tmp_path)
    with pytest.raises(ValueError) as error:
        JoSE(corpus_file=path, **PARAMS)
    assert message in str(error.value)
    assert os.listdir(scratch_root) == []


def test_bad_arguments(tmp_path, corpus):
    with pytest.raises(TypeError, match="corpus_file must be a path"):
        JoSE(corpus_file=["a b"])
    with pytest.raises(ValueError, match="tokenize must be True or False"):
        JoSE(corpus_file=corpus, tokenize="yes")
    with pytest.raises(ValueError, match="progress must be"):
        JoSE(**PARAMS).build_vocab(corpus_file=corpus, progress="bar")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="cache_dir .*file: exists and is not a directory"):
        JoSE(corpus_file=corpus, cache_dir=tmp_path / "file")
    with pytest.raises(TypeError, match="word_counts must map"):
        JoSE(**PARAMS).build_vocab_from_file(corpus, word_counts=["a", "b"])
    with pytest.raises(ValueError, match="word_counts: counts must be >= 0"):
        JoSE(**PARAMS).build_vocab_from_file(corpus, word_counts={"a": -1})
    with pytest.raises(TypeError, match="corpus_file=path"):
        JoSE(str(corpus))


def test_undecodable_bytes_are_replaced_with_a_warning(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes(b"ab\xffcd x y\nab\xffcd x\xfe y\n" * 3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = JoSE(corpus_file=path, **PARAMS)
    assert [str(w.message) for w in caught] == [
        f"{path}: 9 tokens had invalid UTF-8 bytes, replaced by U+FFFD"]
    assert "ab\ufffdcd" in model.wv
