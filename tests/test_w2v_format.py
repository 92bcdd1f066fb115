"""Tests for jose.w2v_format: word2vec text/binary reading and atomic writing."""

import bz2
import gzip
import lzma
import os

import numpy as np
import pytest

from jose import w2v_format
from jose.w2v_format import read_word2vec, write_word2vec


@pytest.fixture
def sample():
    rng = np.random.default_rng(7)
    vectors = rng.standard_normal((5, 4)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    keys = ["the", "café", "</s>", "naïve", "x"]
    return keys, vectors


def write_bytes(path, data):
    path.write_bytes(data)
    return path


# -- round trips ------------------------------------------------------------

def test_text_round_trip(tmp_path, sample):
    keys, vectors = sample
    path = tmp_path / "vecs.txt"
    write_word2vec(path, keys, vectors)
    got_keys, got = read_word2vec(path)
    assert got_keys == keys
    assert got.dtype == np.float32 and got.flags.c_contiguous and got.shape == (5, 4)
    np.testing.assert_allclose(got, vectors, atol=1e-6)
    assert path.read_text(encoding="utf-8").splitlines()[0] == "5 4"


def test_binary_round_trip_is_exact(tmp_path, sample):
    keys, vectors = sample
    path = tmp_path / "vecs.bin"
    write_word2vec(path, keys, vectors, binary=True)
    got_keys, got = read_word2vec(path, binary=True)
    assert got_keys == keys
    np.testing.assert_array_equal(got, vectors)
    # Auto-detection picks the binary format too.
    assert read_word2vec(path)[0] == keys


@pytest.mark.parametrize("suffix", [".gz", ".bz2", ".xz"])
@pytest.mark.parametrize("binary", [False, True])
def test_compressed_round_trip(tmp_path, sample, suffix, binary):
    keys, vectors = sample
    path = tmp_path / f"vecs{suffix}"
    write_word2vec(path, keys, vectors, binary=binary)
    opener = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}[suffix]
    with opener(path, "rb") as handle:
        assert handle.readline() == b"5 4\n"
    got_keys, got = read_word2vec(path)
    assert got_keys == keys
    np.testing.assert_allclose(got, vectors, atol=1e-6)


def test_int_keys_written_as_strings(tmp_path):
    path = tmp_path / "docs.txt"
    write_word2vec(path, [0, 1, 2], np.eye(3))
    assert read_word2vec(path)[0] == ["0", "1", "2"]


def test_limit(tmp_path, sample):
    keys, vectors = sample
    for binary in (False, True):
        path = tmp_path / f"vecs{int(binary)}"
        write_word2vec(path, keys, vectors, binary=binary)
        got_keys, got = read_word2vec(path, limit=2)
        assert got_keys == keys[:2] and got.shape == (2, 4)


def test_empty_matrix_round_trip(tmp_path):
    path = tmp_path / "empty.txt"
    write_word2vec(path, [], np.zeros((0, 3)))
    keys, vectors = read_word2vec(path)
    assert keys == [] and vectors.shape == (0, 3)


def test_text_write_is_chunked(tmp_path, monkeypatch):
    monkeypatch.setattr(w2v_format, "_TEXT_CHUNK_ROWS", 3)
    vectors = np.arange(20, dtype=np.float32).reshape(10, 2)
    path = tmp_path / "v.txt"
    write_word2vec(path, [f"w{i}" for i in range(10)], vectors)
    keys, got = read_word2vec(path)
    assert keys == [f"w{i}" for i in range(10)]
    np.testing.assert_array_equal(got, vectors)


# -- formats written by other programs ---------------------------------------

def test_jose_program_text_format(tmp_path):
    # The JoSE C program writes "%lf " after every value, then "\n".
    data = b"3 2\n</s> 0.100000 -0.200000 \nword 1.000000 0.000000 \nd\xc3\xa9j\xc3\xa0 0.5 0.5 \n"
    keys, vectors = read_word2vec(write_bytes(tmp_path / "jose.txt", data))
    assert keys == ["</s>", "word", "déjà"]
    np.testing.assert_allclose(vectors, [[0.1, -0.2], [1, 0], [0.5, 0.5]], rtol=1e-6)


def test_crlf_missing_final_newline_and_bad_utf8(tmp_path):
    data = b"2 2\r\na 1 2\r\n\xff\xfe 3 4"
    keys, vectors = read_word2vec(write_bytes(tmp_path / "crlf.txt", data))
    assert keys == ["a", "\ufffd\ufffd"]
    np.testing.assert_array_equal(vectors, [[1, 2], [3, 4]])


def test_binary_without_row_newlines(tmp_path):
    # gensim writes binary rows without a trailing newline.
    rows = [b"a " + np.array([1, 2], "<f4").tobytes(), b"b " + np.array([3, 4], "<f4").tobytes()]
    path = write_bytes(tmp_path / "g.bin", b"2 2\n" + b"".join(rows))
    keys, vectors = read_word2vec(path)
    assert keys == ["a", "b"]
    np.testing.assert_array_equal(vectors, [[1, 2], [3, 4]])


def test_gensim_reads_what_we_write(tmp_path, sample):
    gensim_models = pytest.importorskip("gensim.models")
    keys, vectors = sample
    for binary in (False, True):
        path = tmp_path / f"g{int(binary)}"
        write_word2vec(path, keys, vectors, binary=binary)
        kv = gensim_models.KeyedVectors.load_word2vec_format(str(path), binary=binary)
        assert list(kv.index_to_key) == keys
        np.testing.assert_allclose(kv.vectors, vectors, atol=1e-6)


# -- malformed files ----------------------------------------------------------

@pytest.mark.parametrize("data, where, what", [
    (b"", "line 1", "header"),
    (b"3\n", "line 1", "header"),
    (b"two 2\n", "line 1", "header"),
    (b"1 2\na 1 2 3\n", "line 2", "2 values"),
    (b"2 2\na 1 2\nb 1\n", "line 3", "2 values"),
    (b"2 2\na 1 2\nb 1 x2\n", "line 3", "value 2"),
    (b"3 2\na 1 2\nb 1 2\n", "line 3", "declares 3"),
    (b"1 2\na 1 2\nb 1 2\n", "line 3", "more rows"),
])
def test_malformed_text_names_file_and_line(tmp_path, data, where, what):
    path = write_bytes(tmp_path / "bad.txt", data)
    with pytest.raises(ValueError) as info:
        read_word2vec(path, binary=False)
    message = str(info.value)
    assert str(path) in message and where in message and what in message


def test_non_numeric_value_detected_by_autodetect(tmp_path):
    path = write_bytes(tmp_path / "bad.txt", b"1 3\nword 0.1 oops 0.3\n")
    with pytest.raises(ValueError, match=r"line 2: value 2 \('oops'\)"):
        read_word2vec(path)


def test_truncated_binary_names_row(tmp_path, sample):
    keys, vectors = sample
    path = tmp_path / "vecs.bin"
    write_word2vec(path, keys, vectors, binary=True)
    data = path.read_bytes()
    write_bytes(path, data[:-10])
    with pytest.raises(ValueError, match=r"vecs\.bin: row 5: binary data truncated"):
        read_word2vec(path, binary=True)


def test_path_problems(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_word2vec(tmp_path / "missing.txt")
    with pytest.raises(IsADirectoryError):
        read_word2vec(tmp_path)


def test_corrupt_gzip_is_value_error(tmp_path):
    path = write_bytes(tmp_path / "v.txt.gz", b"not gzip at all")
    with pytest.raises(ValueError, match="v.txt.gz: cannot decompress"):
        read_word2vec(path)


# -- writing ----------------------------------------------------------------

@pytest.mark.parametrize("bad", ["two words", "tab\there", "", "new\nline"])
def test_keys_with_whitespace_rejected(tmp_path, bad):
    with pytest.raises(ValueError, match="whitespace"):
        write_word2vec(tmp_path / "v.txt", ["ok", bad], np.ones((2, 2)))
    assert list(tmp_path.iterdir()) == []


def test_shape_mismatch_rejected(tmp_path):
    with pytest.raises(ValueError, match="2 keys but 3 vectors"):
        write_word2vec(tmp_path / "v.txt", ["a", "b"], np.ones((3, 2)))


@pytest.mark.parametrize("binary", [False, True])
def test_failed_write_leaves_target_untouched(tmp_path, monkeypatch, binary):
    path = tmp_path / "vecs.txt"
    path.write_text("original\n")

    def explode(*args):
        raise RuntimeError("disk full")

    monkeypatch.setattr(w2v_format, "_write_binary_rows" if binary else "_write_text_rows", explode)
    with pytest.raises(RuntimeError, match="disk full"):
        write_word2vec(path, ["a"], np.ones((1, 2)), binary=binary)
    assert path.read_text() == "original\n"
    assert os.listdir(tmp_path) == ["vecs.txt"]  # temporary file removed


def test_overwrite_keeps_permissions(tmp_path):
    path = tmp_path / "vecs.txt"
    path.write_text("old\n")
    path.chmod(0o640)
    write_word2vec(path, ["a"], np.ones((1, 2)))
    assert path.stat().st_mode & 0o777 == 0o640
    assert read_word2vec(path)[0] == ["a"]
