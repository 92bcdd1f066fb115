"""Property-based tests (hypothesis): the corpus reader and tokeniser on
arbitrary bytes, word2vec round trips, and damaged model directories.

Example counts come from the profile in tests/conftest.py (bounded by
default; JOSE_HYPOTHESIS_PROFILE=long for a longer run). Each defect these
found is pinned by a regular test in test_reliability.py.
"""
import bz2
import collections
import gzip
import json
import lzma
import os
import shutil
import zlib

import numpy as np
import pytest

from jose import JoSE, TaggedDocument, persistence
from jose.textcorpus import CorpusFileError, count_and_encode, count_corpus, encode_corpus
from jose import w2v_format
from jose.w2v_format import read_word2vec, write_word2vec

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, assume, example, given, settings, strategies as st  # noqa
from hypothesis.extra import numpy as hnp  # noqa: E402

import test_tokenize  # noqa: E402
from test_textcorpus import as_dict, reference_counts  # noqa: E402

pytestmark = pytest.mark.timeout(300)

COMPRESSORS = {".txt": bytes, ".gz": gzip.compress, ".bz2": bz2.compress,
               ".xz": lzma.compress}

# --- the corpus reader on arbitrary bytes ---------------------------------------------

PIECES = st.sampled_from([b"a", b"B", b"ab", b"\x00", b"\r", b"\n", b"\r\n", b" ", b"\t",
                          b"\v", b"\f", b"\xc3\xa9", b"\xc3", b"\xff", b"\xed\xa0\x80",
                          b"\xf0\x9f\x98\x80", b"\xe2\x82", "Ü".encode(), "Σ".encode(),
                          b"_", b"-", b"x" * 3000])
CORPUS_BYTES = st.one_of(st.binary(max_size=300),
                         st.lists(PIECES, max_size=80).map(b"".join))


def n_lines(data: bytes) -> int:
    return data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)


@given(CORPUS_BYTES, st.sampled_from(sorted(COMPRESSORS)), st.sampled_from([1, 3, 64, 1 << 20]))
@example(b"", ".txt", 1)
@example(b"no final newline", ".gz", 3)
@example(b"\r\n\r\n", ".txt", 1)
@example(b"x" * 200_000, ".xz", 1 << 20)
def test_reader_counts_any_bytes_like_the_reference(tmp_path_factory, data, suffix, chunk):
    path = tmp_path_factory.mktemp("c") / ("c" + suffix)
    path.write_bytes(COMPRESSORS[suffix](data))
    if not data:
        with pytest.raises(CorpusFileError, match="empty|nothing"):
            count_corpus(path, chunk_size=chunk)
        return
    c = count_corpus(path, chunk_size=chunk)
    assert (as_dict(c), c.n_docs, c.n_tokens, c.n_invalid_utf8) == reference_counts(data)
    assert c.n_docs == n_lines(data)
    t = count_corpus(path, tokenize=True, chunk_size=chunk)
    docs = test_tokenize.reference_docs(data)
    assert as_dict(t) == dict(collections.Counter(w for d in docs for w in d))
    assert (t.n_docs, t.n_invalid_utf8) == (n_lines(data), 0)
    # encoding the same bytes agrees with the counts
    index = {w: i for i, w in enumerate(t.words)}
    out = path.parent / "enc"
    out.mkdir()
    corpus = encode_corpus(path, index, out, tokenize=True, chunk_size=chunk)
    assert corpus.n_docs == n_lines(data) and corpus.n_tokens == t.n_tokens
    ids = np.fromfile(corpus.tokens_path, dtype=np.int32)
    assert np.bincount(ids, minlength=len(index)).tolist() == t.counts.tolist()


@given(CORPUS_BYTES, st.sampled_from([".txt", ".gz"]), st.sampled_from([1, 2, 5, 64]),
       st.integers(2, 5), st.booleans())
@example(b"a\nb", ".txt", 1, 5, False)
@example(b"\xe2\x82\n\xac x\n", ".txt", 1, 2, True)
def test_threads_count_and_encode_any_bytes_like_one(tmp_path_factory, data, suffix, chunk,
                                                     workers, tokenize):
    assume(data)
    path = tmp_path_factory.mktemp("c") / ("c" + suffix)
    path.write_bytes(COMPRESSORS[suffix](data))
    one = count_corpus(path, tokenize=tokenize, chunk_size=chunk)
    many = count_corpus(path, tokenize=tokenize, chunk_size=chunk, workers=workers)
    assert (as_dict(many), many.n_docs, many.n_tokens, many.n_invalid_utf8) == \
        (as_dict(one), one.n_docs, one.n_tokens, one.n_invalid_utf8)
    index = {w: i for i, w in enumerate(sorted(one.words)) if i % 2 == 0}
    files = []
    for n in (1, workers):
        out = path.parent / f"enc{n}"
        out.mkdir()
        corpus = encode_corpus(path, index, out, tokenize=tokenize, chunk_size=chunk, workers=n)
        files.append((open(corpus.tokens_path, "rb").read(),
                      open(corpus.offsets_path, "rb").read()))
    assert files[0] == files[1]
    # counting and encoding in one pass gives the same counts and files
    out = path.parent / "one-pass"
    out.mkdir()
    counts, pending = count_and_encode(path, out, tokenize=tokenize, chunk_size=chunk,
                                       workers=workers)
    assert (as_dict(counts), counts.n_docs, counts.n_tokens, counts.n_invalid_utf8) == \
        (as_dict(one), one.n_docs, one.n_tokens, one.n_invalid_utf8)
    corpus = pending.finish(index)
    assert (open(corpus.tokens_path, "rb").read(),
            open(corpus.offsets_path, "rb").read()) == files[0]


# --- word2vec round trips ----------------------------------------------------------------

ASCII_SPACE = set(" \t\n\v\f\r")
KEY = st.text(min_size=1, max_size=40).filter(lambda k: not ASCII_SPACE & set(k))
LONG_KEY = st.integers(1, 5000).map(lambda n: "ключ" * n)


def keys_and_vectors(dtype_width=32):
    @st.composite
    def build(draw):
        n = draw(st.integers(0, 6))
        keys = draw(st.lists(st.one_of(KEY, LONG_KEY), min_size=n, max_size=n))
        dim = draw(st.integers(1, 5))
        vectors = draw(hnp.arrays(np.float32, (n, dim), elements=st.floats(
            width=32, allow_nan=False, allow_infinity=False)))
        return keys, vectors
    return build()


@given(keys_and_vectors(), st.sampled_from(["", ".gz"]))
def test_binary_round_trip_exact(tmp_path_factory, kv, suffix):
    keys, vectors = kv
    path = tmp_path_factory.mktemp("w") / ("v.bin" + suffix)
    write_word2vec(path, keys, vectors, binary=True)
    got_keys, got = read_word2vec(path, binary=True)
    assert got_keys == keys
    assert got.tobytes() == vectors.tobytes()     # bit for bit, -0.0 included


@given(keys_and_vectors())
def test_text_round_trip_to_printed_precision(tmp_path_factory, kv):
    keys, vectors = kv
    path = tmp_path_factory.mktemp("w") / "v.txt"
    write_word2vec(path, keys, vectors, binary=False)
    for binary in (False, None):
        got_keys, got = read_word2vec(path, binary=binary)
        assert got_keys == keys
        np.testing.assert_allclose(got, vectors, rtol=1e-5, atol=1e-44)


@given(keys_and_vectors(), st.data(), st.sampled_from([1, 6, 9, 17]), st.integers(1, 3),
       st.sampled_from([1, 2, 2048]))
def test_compiled_text_writer_prints_what_python_prints(kv, data, precision, workers, block):
    import io
    keys, vectors = kv
    if data.draw(st.booleans()):     # any float32 bits: NaNs, infinities, subnormals
        vectors = data.draw(hnp.arrays(np.uint32, vectors.shape)).view(np.float32)
    python, compiled = io.BytesIO(), io.BytesIO()
    w2v_format._write_text_rows_python(python, keys, vectors, precision)
    saved = w2v_format._WRITE_BLOCK_ROWS
    w2v_format._WRITE_BLOCK_ROWS = block
    try:
        w2v_format._write_text_rows(compiled, keys, vectors, precision, workers)
    finally:
        w2v_format._WRITE_BLOCK_ROWS = saved
    assert compiled.getvalue() == python.getvalue()


@given(st.lists(st.integers(0, 2 ** 32 - 1), min_size=1, max_size=64),
       st.sampled_from([1, 3, 6, 9, 17]))
@example([0x80000000, 0xFFC00001, 0x00000001, 0x7F7FFFFF], 6)
def test_compiled_format_g_any_float32_bits(bits, precision):
    from jose._text import format_g
    for x in np.array(bits, dtype=np.uint32).view(np.float32).tolist():
        assert format_g(x, precision) == "%.*g" % (precision, x)


@given(keys_and_vectors())
def test_binary_detected_without_being_told(tmp_path_factory, kv):
    keys, vectors = kv
    raw = vectors.astype("<f4").tobytes()
    # the documented limit of guessing: float bytes that are all printable
    # UTF-8 text (never in practice; common among hypothesis's tiny examples)
    assume(any(b in w2v_format._CONTROL_BYTES for b in raw) or not _utf8(raw) or not len(raw))
    path = tmp_path_factory.mktemp("w") / "v.bin"
    write_word2vec(path, keys, vectors, binary=True)
    got_keys, got = read_word2vec(path)
    assert got_keys == keys and got.tobytes() == vectors.tobytes()


def _utf8(raw):
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


BAD_KEY = st.one_of(st.just(""),
                    st.tuples(st.text(max_size=5), st.sampled_from(sorted(ASCII_SPACE)),
                              st.text(max_size=5)).map("".join),
                    st.just("a\ud800b"))


@given(BAD_KEY, st.booleans())
def test_keys_the_format_cannot_hold_are_refused_on_write(tmp_path_factory, key, binary):
    directory = tmp_path_factory.mktemp("w")
    path = directory / "v.txt"
    with pytest.raises(ValueError, match="key 1"):
        write_word2vec(path, ["fine", key], np.ones((2, 3), np.float32), binary=binary)
    assert os.listdir(directory) == []


@given(keys_and_vectors(), st.booleans())
def test_bom_at_the_start_is_read(tmp_path_factory, kv, binary):
    keys, vectors = kv
    path = tmp_path_factory.mktemp("w") / "v"
    write_word2vec(path, keys, vectors, binary=binary)
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    got_keys, got = read_word2vec(path, binary=binary)
    assert got_keys == keys
    np.testing.assert_allclose(got, vectors, rtol=1e-5, atol=1e-44)


@given(st.lists(KEY, min_size=1, max_size=5, unique=True), st.integers(0, 4),
       st.sampled_from(["text", "binary", "binary-no-newlines"]))
def test_a_key_with_a_space_from_another_tool(tmp_path_factory, keys, where, kind):
    """Another program writes a key with a space in it as it is: a text file
    is refused with a message naming it; a binary file whose rows end with a
    newline (word2vec's C tool) reads the key whole (unless a key holds control
    characters: then it may be refused); one without row newlines
    (gensim) cannot be told apart in general: it is refused or read with the
    space-less keys right, never with shifted vectors for the other keys."""
    where = where % len(keys)
    keys = keys[:where] + [keys[where] + " " + keys[where]] + keys[where + 1:]
    vectors = np.arange(len(keys) * 3, dtype=np.float32).reshape(-1, 3) + 0.5
    path = tmp_path_factory.mktemp("w") / "v"
    with open(path, "wb") as f:
        f.write(f"{len(keys)} 3\n".encode())
        for key, row in zip(keys, vectors):
            if kind == "text":
                f.write((key + " " + " ".join(map(str, row)) + "\n").encode())
            else:
                f.write(key.encode() + b" " + row.astype("<f4").tobytes()
                        + (b"\n" if kind == "binary" else b""))
    plain = not any(ord(ch) < 32 or ord(ch) == 127 for ch in "".join(keys))
    if kind == "binary" and plain:
        got_keys, got = read_word2vec(path, binary=True)
        assert got_keys == keys and np.array_equal(got, vectors)
        return
    try:
        got_keys, got = read_word2vec(path, binary=kind != "text")
    except ValueError as e:
        assert str(path) in str(e)
        return
    assert kind != "text"
    for i, key in enumerate(keys):
        if i != where and " " not in key and got_keys[i] == key:
            assert np.array_equal(got[i], vectors[i])


# --- damaged model directories ---------------------------------------------------------

@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    docs = [TaggedDocument([f"w{(i * 7 + j) % 23}" for j in range(12)], [i, f"t{i}"])
            for i in range(20)]
    model = JoSE(docs, vector_size=6, min_count=1, epochs=1, workers=1, seed=3)
    model.train()
    path = tmp_path_factory.mktemp("m") / "model"
    model.save(path)
    return model, path


FILES = ["model.json", "doc_tags.json", "wv.npy", "cv.npy", "dv.npy", "counts.npy"]


def same(a, b):
    return (a.vocab.words == b.vocab.words and a.dv.index_to_key == b.dv.index_to_key
            and all(np.array_equal(x, y) for x, y in
                    [(a.wv.vectors, b.wv.vectors), (a.cv.vectors, b.cv.vectors),
                     (a.dv.vectors, b.dv.vectors), (a.vocab.counts, b.vocab.counts)])
            and a.params() == b.params() and a.training_loss == b.training_loss
            and a.epochs_trained == b.epochs_trained)


def load_or_clear_error(path, damaged_file, original, mmap):
    """Loading gives the original model or one ValueError naming the file."""
    try:
        loaded = JoSE.load(path, mmap=mmap)
    except ValueError as e:
        message = str(e)
        assert damaged_file in message, message
        assert "\n" not in message
        return
    assert same(loaded, original), "a damaged model loaded as a different model"


MUTATION = st.one_of(
    st.tuples(st.just("truncate"), st.integers(0, 10 ** 6)),
    st.tuples(st.just("flip"), st.integers(0, 10 ** 6), st.integers(1, 255)),
    st.tuples(st.just("delete")),
    st.tuples(st.just("append"), st.binary(min_size=1, max_size=8)),
)


@given(st.sampled_from(FILES), MUTATION, st.sampled_from([None, "r"]))
def test_damaged_file_never_loads_as_a_wrong_model(saved_model, tmp_path_factory, name,
                                                   mutation, mmap):
    model, original = saved_model
    path = tmp_path_factory.mktemp("d") / "model"
    shutil.copytree(original, path)
    target = path / name
    data = target.read_bytes()
    kind = mutation[0]
    if kind == "truncate":
        target.write_bytes(data[:mutation[1] % len(data)])
    elif kind == "flip":
        i = mutation[1] % len(data)
        target.write_bytes(data[:i] + bytes([data[i] ^ mutation[2]]) + data[i + 1:])
    elif kind == "delete":
        target.unlink()
    else:
        target.write_bytes(data + mutation[1])
    load_or_clear_error(path, name, model, mmap)


JSON_VALUE = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-3, 10 ** 6), st.floats(allow_nan=False),
              st.text(max_size=5)),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.text(max_size=4), inner, max_size=3)),
    max_leaves=6)


@given(st.data())
def test_consistent_but_wrong_model_json_gives_a_clear_error(saved_model, tmp_path_factory,
                                                             data):
    """model.json rewritten with a valid checksum but a wrong value somewhere:
    a clear error naming a file, or a model that works."""
    model, original = saved_model
    path = tmp_path_factory.mktemp("j") / "model"
    shutil.copytree(original, path)
    meta = json.loads((path / "model.json").read_text(encoding="utf-8"))
    meta.pop("checksum")
    where = data.draw(st.sampled_from(
        ["params", "words", "training_loss", "epochs_trained", "files",
         "format_version"] + [f"params.{k}" for k in meta["params"]]
        + [f"files.{k}" for k in meta["files"]]))
    value = data.draw(JSON_VALUE)
    holder, key = meta, where
    if "." in where:
        first, key = where.split(".", 1)
        holder = meta[first]
    holder[key] = value
    (path / "model.json").write_bytes(persistence._meta_bytes(meta))
    try:
        loaded = JoSE.load(path, mmap=data.draw(st.sampled_from([None, "r"])))
    except ValueError as e:
        assert "\n" not in str(e) and str(path) in str(e), str(e)
        return
    except FileNotFoundError:
        raise
    # whatever loaded is usable
    loaded.wv.most_similar(loaded.wv.index_to_key[0], topn=2)
    assert loaded.wv.vectors.shape == model.wv.vectors.shape


@given(st.sampled_from(["wv.npy", "cv.npy", "dv.npy", "counts.npy"]),
       st.sampled_from(["f8", "f2", "i4", "<i8", ">f4", "u1"]),
       st.sampled_from(["same", "transpose", "drop_row", "add_col", "flat"]))
def test_wrong_dtype_or_shape_in_an_array(saved_model, tmp_path_factory, name, dtype, shape):
    model, original = saved_model
    path = tmp_path_factory.mktemp("a") / "model"
    shutil.copytree(original, path)
    a = np.load(path / name)
    b = {"same": lambda x: x, "transpose": lambda x: x.T, "drop_row": lambda x: x[:-1],
         "add_col": lambda x: np.concatenate([x, x[..., :1]], axis=-1),
         "flat": lambda x: x.reshape(-1)}[shape](a).astype(dtype)
    np.save(path / name, b)
    # re-sign, as a careless tool would: the checks behind the checksums must hold too
    meta = json.loads((path / "model.json").read_text(encoding="utf-8"))
    meta.pop("checksum")
    raw = (path / name).read_bytes()
    meta["files"][name] = {"bytes": len(raw), "crc32": zlib.crc32(raw)}
    (path / "model.json").write_bytes(persistence._meta_bytes(meta))
    load_or_clear_error(path, name, model, None)
    load_or_clear_error(path, name, model, "r")


# --- document tags round-trip exactly (doc_tags.json) ----------------------------------

@given(st.lists(st.one_of(st.integers(), st.integers(-2 ** 80, 2 ** 80), st.text(),
                          st.text(alphabet="\n\r\"\\[],\u2028\x00 1"),
                          st.integers(-9, 9).map(str)),
                min_size=1, max_size=40, unique=True),
       st.sampled_from([None, "r"]))
def test_document_tags_round_trip(tmp_path_factory, tags, mmap):
    model = JoSE(vector_size=3, min_count=1, seed=0, margin=0.3).build_vocab_from_counts(
        ["a"], np.array([1]), tags)
    path = tmp_path_factory.mktemp("t") / "model"
    model.save(path)
    loaded = JoSE.load(path, mmap=mmap)
    assert loaded.dv.index_to_key == tags
    assert [type(t) for t in loaded.dv.index_to_key] == [type(t) for t in tags]
    assert np.array_equal(loaded.dv.vectors, model.dv.vectors)
    light = JoSE.load(path, mmap=mmap, inference_only=True)
    assert light.vocab.words == ["a"]
