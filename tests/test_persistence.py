"""Saving and loading: round trips, mmap, atomic replacement and every kind
of damaged input."""
import json
import os

import numpy as np
import pytest

from jose import JoSE, TaggedDocument
from jose import persistence
from legacy_format import V2_FIXTURE, V2_FIXTURE_TAGS, downgrade
from planted import planted_corpus

PARAMS = dict(vector_size=12, min_count=2, epochs=2, workers=1, sample=0.0, seed=7,
              margin=0.4, window=3, negative=3, alpha=0.05, update_rule="reference")


@pytest.fixture(scope="module")
def corpus():
    docs = planted_corpus(seed=1, docs_per_topic=10, doc_len=30)[0]
    # int and str tags, a document with two tags, an empty document
    tagged = []
    for i, d in enumerate(docs):
        if i == 0:
            tagged.append(TaggedDocument(d, ["first", 99]))
        elif i % 3 == 0:
            tagged.append(TaggedDocument(d, [f"doc-{i}"]))
        else:
            tagged.append(TaggedDocument(d, [i]))
    tagged.append(TaggedDocument([], ["empty"]))
    tagged.append(TaggedDocument(["ünïcode"] * 3 + docs[1][:5], ["ü-tag"]))
    return tagged


@pytest.fixture(scope="module")
def model(corpus):
    return JoSE(corpus, **PARAMS).train()


@pytest.fixture
def saved(model, tmp_path):
    path = tmp_path / "model"
    model.save(path)
    return path


def tables(m):
    return m.wv.vectors, m.cv.vectors, m.dv.vectors


def assert_same_model(a, b):
    for x, y in zip(tables(a), tables(b)):
        assert np.array_equal(x, y)
    assert np.array_equal(a.vocab.counts, b.vocab.counts)
    assert a.vocab.words == b.vocab.words
    assert a.wv.index_to_key == b.wv.index_to_key
    assert a.dv.index_to_key == b.dv.index_to_key
    assert a.params() == b.params()
    assert a.training_loss == b.training_loss
    assert a.epochs_trained == b.epochs_trained


def leftovers(directory, keep=("model",)):
    return sorted(p for p in os.listdir(directory) if p not in keep)


# -- round trips ---------------------------------------------------------------------

def test_round_trip(model, saved):
    assert sorted(os.listdir(saved)) == ["counts.npy", "cv.npy", "doc_tags.json", "dv.npy",
                                         "model.json", "wv.npy"]
    assert "doc_tags" not in _meta(saved) and _meta(saved)["format_version"] == 3
    loaded = JoSE.load(saved)
    assert_same_model(model, loaded)
    dv = loaded.dv
    assert dv.index_to_key[:2] == ["first", 99]
    assert 99 in dv and "99" not in dv and "ü-tag" in dv and "empty" in dv
    assert np.array_equal(dv[99], model.dv[99])
    assert "ünïcode" in loaded.wv
    assert loaded.params()["update_rule"] == "reference"
    assert loaded.params()["margin"] == 0.4
    assert len(loaded.training_loss) == 2
    for table in tables(loaded):
        assert table.dtype == np.float32 and table.flags.c_contiguous
        assert table.flags.writeable
    assert leftovers(saved.parent) == []
    assert loaded.wv.most_similar("t0w1", topn=3) == model.wv.most_similar("t0w1", topn=3)


def test_round_trip_accepts_str_path(model, tmp_path):
    model.save(str(tmp_path / "m"))
    assert_same_model(model, JoSE.load(str(tmp_path / "m")))


def test_load_mmap(model, saved):
    loaded = JoSE.load(saved, mmap="r")
    for table in tables(loaded):
        assert isinstance(table, np.memmap)
        assert not table.flags.writeable
    assert_same_model(model, loaded)
    assert loaded.wv.most_similar("t1w3", topn=5) == model.wv.most_similar("t1w3", topn=5)
    assert loaded.dv.most_similar("first", topn=3) == model.dv.most_similar("first", topn=3)
    doc = ["t2w1", "t2w5", "t2w9"] * 5
    assert np.array_equal(loaded.infer_vector(doc), model.infer_vector(doc))
    with pytest.raises(ValueError):      # read-only tables cannot be trained
        loaded.train([TaggedDocument(doc, [1])], epochs=1)
    assert_same_model(model, JoSE.load(saved))
    with pytest.raises(ValueError, match="mmap"):
        JoSE.load(saved, mmap="w")


def test_loaded_model_infers_and_continues_training(model, corpus, saved):
    loaded = JoSE.load(saved)
    doc = ["t3w1", "t3w2", "t3w7", "t3w8"] * 4
    assert np.array_equal(loaded.infer_vector(doc), model.infer_vector(doc))
    # one more epoch from the saved state equals one more epoch in memory
    twin = JoSE.load(saved)
    loaded.train(corpus, epochs=1)
    twin.train(corpus, epochs=1)
    assert loaded.epochs_trained == 3 and len(loaded.training_loss) == 3
    for x, y, z in zip(tables(loaded), tables(twin), tables(model)):
        assert np.array_equal(x, y)
        assert not np.array_equal(x, z)
    in_memory = JoSE(corpus, **PARAMS).train()
    in_memory.train(corpus, epochs=1)
    assert_same_model(in_memory, loaded)
    with pytest.raises(RuntimeError):
        JoSE.load(saved).train()        # no corpus was saved


def test_round_trip_without_document_tags(tmp_path, corpus):
    untagged = [TaggedDocument(d.words, []) for d in corpus]
    model = JoSE(untagged, **PARAMS).train()
    assert model.dv.vectors.shape == (0, PARAMS["vector_size"])
    model.save(tmp_path / "m")
    for mmap in (None, "r"):
        loaded = JoSE.load(tmp_path / "m", mmap=mmap)
        assert_same_model(model, loaded)
        assert len(loaded.dv) == 0


def test_untrained_model_with_margin_auto_round_trips(tmp_path):
    # found: margin "auto" is None until the corpus chooses it, and None was
    # saved, so a model saved before training did not load
    model = JoSE(vector_size=4, min_count=1).build_vocab_from_counts(["a", "b"], [3, 2], [0])
    assert model.margin is None and model.params()["margin"] == "auto"
    model.save(tmp_path / "m")
    loaded = JoSE.load(tmp_path / "m")
    assert loaded.margin is None and loaded.params() == model.params()


def test_save_needs_a_vocabulary(tmp_path):
    with pytest.raises(RuntimeError):
        JoSE().save(tmp_path / "m")
    assert os.listdir(tmp_path) == []


# -- replacing and refusing ----------------------------------------------------------

def test_save_replaces_an_existing_model(model, corpus, saved):
    other = JoSE(corpus, **{**PARAMS, "seed": 8}).train(epochs=1)
    other.save(saved)
    loaded = JoSE.load(saved)
    assert_same_model(other, loaded)
    assert leftovers(saved.parent) == []


def test_save_refuses_a_regular_file(model, tmp_path):
    path = tmp_path / "precious.txt"
    path.write_text("do not touch")
    with pytest.raises(FileExistsError):
        model.save(path)
    assert path.read_text() == "do not touch"
    assert leftovers(tmp_path, keep=("precious.txt",)) == []


def test_save_refuses_a_foreign_directory(model, tmp_path):
    path = tmp_path / "photos"
    path.mkdir()
    (path / "holiday.jpg").write_bytes(b"\xff\xd8")
    with pytest.raises(FileExistsError):
        model.save(path)
    assert os.listdir(path) == ["holiday.jpg"]
    assert (path / "holiday.jpg").read_bytes() == b"\xff\xd8"
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileExistsError):
        model.save(empty)
    assert leftovers(tmp_path, keep=("photos", "empty")) == []


@pytest.mark.parametrize("exc", [OSError("disk full"), KeyboardInterrupt()])
def test_interrupted_save_keeps_the_old_model(model, corpus, saved, monkeypatch, exc):
    other = JoSE(corpus, **{**PARAMS, "seed": 9}).train(epochs=1)
    real_save = np.save
    calls = []

    def failing_save(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise exc
        return real_save(*args, **kwargs)

    monkeypatch.setattr(np, "save", failing_save)
    with pytest.raises(type(exc)):
        other.save(saved)
    monkeypatch.undo()
    assert len(calls) == 3
    assert_same_model(model, JoSE.load(saved))
    assert leftovers(saved.parent) == []


def test_failed_rename_keeps_the_old_model(model, corpus, saved, monkeypatch):
    other = JoSE(corpus, **{**PARAMS, "seed": 10}).train(epochs=1)
    real_replace = os.replace
    calls = []

    def flaky_replace(src, dst):
        calls.append((src, dst))
        if len(calls) == 2:        # moving the new model into place
            raise OSError("rename failed")
        return real_replace(src, dst)

    monkeypatch.setattr(persistence.os, "replace", flaky_replace)
    monkeypatch.setattr(persistence, "_exchange", lambda a, b: False)   # no renameat2
    with pytest.raises(OSError, match="rename failed"):
        other.save(saved)
    monkeypatch.undo()
    assert len(calls) == 3         # old aside, new (failed), old back
    assert_same_model(model, JoSE.load(saved))
    assert leftovers(saved.parent) == []


def test_failed_exchange_keeps_the_old_model(model, corpus, saved, monkeypatch):
    other = JoSE(corpus, **{**PARAMS, "seed": 10}).train(epochs=1)

    def failing_exchange(a, b):
        raise OSError(5, "I/O error")

    monkeypatch.setattr(persistence, "_exchange", failing_exchange)
    with pytest.raises(OSError):
        other.save(saved)
    monkeypatch.undo()
    assert_same_model(model, JoSE.load(saved))
    assert leftovers(saved.parent) == []


def test_interrupted_first_save_leaves_nothing(model, tmp_path, monkeypatch):
    def failing_meta(*args, **kwargs):
        raise OSError("no space")

    monkeypatch.setattr(persistence, "_meta_bytes", failing_meta)
    with pytest.raises(OSError):
        model.save(tmp_path / "new")
    monkeypatch.undo()
    assert os.listdir(tmp_path) == []


# -- damaged input -------------------------------------------------------------------

def _meta(path):
    return json.loads((path / "model.json").read_text(encoding="utf-8"))


def _tags(path):
    return json.loads((path / "doc_tags.json").read_text(encoding="utf-8"))


def _write_tags(path, tags):
    (path / "doc_tags.json").write_text(json.dumps(tags), encoding="utf-8")


def _write_meta(path, meta):
    """model.json as another program might write it: consistent checksums
    (when `meta` is a jose description), wrong content."""
    version = meta.get("format_version") if isinstance(meta, dict) else None
    if isinstance(meta, dict) and "format" in meta and type(version) is int and version >= 2:
        meta = {k: v for k, v in meta.items() if k != "checksum"}
        (path / "model.json").write_bytes(persistence._meta_bytes(meta))
    else:
        (path / "model.json").write_text(json.dumps(meta), encoding="utf-8")


def _resign(path):
    """Record the arrays' and doc_tags.json's current sizes and checksums in
    model.json, as if another program had written them consistently."""
    import zlib
    meta = _meta(path)
    for name in [*persistence.ARRAYS.values(), persistence.TAGS]:
        if name not in meta["files"]:
            continue
        data = (path / name).read_bytes()
        meta["files"][name] = {"bytes": len(data), "crc32": zlib.crc32(data)}
    _write_meta(path, meta)


def test_load_missing_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="no saved model"):
        JoSE.load(tmp_path / "nothing-here")


def test_load_a_file(tmp_path):
    path = tmp_path / "model.bin"
    path.write_bytes(b"\x00" * 10)
    with pytest.raises(ValueError, match="directory"):
        JoSE.load(path)


def test_load_without_model_json(saved):
    (saved / "model.json").unlink()
    with pytest.raises(ValueError, match="model.json"):
        JoSE.load(saved)


@pytest.mark.parametrize("text", ["", "{not json", "\xff\xfe", '{"format": "jose-model"'])
def test_load_model_json_not_json(saved, text):
    (saved / "model.json").write_bytes(text.encode("latin-1"))
    with pytest.raises(ValueError, match="model.json"):
        JoSE.load(saved)


@pytest.mark.parametrize("meta", [
    {"name": "something else"},
    ["jose-model", 1],
    "jose-model",
    {"format": "word2vec", "format_version": 1},
])
def test_load_foreign_json(saved, meta):
    _write_meta(saved, meta)
    with pytest.raises(ValueError, match="not a jose model"):
        JoSE.load(saved)


def test_load_newer_format_version(saved):
    meta = _meta(saved)
    meta["format_version"] = persistence.FORMAT_VERSION + 1
    _write_meta(saved, meta)
    with pytest.raises(ValueError, match="upgrade"):
        JoSE.load(saved)


@pytest.mark.parametrize("version", [0, -1, "1", None, 1.5])
def test_load_bad_format_version(saved, version):
    meta = _meta(saved)
    meta["format_version"] = version
    _write_meta(saved, meta)
    with pytest.raises(ValueError, match="format_version"):
        JoSE.load(saved)


@pytest.mark.parametrize("version, key", [(3, "params"), (3, "words"), (2, "params"),
                                          (2, "words"), (2, "doc_tags")])
def test_load_meta_missing_key(saved, version, key):
    if version == 2:
        downgrade(saved, 2)
    meta = _meta(saved)
    del meta[key]
    _write_meta(saved, meta)
    with pytest.raises(ValueError, match=f"model.json is damaged: missing '{key}'"):
        JoSE.load(saved)


def test_load_meta_without_doc_tags_record(saved):
    meta = _meta(saved)
    del meta["files"]["doc_tags.json"]
    _write_meta(saved, meta)
    with pytest.raises(ValueError, match="model.json is damaged: no valid size and checksum "
                                         "for doc_tags.json"):
        JoSE.load(saved)
    JoSE.load(saved, inference_only=True)


def test_load_meta_bad_params(saved):
    meta = _meta(saved)
    meta["params"]["margin"] = 5.0
    _write_meta(saved, meta)
    with pytest.raises(ValueError, match="margin"):
        JoSE.load(saved)
    meta["params"]["margin"] = 0.4
    meta["params"]["colour"] = "blue"
    _write_meta(saved, meta)
    with pytest.raises(ValueError, match="colour"):
        JoSE.load(saved)


def test_load_meta_keys_disagree_with_arrays(saved):
    meta = _meta(saved)
    meta["words"] = meta["words"][:-1]
    _write_meta(saved, meta)
    with pytest.raises(ValueError, match="shape"):
        JoSE.load(saved)


def test_load_meta_repeated_word(saved):
    meta = _meta(saved)
    meta["words"][1] = meta["words"][0]
    _write_meta(saved, meta)
    with pytest.raises(ValueError, match="model.json is damaged: a word is listed twice"):
        JoSE.load(saved)


def test_load_meta_repeated_doc_tag(saved):
    # Two rows of dv under one tag: dv[tag] could only ever reach one of them.
    # Repeated words are refused (above); repeated tags must be refused too.
    tags = _tags(saved)
    tags[2] = tags[1]
    _write_tags(saved, tags)
    _resign(saved)
    with pytest.raises(ValueError, match="doc_tags.json is damaged: a document tag is "
                                         "listed twice"):
        JoSE.load(saved)
    JoSE.load(saved, inference_only=True)          # which never reads them
    # format 2 kept them in model.json
    downgrade(saved, 2)
    with pytest.raises(ValueError, match="model.json is damaged: a document tag is listed "
                                         "twice"):
        JoSE.load(saved)


@pytest.mark.parametrize("name", ["wv.npy", "cv.npy", "dv.npy", "counts.npy"])
@pytest.mark.parametrize("mmap", [None, "r"])
def test_load_missing_array(saved, name, mmap):
    (saved / name).unlink()
    with pytest.raises(ValueError, match=name):
        JoSE.load(saved, mmap=mmap)


@pytest.mark.parametrize("name", ["wv.npy", "dv.npy", "counts.npy"])
@pytest.mark.parametrize("keep", [0, 20, 100, -4])
@pytest.mark.parametrize("mmap", [None, "r"])
def test_load_truncated_array(saved, name, keep, mmap):
    data = (saved / name).read_bytes()
    (saved / name).write_bytes(data[:keep] if keep >= 0 else data[:len(data) + keep])
    with pytest.raises(ValueError, match=name):
        JoSE.load(saved, mmap=mmap)


def test_load_not_an_npy(saved):
    (saved / "cv.npy").write_text("hello")
    with pytest.raises(ValueError, match="cv.npy"):
        JoSE.load(saved)


def test_load_pickled_object_array_is_refused(saved):
    np.save(saved / "counts.npy", np.array([{"a": 1}] * 3, dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="counts.npy"):
        JoSE.load(saved)


@pytest.mark.parametrize("name,shape_change", [
    ("wv.npy", (1, 0)), ("cv.npy", (0, 1)), ("dv.npy", (-1, 0)), ("counts.npy", (2,)),
])
def test_load_wrong_shape(saved, name, shape_change):
    a = np.load(saved / name)
    shape = tuple(s + d for s, d in zip(a.shape, shape_change))
    rng = np.random.default_rng(0)
    if a.ndim == 2:
        b = rng.standard_normal(shape).astype(np.float32)
        b /= np.linalg.norm(b, axis=1, keepdims=True)
    else:
        b = np.ones(shape, dtype=a.dtype)
    np.save(saved / name, b)
    with pytest.raises(ValueError, match=name):
        JoSE.load(saved)
    _resign(saved)
    with pytest.raises(ValueError, match=f"{name}.*shape"):
        JoSE.load(saved)


def test_load_wrong_dtype(saved):
    a = np.load(saved / "wv.npy")
    np.save(saved / "wv.npy", a.astype(np.float64))
    with pytest.raises(ValueError, match="wv.npy"):
        JoSE.load(saved)
    _resign(saved)
    with pytest.raises(ValueError, match="wv.npy.*dtype"):
        JoSE.load(saved)


@pytest.mark.parametrize("name", ["wv.npy", "cv.npy", "dv.npy"])
def test_load_non_unit_rows(saved, name):
    a = np.load(saved / name)
    a[3] *= 1.5
    np.save(saved / name, a)
    with pytest.raises(ValueError, match=f"{name}.*checksum"):
        JoSE.load(saved)
    _resign(saved)
    with pytest.raises(ValueError, match=f"{name}.*unit"):
        JoSE.load(saved)
    a[3] = np.nan
    np.save(saved / name, a)
    _resign(saved)
    with pytest.raises(ValueError, match=name):
        JoSE.load(saved)


# -- document tags in doc_tags.json (format 3), older formats ---------------------------

TRICKY_TAGS = V2_FIXTURE_TAGS + ["line\r\nbreak", "\x00nul", "]", "[\n", ",", "\ud7ff",
                                 "\U0010ffff", "a" * 5000, -(2 ** 100), 10 ** 30]


def tagged_model(tags, dim=4):
    """A model with these document tags, no training needed."""
    return JoSE(vector_size=dim, min_count=1, seed=1).build_vocab_from_counts(
        ["a", "b"], np.array([3, 2]), tags)


@pytest.mark.parametrize("mmap", [None, "r"])
def test_document_tags_round_trip_exactly(tmp_path, mmap):
    model = tagged_model(TRICKY_TAGS)
    model.save(tmp_path / "m")
    loaded = JoSE.load(tmp_path / "m", mmap=mmap)
    assert loaded.dv.index_to_key == TRICKY_TAGS
    assert [type(t) for t in loaded.dv.index_to_key] == [type(t) for t in TRICKY_TAGS]
    assert 1 in loaded.dv and "1" in loaded.dv and loaded.dv.get_index("1") == 3
    assert loaded.dv.get_index(1) == 2
    assert np.array_equal(loaded.dv.vectors, model.dv.vectors)
    # the file is plain JSON, one tag per line: line i + 1 holds row i's tag
    lines = (tmp_path / "m" / "doc_tags.json").read_text(encoding="utf-8").split("\n")
    assert lines[0] == "[" and lines[-2:] == ["]", ""]
    assert len(lines) == len(TRICKY_TAGS) + 3
    assert [json.loads(line.rstrip(",")) for line in lines[1:-2]] == TRICKY_TAGS


def test_many_document_tags_are_written_in_chunks(tmp_path, monkeypatch):
    monkeypatch.setattr(persistence, "_TAGS_PER_CHUNK", 7)
    tags = [i if i % 3 else f"s{i}" for i in range(50)]
    for n in (0, 1, 7, 8, 14, 50):      # empty, one, a chunk's size and around it
        if n == 0:
            model = tagged_model(["x"])
            model.dv = type(model.dv)([], np.zeros((0, 4), np.float32))
        else:
            model = tagged_model(tags[:n])
        model.save(tmp_path / f"m{n}")
        assert _tags(tmp_path / f"m{n}") == tags[:n]
        assert JoSE.load(tmp_path / f"m{n}").dv.index_to_key == tags[:n]


def test_inference_only_load_never_opens_doc_tags(model, saved, monkeypatch):
    opened = []
    real_open = persistence._Dir.open

    def recording_open(self, name, mode="rb"):
        opened.append(name)
        return real_open(self, name, mode)

    monkeypatch.setattr(persistence._Dir, "open", recording_open)
    for mmap in (None, "r"):
        opened.clear()
        JoSE.load(saved, mmap=mmap, inference_only=True)
        assert sorted(opened) == ["counts.npy", "model.json", "wv.npy"]   # joint, too
        opened.clear()
        JoSE.load(saved, mmap=mmap)
        assert sorted(opened) == ["counts.npy", "cv.npy", "doc_tags.json", "dv.npy",
                                  "model.json", "wv.npy"]
    monkeypatch.undo()
    doc = ["t0w1", "t0w2", "t0w7"] * 4
    good = (saved / "doc_tags.json").read_bytes()
    for damage in ("delete", "garbage", "truncate"):
        if damage == "delete":
            (saved / "doc_tags.json").unlink()
            message = r"doc_tags.json is missing: .*inference_only=True does not need it"
        elif damage == "garbage":
            (saved / "doc_tags.json").write_bytes(b"\xff not json")
            message = "doc_tags.json is damaged or truncated"
        else:
            (saved / "doc_tags.json").write_bytes(good[:-5])
            message = "doc_tags.json is damaged or truncated"
        light = JoSE.load(saved, mmap="r", inference_only=True)
        assert np.array_equal(light.infer_vector(doc), model.infer_vector(doc))
        with pytest.raises(ValueError, match=message) as info:
            JoSE.load(saved)
        assert str(saved / "doc_tags.json") in str(info.value)
        (saved / "doc_tags.json").write_bytes(good)


@pytest.mark.parametrize("content, message", [
    (b"", "not valid JSON"),
    (b'["a", 1', "not valid JSON"),
    (b"\xff\xfe[]", "not valid JSON"),
    (b'{"a": 1}', "not a list of strings and integers"),
    (b'["a", true]', "not a list of strings and integers"),
    (b'["a", 1.0]', "not a list of strings and integers"),
    (b'["a", null]', "not a list of strings and integers"),
    (b'["a", ["b"]]', "not a list of strings and integers"),
])
def test_damaged_doc_tags_consistently_signed(saved, content, message):
    # as another program might write it: the checksum in model.json matches
    (saved / "doc_tags.json").write_bytes(content)
    _resign(saved)
    with pytest.raises(ValueError, match=f"doc_tags.json is damaged.*{message}"):
        JoSE.load(saved)
    with pytest.raises(ValueError, match=f"doc_tags.json is damaged.*{message}"):
        JoSE.load(saved, verify=False)
    JoSE.load(saved, inference_only=True)


def test_doc_tags_and_dv_disagree(saved):
    tags = _tags(saved)
    _write_tags(saved, tags[:-1])
    _resign(saved)
    n = len(tags)
    with pytest.raises(ValueError, match=rf"dv.npy is damaged: shape \({n}, 12\), expected "
                                         rf"\({n - 1}, 12\) \(one row per document tag; "
                                         rf"doc_tags.json lists {n - 1}\)"):
        JoSE.load(saved)


def test_doc_tags_checksum(saved):
    text = (saved / "doc_tags.json").read_bytes()
    (saved / "doc_tags.json").write_bytes(text.replace(b'"first"', b'"firsT"'))
    with pytest.raises(ValueError, match="doc_tags.json is damaged: checksum mismatch"):
        JoSE.load(saved)
    assert "firsT" in JoSE.load(saved, verify=False).dv       # verify=False: no checksums


def test_interrupted_save_of_doc_tags_keeps_the_old_model(model, corpus, saved, monkeypatch):
    other = JoSE(corpus, **{**PARAMS, "seed": 9}).train(epochs=1)
    real_write_tags = persistence._write_tags

    def failing_write_tags(out, tags):
        real_write_tags(out, tags[:3])
        raise KeyboardInterrupt

    monkeypatch.setattr(persistence, "_write_tags", failing_write_tags)
    with pytest.raises(KeyboardInterrupt):
        other.save(saved)
    monkeypatch.undo()
    assert_same_model(model, JoSE.load(saved))
    assert leftovers(saved.parent) == []


def test_format_2_directory_loads(tmp_path):
    import shutil
    path = tmp_path / "v2"
    shutil.copytree(V2_FIXTURE, path)     # written by format 2's save, tags in model.json
    assert "doc_tags.json" not in os.listdir(path) and _meta(path)["format_version"] == 2
    full = JoSE.load(path)
    assert full.dv.index_to_key == V2_FIXTURE_TAGS
    assert [type(t) for t in full.dv.index_to_key] == [type(t) for t in V2_FIXTURE_TAGS]
    assert full.dv.vectors.shape == (len(V2_FIXTURE_TAGS), 4)
    light = JoSE.load(path, mmap="r", inference_only=True)
    doc = ["w1", "w2", "w3", "w5"]
    assert np.array_equal(light.infer_vector(doc), full.infer_vector(doc))
    # saving it again writes format 3, the same model
    full.save(tmp_path / "v3")
    assert _meta(tmp_path / "v3")["format_version"] == 3
    assert _tags(tmp_path / "v3") == V2_FIXTURE_TAGS
    assert_same_model(full, JoSE.load(tmp_path / "v3"))


@pytest.mark.parametrize("version", [1, 2])
def test_downgraded_directory_loads(model, saved, version):
    downgrade(saved, version)
    assert "doc_tags.json" not in os.listdir(saved)
    assert _meta(saved)["doc_tags"] == model.dv.index_to_key
    assert_same_model(model, JoSE.load(saved))
    light = JoSE.load(saved, inference_only=True)
    doc = ["t1w1", "t1w3"] * 3
    assert np.array_equal(light.infer_vector(doc), model.infer_vector(doc))


def test_unit_row_check_covers_every_chunk(monkeypatch):
    # the check runs a few MB at a time (no temporary as large as dv); every
    # block is checked, the last partial one too
    monkeypatch.setattr(persistence, "_CHUNK", 40)      # 160 bytes: 5 rows of 8 floats
    rng = np.random.default_rng(0)
    a = rng.standard_normal((23, 8)).astype(np.float32)
    a /= np.linalg.norm(a, axis=1, keepdims=True)
    assert persistence._unit_rows(a) and persistence._unit_rows(a[:0])
    for row in (0, 4, 5, 21, 22):
        b = a.copy()
        b[row] *= 1.01
        assert not persistence._unit_rows(b), row
