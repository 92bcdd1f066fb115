"""Streaming corpus files: line and token rules, compression, bad files,
encoding to disk and reading back ranges of documents. Tiny files only."""
import bz2
import collections
import gzip
import lzma
import os
import random
import re

import numpy as np
import pytest

from jose import textcorpus
from jose.corpus import Batch, ScannedCorpus
from jose.textcorpus import (CorpusFileError, DiskCorpus, count_corpus, encode_corpus,
                             open_text)

SEPARATORS = re.compile(rb"[ \t\r\v\f]+")


# --- a pure-Python reference of the format ------------------------------------

def reference_docs(data: bytes):
    """Documents as lists of raw-byte tokens: every line, an unterminated last one too."""
    if not data:
        return []
    lines = data.split(b"\n")
    if data.endswith(b"\n"):
        lines.pop()
    return [[t for t in SEPARATORS.split(line) if t] for line in lines]


def decode(token: bytes) -> str:
    return token.decode("utf-8", "replace")


def is_valid(token: bytes) -> bool:
    try:
        token.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def reference_counts(data: bytes):
    docs = reference_docs(data)
    tokens = [t for doc in docs for t in doc]
    counts = collections.Counter(decode(t) for t in tokens)
    n_invalid = sum(not is_valid(t) for t in tokens)
    return dict(counts), len(docs), len(tokens), n_invalid


def as_dict(c):
    assert c.counts.dtype == np.int64 and len(c.words) == len(c.counts)
    assert len(set(c.words)) == len(c.words)
    return dict(zip(c.words, c.counts.tolist()))


def write(tmp_path, name, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def check_counts(path, data, chunk_size):
    c = count_corpus(path, chunk_size=chunk_size)
    assert (as_dict(c), c.n_docs, c.n_tokens, c.n_invalid_utf8) == reference_counts(data)
    return c


def random_corpus(rng: random.Random, n_bytes: int) -> bytes:
    """Bytes rich in edge cases: every separator, multi-byte and invalid UTF-8."""
    pieces = [b"a", b"b", b"ab", b"\xc3\xa9", b"\xe2\x82\xac", b"\xf0\x9f\x98\x80",
              b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xef\xbf\xbd",
              b" ", b"\t", b"\r", b"\v", b"\f", b"\n", b"\n", b"\r\n"]
    out = bytearray()
    while len(out) < n_bytes:
        out += rng.choice(pieces)
    return bytes(out)


# --- line and token rules -----------------------------------------------------

CHUNKS = [1, 7, 1 << 20]


@pytest.mark.parametrize("chunk_size", CHUNKS)
@pytest.mark.parametrize("data, n_docs, n_tokens", [
    (b"a b\n", 1, 2),
    (b"a b\nc", 2, 3),
    (b"a\n\n", 2, 1),
    (b"\n", 1, 0),
    (b"\n\n\n", 3, 0),
    (b"   ", 1, 0),
    (b"a\r\nb c\r\n", 2, 3),
    (b"a\tb\vc\fd\re  f\n", 1, 6),
    (b"x" * 10_000 + b" y\n" + b"z" * 10_000, 2, 3),
])
def test_line_and_token_rules(tmp_path, data, n_docs, n_tokens, chunk_size):
    c = check_counts(write(tmp_path, "c.txt", data), data, chunk_size)
    assert (c.n_docs, c.n_tokens) == (n_docs, n_tokens)


def test_long_word_kept_whole(tmp_path):
    word = "w" * 10_000
    c = count_corpus(write(tmp_path, "c.txt", f"a {word} a\n".encode()), chunk_size=7)
    assert as_dict(c) == {"a": 2, word: 1}


def test_token_spanning_chunk_boundary(tmp_path):
    # With 7-byte chunks, "abcdefghij" is cut twice and "kl" once.
    c = count_corpus(write(tmp_path, "c.txt", b"xyz abcdefghij kl\nm"), chunk_size=7)
    assert as_dict(c) == {"xyz": 1, "abcdefghij": 1, "kl": 1, "m": 1}
    assert c.n_docs == 2


@pytest.mark.parametrize("seed", range(5))
def test_random_bytes_match_reference(tmp_path, seed):
    data = random_corpus(random.Random(seed), 3000)
    path = write(tmp_path, "c.txt", data)
    for chunk_size in (1, 7, 64, 1 << 20):
        check_counts(path, data, chunk_size)


def test_invalid_utf8_counted_and_replaced(tmp_path):
    data = b"caf\xe9 caf\xc3\xa9 \xff \xef\xbf\xbd caf\xe9\n"
    c = count_corpus(write(tmp_path, "c.txt", data))
    # b"\xff" and a real U+FFFD decode alike, so their counts merge.
    assert as_dict(c) == {"caf\ufffd": 2, "caf\u00e9": 1, "\ufffd": 2}
    assert c.n_invalid_utf8 == 3


def test_utf8_validity_agrees_with_python(tmp_path):
    tokens = [b"\xc0\x80", b"\xc1\xbf", b"\xe0\x80\x80", b"\xe0\xa0\x80", b"\xed\x9f\xbf",
              b"\xed\xa0\x80", b"\xf0\x8f\xbf\xbf", b"\xf0\x90\x80\x80", b"\xf4\x8f\xbf\xbf",
              b"\xf4\x90\x80\x80", b"\xf5\x80\x80\x80", b"\xe2\x82", b"\x80", b"a\xc3",
              b"\xc3\xa9", b"\xe2\x82\xac", b"\xe2\x82\xc0", b"\xf0\x9f\x98"]
    data = b" ".join(tokens)
    c = check_counts(write(tmp_path, "c.txt", data), data, 1 << 20)
    assert c.n_invalid_utf8 == sum(not is_valid(t) for t in tokens)


@pytest.mark.parametrize("suffix, compress", [(".gz", gzip.compress), (".bz2", bz2.compress),
                                              (".xz", lzma.compress)])
def test_compressed_files_give_identical_results(tmp_path, suffix, compress):
    data = random_corpus(random.Random(7), 5000)
    plain = count_corpus(write(tmp_path, "c.txt", data), chunk_size=64)
    packed = count_corpus(write(tmp_path, "c.txt" + suffix, compress(data)), chunk_size=64)
    assert as_dict(packed) == as_dict(plain)
    assert packed[2:] == plain[2:]
    with open_text(tmp_path / ("c.txt" + suffix)) as f:
        assert f.read() == data


@pytest.mark.parametrize("name, compress", [("c.txt", bytes), ("c.txt.gz", gzip.compress)])
def test_progress_reports_bytes_on_disk(tmp_path, name, compress):
    path = write(tmp_path, name, compress(random_corpus(random.Random(3), 20_000)))
    seen = []
    count_corpus(path, progress=seen.append, chunk_size=1000)
    assert len(seen) > 1 and sum(seen) == os.path.getsize(path)


# --- bad files ----------------------------------------------------------------

def bad_files(tmp_path):
    """(path, words expected in the message) for each kind of bad file."""
    os.mkdir(tmp_path / "dir")
    return [
        (tmp_path / "missing.txt", "no such file"),
        (tmp_path / "dir", "directory"),
        (write(tmp_path, "empty.txt", b""), "empty"),
        (write(tmp_path, "empty.gz", b""), "empty"),
        (write(tmp_path, "nothing.gz", gzip.compress(b"")), "decompresses to nothing"),
        (write(tmp_path, "nothing.xz", lzma.compress(b"")), "decompresses to nothing"),
        (write(tmp_path, "garbage.gz", b"this is not gzip\n"), "corrupt"),
        (write(tmp_path, "garbage.bz2", b"this is not bzip2\n"), "corrupt"),
        (write(tmp_path, "garbage.xz", b"this is not xz\n"), "corrupt"),
    ]


def test_bad_files_raise_corpus_file_error(tmp_path):
    for path, words in bad_files(tmp_path):
        for call in (lambda: count_corpus(path, chunk_size=64),
                     lambda: encode_corpus(path, {}, tmp_path),
                     lambda: open_text(path).close()):
            with pytest.raises(CorpusFileError, match=words) as info:
                call()
            message = str(info.value)
            assert str(path) in message and "\n" not in message


@pytest.mark.parametrize("suffix, compress", [(".gz", gzip.compress), (".bz2", bz2.compress),
                                              (".xz", lzma.compress)])
def test_truncated_compressed_file(tmp_path, suffix, compress):
    # The start decompresses fine: the error comes mid-stream, while counting.
    packed = compress(random_corpus(random.Random(1), 200_000))
    path = write(tmp_path, "c.txt" + suffix, packed[:len(packed) // 2])
    for call in (lambda: count_corpus(path, chunk_size=1000),
                 lambda: encode_corpus(path, {}, tmp_path, chunk_size=1000)):
        with pytest.raises(CorpusFileError, match="corrupt") as info:
            call()
        assert str(path) in str(info.value)
    assert os.listdir(tmp_path) == [path.name]


def test_unreadable_file(tmp_path, monkeypatch):
    path = write(tmp_path, "secret.txt", b"a b\n")

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    # Root reads anything, so deny through the module's `open` instead of chmod.
    monkeypatch.setattr(textcorpus, "open", refuse, raising=False)
    with pytest.raises(CorpusFileError, match="permission denied") as info:
        count_corpus(path)
    assert str(path) in str(info.value)


# --- encoding and reading back -------------------------------------------------

def reference_encoding(data: bytes, key_to_index: dict):
    ids, offsets = [], [0]
    for doc in reference_docs(data):
        ids += [i for i in (key_to_index.get(decode(t), -1) for t in doc) if i >= 0]
        offsets.append(len(ids))
    return np.array(ids, dtype=np.int32), np.array(offsets, dtype=np.int64)


def encode_random(tmp_path, seed=0, n_bytes=4000, chunk_size=7):
    data = random_corpus(random.Random(seed), n_bytes)
    path = write(tmp_path, "c.txt", data)
    words = count_corpus(path).words
    rng = random.Random(seed)
    # Keep about two thirds of the words, one of them explicitly mapped to -1.
    kept = [w for w in words if rng.random() < 0.67]
    key_to_index = {w: i for i, w in enumerate(kept)}
    key_to_index[kept[0]] = -1
    out = tmp_path / "enc"
    out.mkdir(exist_ok=True)
    corpus = encode_corpus(path, key_to_index, out, chunk_size=chunk_size)
    return corpus, reference_encoding(data, key_to_index)


@pytest.mark.parametrize("seed", range(3))
def test_encode_matches_reference(tmp_path, seed):
    corpus, (ids, offsets) = encode_random(tmp_path, seed)
    assert (corpus.n_docs, corpus.n_tokens) == (len(offsets) - 1, len(ids))
    assert np.array_equal(np.fromfile(corpus.tokens_path, dtype=np.int32), ids)
    assert np.array_equal(np.fromfile(corpus.offsets_path, dtype=np.int64), offsets)
    reopened = DiskCorpus(corpus.out_dir)
    assert (reopened.n_docs, reopened.n_tokens) == (corpus.n_docs, corpus.n_tokens)


def test_encode_maps_invalid_utf8_like_count(tmp_path):
    path = write(tmp_path, "c.txt", b"caf\xe9 \xff x\n\xef\xbf\xbd caf\xe9")
    corpus = encode_corpus(path, {"caf\ufffd": 3, "\ufffd": 9}, tmp_path)
    assert np.fromfile(corpus.tokens_path, dtype=np.int32).tolist() == [3, 9, 9, 3]
    assert np.fromfile(corpus.offsets_path, dtype=np.int64).tolist() == [0, 2, 4]


def memory_encoding(data: bytes, key_to_index: dict):
    """The same lines encoded in memory, as JoSE(list_of_token_lists) does."""
    docs = [[decode(t) for t in doc] for doc in reference_docs(data)]
    return ScannedCorpus(docs).encode(key_to_index, {i: i for i in range(len(docs))})


def assert_same_batch(a, b):
    for field in Batch._fields:
        x, y = getattr(a, field), getattr(b, field)
        assert x.dtype == y.dtype and np.array_equal(x, y), field


@pytest.mark.parametrize("seed", range(3))
def test_read_range_matches_memory_encoding(tmp_path, seed):
    data = random_corpus(random.Random(seed), 3000)
    path = write(tmp_path, "c.txt", data)
    words = sorted(count_corpus(path).words)
    key_to_index = {w: i for i, w in enumerate(words) if i % 3}     # some words dropped
    disk = encode_corpus(path, key_to_index, tmp_path, chunk_size=7)
    memory = memory_encoding(data, key_to_index)
    assert (disk.n_docs, disk.n_tokens) == (memory.n_docs, memory.n_tokens)
    assert (np.diff(memory.offsets) == 0).sum() > 5          # empty documents are exercised
    rng = np.random.default_rng(seed)
    ranges = [(0, disk.n_docs), (0, 0), (disk.n_docs, disk.n_docs), (disk.n_docs - 1, disk.n_docs)]
    ranges += [tuple(sorted(rng.integers(0, disk.n_docs + 1, size=2))) for _ in range(50)]
    for start, end in ranges:
        batch = disk.read_range(int(start), int(end))
        assert_same_batch(batch, memory.read_range(int(start), int(end)))
        assert batch.offsets[0] == 0 and len(batch.doc_ids) == end - start


@pytest.mark.parametrize("data", [b"a b\n\n\nb", b"\n\na\n", b"b a a\n \t\nb"])
def test_read_range_empty_documents_and_unterminated_last_line(tmp_path, data):
    path = write(tmp_path, "c.txt", data)
    disk = encode_corpus(path, {"a": 0, "b": 1}, tmp_path)
    lines = data.split(b"\n")
    if data.endswith(b"\n"):
        lines.pop()
    assert disk.n_docs == len(lines)
    batch = disk.read_range(0, disk.n_docs)
    want = [[{b"a": 0, b"b": 1}[t] for t in line.split()] for line in lines]
    got = [batch.tokens[s:e].tolist() for s, e in zip(batch.offsets[:-1], batch.offsets[1:])]
    assert got == want
    last = disk.read_range(disk.n_docs - 1, disk.n_docs)
    assert last.tokens.tolist() == want[-1] and last.doc_ids.tolist() == [disk.n_docs - 1]
    assert last.tag_rows.tolist() == [disk.n_docs - 1]


def test_disk_corpus_rejects_inconsistent_files(tmp_path):
    corpus = encode_corpus(write(tmp_path, "c.txt", b"a b\nb\n"), {"a": 0, "b": 1}, tmp_path)
    offsets = open(corpus.offsets_path, "rb").read()
    with open(corpus.offsets_path, "ab") as f:
        f.write(b"\0\0\0")
    with pytest.raises(ValueError):
        DiskCorpus(tmp_path)
    with open(corpus.offsets_path, "wb") as f:
        f.write(offsets[:-8] + np.int64(2).tobytes())
    with pytest.raises(ValueError):
        DiskCorpus(tmp_path)


def test_interrupt_leaves_previous_output(tmp_path):
    data = b"a b c\n" * 5000
    path = write(tmp_path, "c.txt", data)
    out = tmp_path / "enc"
    out.mkdir()
    encode_corpus(path, {"a": 0}, out)
    before = sorted((p.name, p.read_bytes()) for p in out.iterdir())

    def interrupt(n):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        encode_corpus(path, {"a": 0, "b": 1}, out, progress=interrupt, chunk_size=1000)
    assert sorted((p.name, p.read_bytes()) for p in out.iterdir()) == before


# --- tokenize=True ------------------------------------------------------------

TEXT = "Café-au-lait, CAFE\u0301!\n\nHELLO_world: it's 42\tx²\r\nend"


@pytest.mark.parametrize("chunk_size", [1, 7, 1 << 20])
def test_tokenize(tmp_path, chunk_size):
    path = write(tmp_path, "c.txt", TEXT.encode())
    c = count_corpus(path, tokenize=True, chunk_size=chunk_size)
    # not normalised: "CAFE" + U+0301 (a combining mark, kept in the word) is its own word
    assert as_dict(c) == {"café": 1, "cafe\u0301": 1, "au": 1, "lait": 1, "hello": 1,
                          "world": 1, "it": 1, "s": 1, "42": 1, "x²": 1, "end": 1}
    assert (c.n_docs, c.n_tokens, c.n_invalid_utf8) == (4, 11, 0)


def test_tokenize_encode_and_invalid_bytes(tmp_path):
    path = write(tmp_path, "c.txt", b"Ab\xffCD ab\n")
    assert as_dict(count_corpus(path, tokenize=True, chunk_size=3)) == {"ab": 2, "cd": 1}
    corpus = encode_corpus(path, {"ab": 0, "cd": 1}, tmp_path, tokenize=True, chunk_size=3)
    assert np.fromfile(corpus.tokens_path, dtype=np.int32).tolist() == [0, 1, 0]


def test_tokenize_off_keeps_tokens_exact(tmp_path):
    c = count_corpus(write(tmp_path, "c.txt", b"Ab-c ab-c\n"))
    assert as_dict(c) == {"Ab-c": 1, "ab-c": 1}


# --- TextCorpus (LineSentence) ------------------------------------------------

@pytest.mark.parametrize("chunk_size", CHUNKS)
@pytest.mark.parametrize("seed", range(3))
def test_text_corpus_yields_the_documents_the_scanner_counts(tmp_path, seed, chunk_size):
    data = random_corpus(random.Random(seed), 3000)
    path = write(tmp_path, "c.txt", data)
    docs = list(textcorpus.TextCorpus(path, chunk_size=chunk_size))
    assert docs == [[decode(t) for t in doc] for doc in reference_docs(data)]
    counts = count_corpus(path)
    assert len(docs) == counts.n_docs
    assert collections.Counter(w for d in docs for w in d) == as_dict(counts)


@pytest.mark.parametrize("chunk_size", [3, 1 << 20])
def test_text_corpus_tokenize_matches_count_corpus(tmp_path, chunk_size):
    data = "Hello, World! HELLO world.\n\nFoo-bar baz_qux 42 Über\nx".encode()
    path = write(tmp_path, "c.txt", data)
    docs = list(textcorpus.TextCorpus(path, tokenize=True, chunk_size=chunk_size))
    assert docs == [["hello", "world", "hello", "world"], [],
                    ["foo", "bar", "baz", "qux", "42", "über"], ["x"]]
    assert (collections.Counter(w for d in docs for w in d)
            == as_dict(count_corpus(path, tokenize=True)))


@pytest.mark.parametrize("suffix, compress", [(".gz", gzip.compress), (".bz2", bz2.compress),
                                              (".xz", lzma.compress)])
def test_text_corpus_reads_compressed_files_and_restarts(tmp_path, suffix, compress):
    from jose import LineSentence, TextCorpus

    assert LineSentence is TextCorpus
    data = b"a b\n\nc d e\nf"
    corpus = TextCorpus(write(tmp_path, "c.txt" + suffix, compress(data)))
    want = [["a", "b"], [], ["c", "d", "e"], ["f"]]
    assert list(corpus) == want
    assert list(corpus) == want                      # iterable, not a one-shot generator
    assert list(TextCorpus(corpus.source, limit=2)) == want[:2]
    assert list(TextCorpus(corpus.source, limit=0)) == []
    assert list(TextCorpus(corpus.source, limit=99)) == want


def test_text_corpus_bad_arguments(tmp_path):
    from jose import TextCorpus

    with pytest.raises(CorpusFileError, match="missing.txt: no such file"):
        TextCorpus(tmp_path / "missing.txt")
    with pytest.raises(CorpusFileError, match="empty"):
        TextCorpus(write(tmp_path, "e.txt", b""))
    good = write(tmp_path, "c.txt", b"a\n")
    with pytest.raises(ValueError, match="limit"):
        TextCorpus(good, limit=-1)
    with pytest.raises(ValueError, match="tokenize"):
        TextCorpus(good, tokenize="yes")
    with pytest.raises(TypeError, match="source must be a path"):
        TextCorpus(["a", "b"])
    bad = write(tmp_path, "c.txt.gz", gzip.compress(b"a b\n" * 1000)[:-30] + b"x" * 30)
    with pytest.raises(CorpusFileError, match="c.txt.gz"):
        list(TextCorpus(bad))
