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


# -- the compiled writers: byte for byte the Python ones ------------------------

def _special_floats():
    """float32 values where formatting goes wrong if anywhere: signed zeros,
    NaNs of both signs and with payloads, infinities, subnormals, the extremes,
    powers of ten and their neighbours, and exact ties at the rounding digit."""
    bits = [0x00000000, 0x80000000, 0x7FC00000, 0xFFC00000, 0x7F800001, 0xFFFFFFFF,
            0x7F800000, 0xFF800000, 0x00000001, 0x80000001, 0x007FFFFF, 0x00800000,
            0x7F7FFFFF, 0xFF7FFFFF, 0x3F800000, 0x3F7FFFFF, 0x3F800001]
    values = list(np.array(bits, dtype=np.uint32).view(np.float32))
    for p in range(-45, 39):
        x = np.float32(10.0 ** p)
        values += [x, np.nextafter(x, np.float32(0)), np.nextafter(x, np.float32(np.inf))]
    # ties: integers below 2**24 with a 5 after the 6th (or kth) digit, halves
    values += [np.float32(v) for v in (1234565, 1234575, 9999995, 999999.5, 0.5, 1.5, 2.5,
                                       0.125, 0.375, 12.5, 1.25, 0.0001, 0.00001, 9.999995e-5,
                                       100000, 1000000, 123456, 999999, 99999.95)]
    values = np.array(values, dtype=np.float32)
    return np.concatenate([values, -values])


def _random_floats(rng, n):
    every_bit_pattern = rng.integers(0, 2 ** 32, n, dtype=np.uint64).astype(np.uint32)
    unit = rng.standard_normal(n).astype(np.float32) * np.float32(0.1)
    scaled = (rng.standard_normal(n) * 10.0 ** rng.integers(-44, 38, n)).astype(np.float32)
    return np.concatenate([every_bit_pattern.view(np.float32), unit, scaled])


@pytest.mark.skipif(not w2v_format._text.FAST_FORMAT, reason="no compiled formatter here")
@pytest.mark.parametrize("precision", [6, 1, 2, 5, 7, 9, 12, 17])
def test_compiled_format_g_is_python_formatting(precision):
    from jose._text import format_g
    rng = np.random.default_rng(precision)
    with np.errstate(over="ignore"):
        values = np.concatenate([_special_floats(), _random_floats(rng, 20_000)])
    wrong = [(x, "%.*g" % (precision, x), format_g(x, precision))
             for x in values.tolist() if format_g(x, precision) != "%.*g" % (precision, x)]
    assert not wrong, wrong[:10]


def _python_text(keys, vectors, precision=6):
    """The text writer as it was, inline: "%s" and "%.6g" of the float32 values."""
    row = "%s" + f" %.{precision}g" * vectors.shape[1] + "\n"
    body = "".join(row % (k, *v) for k, v in zip(keys, vectors.astype(np.float32).tolist()))
    return f"{len(keys)} {vectors.shape[1]}\n{body}".encode("utf-8")


def _python_binary(keys, vectors):
    rows = [k.encode("utf-8") + b" " + r.tobytes() + b"\n"
            for k, r in zip(keys, vectors.astype("<f4"))]
    return f"{len(keys)} {vectors.shape[1]}\n".encode("ascii") + b"".join(rows)


@pytest.mark.parametrize("workers", [1, 2, 3])
@pytest.mark.parametrize("binary", [False, True])
def test_compiled_writers_are_byte_identical(tmp_path, monkeypatch, workers, binary):
    monkeypatch.setattr(w2v_format, "_WRITE_BLOCK_ROWS", 7)     # many blocks, a short last one
    rng = np.random.default_rng(11)
    with np.errstate(over="ignore"):
        values = np.concatenate([_special_floats(), _random_floats(rng, 3000)])
    n_rows = len(values) // 5
    vectors = values[:n_rows * 5].reshape(n_rows, 5)
    vectors = vectors[rng.permutation(n_rows)]
    keys = [f"w{i}" if i % 3 else f"café{i}" for i in range(n_rows)]
    path = tmp_path / "v.bin"
    write_word2vec(path, keys, vectors, binary=binary, workers=workers)
    expected = _python_binary(keys, vectors) if binary else _python_text(keys, vectors)
    assert path.read_bytes() == expected


@pytest.mark.parametrize("precision", [6, 3, 0, 20])
def test_compiled_text_writer_matches_python_writer(tmp_path, monkeypatch, precision):
    # precisions the compiled formatter does not take fall back to Python
    rng = np.random.default_rng(3)
    vectors = rng.standard_normal((50, 4)).astype(np.float32)
    keys = [str(i) for i in range(50)]
    write_word2vec(tmp_path / "a.txt", keys, vectors, precision=precision)
    monkeypatch.setattr(w2v_format._text, "FAST_FORMAT", False)
    write_word2vec(tmp_path / "b.txt", keys, vectors, precision=precision)
    assert (tmp_path / "a.txt").read_bytes() == (tmp_path / "b.txt").read_bytes()


def test_compiled_writer_non_contiguous_float64_and_compressed(tmp_path):
    rng = np.random.default_rng(5)
    wide = rng.standard_normal((30, 8))                    # float64, cast by write_word2vec
    vectors = wide[:, ::2]                                 # not contiguous
    keys = [f"k{i}" for i in range(30)]
    write_word2vec(tmp_path / "v.txt.gz", keys, vectors, workers=2)
    with gzip.open(tmp_path / "v.txt.gz", "rb") as f:
        assert f.read() == _python_text(keys, vectors.astype(np.float32))


def test_write_rows_for_float64_arrays_use_python_formatting():
    # _write_text_rows given float64 (jose-infer's callers could) formats the
    # doubles, as it always did, not their float32 roundings
    import io
    vectors = np.array([[0.1234567891, 1e-300]])
    out = io.BytesIO()
    w2v_format._write_text_rows(out, ["a"], vectors, 6)
    assert out.getvalue() == b"a 0.123457 1e-300\n"


def test_compiled_writers_reject_wrong_key_counts():
    from jose import _text
    with pytest.raises(ValueError, match="2 keys for 1 rows"):
        _text.format_text_rows([b"a", b"b"], np.zeros((1, 2), np.float32))
    with pytest.raises(ValueError, match="precision"):
        _text.format_text_rows([b"a"], np.zeros((1, 2), np.float32), 0)
