"""End-to-end tests of the jose-train command (jose.cli.main).

Every corpus is a tiny planted one written to tmp_path: a few topics with
disjoint vocabularies, one document per line. Runs use --threads 1 --seed 1 so
that outputs repeat byte for byte.
"""
import bz2
import collections
import gzip
import lzma
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

import jose.cli as cli
from jose.cli import main
from jose.model import JoSE
from jose.w2v_format import read_word2vec, write_word2vec


# Small and fast; every test adds outputs and corpus.
FAST = ["--size", "16", "--epochs", "3", "--min-count", "1", "--threads", "1",
        "--seed", "1", "--quiet"]


# -- helpers ---------------------------------------------------------------------

def planted_lines(n_topics=3, words_per_topic=12, docs=60, doc_len=15, seed=0):
    """Lines of a planted corpus: document i uses only topic i % n_topics's words."""
    rng = np.random.default_rng(seed)
    vocab = [[f"t{t}w{i}" for i in range(words_per_topic)] for t in range(n_topics)]
    return [" ".join(rng.choice(vocab[d % n_topics], size=doc_len)) for d in range(docs)], vocab


def write_corpus(path, lines, terminated=True):
    text = "\n".join(lines) + ("\n" if terminated else "")
    Path(path).write_bytes(text.encode("utf-8"))
    return Path(path)


@pytest.fixture
def corpus(tmp_path):
    lines, _ = planted_lines()
    return write_corpus(tmp_path / "corpus.txt", lines)


def run(capsys, argv):
    """(exit status, stdout, stderr) of main(argv)."""
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def ok(capsys, argv):
    rc, out, err = run(capsys, argv)
    assert rc == 0, err
    return out, err


def outs(d):
    """Explicit output options for directory d."""
    d = Path(d)
    d.mkdir(parents=True, exist_ok=True)
    return ["--word-output", d / "w.txt", "--context-output", d / "c.txt",
            "--doc-output", d / "d.txt"]


def same_files(a, b, names=("w.txt", "c.txt", "d.txt")):
    for name in names:
        assert (Path(a) / name).read_bytes() == (Path(b) / name).read_bytes(), name


def unit_rows(vectors, tol=1e-4):
    norms = np.linalg.norm(vectors, axis=1)
    return np.all(np.abs(norms - 1.0) < tol)


def assert_one_line_error(err, *names):
    assert err.strip(), "expected a message on stderr"
    assert "Traceback" not in err
    assert err.strip().count("\n") == 0, err
    assert err.startswith("jose-train: "), err
    for name in names:
        assert name in err, (name, err)


def cli_subprocess(args, cwd):
    # the child imports the same jose as this process: installed, or built in place
    import jose
    home = str(Path(jose.__file__).resolve().parent.parent)
    env = dict(os.environ, PYTHONPATH=home + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run(
        [sys.executable, "-c", "import sys; from jose.cli import main; sys.exit(main())",
         *[str(a) for a in args]],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def no_training(monkeypatch):
    """Records calls of JoSE.train instead of training."""
    calls = []
    monkeypatch.setattr(JoSE, "train", lambda self, *a, **k: calls.append(1) or self)
    return calls


# -- the basic job ---------------------------------------------------------------

def test_default_outputs_in_current_directory(capsys, tmp_path, monkeypatch):
    lines, _ = planted_lines()
    src = tmp_path / "in"
    src.mkdir()
    corpus = write_corpus(src / "news.txt", lines)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    ok(capsys, [corpus, *FAST])
    assert sorted(os.listdir(work)) == ["news.docs.txt", "news.words.txt"]
    keys, vectors = read_word2vec(work / "news.words.txt")
    assert sorted(keys) == sorted({w for line in lines for w in line.split()})
    assert vectors.shape == (len(keys), 16) and unit_rows(vectors)
    keys, vectors = read_word2vec(work / "news.docs.txt")
    assert keys == [str(i) for i in range(len(lines))]
    assert unit_rows(vectors)
    # the header line is "count dim"
    assert (work / "news.docs.txt").read_text().splitlines()[0] == f"{len(lines)} 16"


def test_all_outputs_text_format(capsys, tmp_path, corpus):
    out = tmp_path / "out"
    ok(capsys, [corpus, *FAST, *outs(out), "--model-output", out / "model"])
    n_docs = len(corpus.read_text().splitlines())
    words, wv = read_word2vec(out / "w.txt")
    ctx, cv = read_word2vec(out / "c.txt")
    docs, dv = read_word2vec(out / "d.txt")
    assert words == ctx and len(words) == 36
    assert docs == [str(i) for i in range(n_docs)]
    for v in (wv, cv, dv):
        assert v.shape[1] == 16 and unit_rows(v)
    for path, count in (("w.txt", 36), ("c.txt", 36), ("d.txt", n_docs)):
        text = (out / path).read_text()
        assert text.splitlines()[0] == f"{count} 16"
        row = text.splitlines()[1].split()
        assert len(row) == 17
    model = JoSE.load(out / "model")
    assert model.wv.index_to_key == words and len(model.dv) == n_docs
    np.testing.assert_allclose(model.wv.vectors, wv, atol=1e-5)
    np.testing.assert_allclose(model.cv.vectors, cv, atol=1e-5)
    np.testing.assert_allclose(model.dv.vectors, dv, atol=1e-5)
    assert model.vector_size == 16 and model.epochs_trained == 3


def test_topics_are_learned(capsys, tmp_path, corpus):
    """Sanity: the planted topics separate (documents nearest their own topic)."""
    out = tmp_path / "out"
    ok(capsys, [corpus, *FAST, "--epochs", "10", *outs(out)])
    words, wv = read_word2vec(out / "w.txt")
    docs, dv = read_word2vec(out / "d.txt")
    topic_of_word = np.array([int(w[1]) for w in words])
    centroids = np.stack([wv[topic_of_word == t].mean(axis=0) for t in range(3)])
    predicted = np.argmax(dv @ centroids.T, axis=1)
    truth = np.arange(len(docs)) % 3
    assert np.mean(predicted == truth) > 0.9


@pytest.mark.parametrize("flags", [["--binary"], ["-binary", "1"]])
def test_binary_outputs(capsys, tmp_path, corpus, flags):
    text, binary = tmp_path / "text", tmp_path / "bin"
    ok(capsys, [corpus, *FAST, *outs(text)])
    ok(capsys, [corpus, *FAST, *outs(binary), *flags])
    for name in ("w.txt", "c.txt", "d.txt"):
        keys_b, vec_b = read_word2vec(binary / name, binary=True)
        keys_t, vec_t = read_word2vec(text / name, binary=False)
        assert keys_b == keys_t and unit_rows(vec_b)
        np.testing.assert_allclose(vec_b, vec_t, atol=1e-5)
        assert read_word2vec(binary / name)[0] == keys_b   # detected as binary


def test_binary_flags_give_identical_files(capsys, tmp_path, corpus):
    a, b = tmp_path / "a", tmp_path / "b"
    ok(capsys, [corpus, *FAST, *outs(a), "--binary"])
    ok(capsys, [corpus, *FAST, *outs(b), "-binary", "1"])
    same_files(a, b)
    c = tmp_path / "c"
    ok(capsys, [corpus, *FAST, *outs(c), "-binary", "0"])
    assert (c / "w.txt").read_text().splitlines()[0] == "36 16"


def test_binary_flag_before_the_corpus(capsys, tmp_path, corpus, monkeypatch):
    """`jose-train --binary corpus.txt`: --binary is a GNU flag, it must not
    swallow the corpus name as its 0|1 value."""
    monkeypatch.chdir(tmp_path)
    try:
        rc, out, err = run(capsys, ["--binary", corpus, *FAST])
    except SystemExit as e:  # argparse: invalid int value: 'corpus.txt'
        pytest.fail(f"--binary took the corpus as its value (exit {e.code}): "
                    f"{capsys.readouterr().err.strip().splitlines()[-1]}")
    assert rc == 0, err
    keys, vectors = read_word2vec(tmp_path / "corpus.words.bin", binary=True)
    assert len(keys) == 36 and unit_rows(vectors)


@pytest.mark.parametrize("ext,opener", [(".gz", gzip.open), (".bz2", bz2.open),
                                        (".xz", lzma.open)])
def test_compressed_corpus_gives_same_vectors(capsys, tmp_path, corpus, ext, opener):
    packed = tmp_path / ("corpus.txt" + ext)
    with opener(packed, "wb") as f:
        f.write(corpus.read_bytes())
    ok(capsys, [corpus, *FAST, *outs(tmp_path / "plain")])
    ok(capsys, [packed, *FAST, *outs(tmp_path / "packed")])
    same_files(tmp_path / "plain", tmp_path / "packed")


def test_deterministic_with_one_thread(capsys, tmp_path, corpus):
    ok(capsys, [corpus, *FAST, *outs(tmp_path / "a")])
    ok(capsys, [corpus, *FAST, *outs(tmp_path / "b")])
    same_files(tmp_path / "a", tmp_path / "b")
    ok(capsys, [corpus, *FAST, "--seed", "2", *outs(tmp_path / "c")])
    assert (tmp_path / "a" / "w.txt").read_bytes() != (tmp_path / "c" / "w.txt").read_bytes()


def test_gensim_loads_outputs(capsys, tmp_path, corpus):
    gensim_models = pytest.importorskip("gensim.models")
    ok(capsys, [corpus, *FAST, *outs(tmp_path / "t")])
    ok(capsys, [corpus, *FAST, *outs(tmp_path / "b"), "--binary"])
    for name in ("w.txt", "c.txt", "d.txt"):
        keys, vectors = read_word2vec(tmp_path / "t" / name)
        for sub, binary in (("t", False), ("b", True)):
            kv = gensim_models.KeyedVectors.load_word2vec_format(
                str(tmp_path / sub / name), binary=binary)
            assert list(kv.index_to_key) == keys
            np.testing.assert_allclose(kv.vectors, vectors, atol=1e-5)


# -- options ---------------------------------------------------------------------

def test_help_mentions_every_option_and_default(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    text = " ".join(capsys.readouterr().out.split())   # undo line wrapping
    for option in ["-train", "-size", "-window", "-negative", "-margin", "-alpha", "-sample",
                   "-min-count", "-iter", "-threads", "-word-output", "-context-output",
                   "-doc-output", "-save-vocab", "-read-vocab", "-load-emb", "-binary",
                   "-debug", "--train", "--size", "--window", "--negative", "--margin",
                   "--alpha", "--sample", "--min-count", "--epochs", "--threads", "--seed",
                   "--update-rule", "--objective", "--word-output", "--context-output", "--doc-output",
                   "--model-output", "--binary", "--save-vocab", "--read-vocab",
                   "--load-emb", "--tokenize", "--cache", "--quiet", "--debug"]:
        assert f"{option} " in text or f"{option}," in text, option
    for default in ["(default 100)", "(default 5)", "(default 2)", "(default auto)", "(default joint)",
                    "(default 0.04)", "(default 1)",
                    "(default: the machine's cores)", "(default paper)", "(default: text)",
                    "(default: split on whitespace", "(default: a temporary one"]:
        assert default in text, default


def test_help_mentions_default_output_files(capsys):
    """With no output option jose-train writes <stem>.words.txt and
    <stem>.docs.txt; the output options' help should say so."""
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    assert ".words.txt" in text and ".docs.txt" in text


def test_single_dash_spellings_match_long_options(capsys, tmp_path, corpus):
    common_long = ["--size", "12", "--window", "3", "--negative", "3", "--margin", "0.2",
                   "--alpha", "0.03", "--sample", "1e-2", "--min-count", "2",
                   "--epochs", "2", "--threads", "1"]
    common_single = ["-size", "12", "-window", "3", "-negative", "3", "-margin", "0.2",
                     "-alpha", "0.03", "-sample", "1e-2", "-min-count", "2",
                     "-iter", "2", "-threads", "1"]
    a, b = tmp_path / "a", tmp_path / "b"
    for d in (a, b):
        d.mkdir()
    rc, out_a, err_a = run(capsys, [corpus, *common_long, "--word-output", a / "w.txt",
                                    "--context-output", a / "c.txt", "--doc-output", a / "d.txt",
                                    "--save-vocab", a / "v.txt", "--binary", "--debug", "0"])
    assert rc == 0 and err_a == ""
    rc, out_b, err_b = run(capsys, ["-train", corpus, *common_single, "-word-output", b / "w.txt",
                                    "-context-output", b / "c.txt", "-doc-output", b / "d.txt",
                                    "-save-vocab", b / "v.txt", "-binary", "1", "-debug", "0"])
    assert rc == 0 and err_b == ""
    same_files(a, b, ("w.txt", "c.txt", "d.txt", "v.txt"))
    # the other spelling of the same epochs
    c = tmp_path / "c"
    ok(capsys, [corpus, *common_long[:-4], "--iter", "2", "--threads", "1", *outs(c),
                "--binary", "--quiet"])
    same_files(a, c)
    # -read-vocab and -load-emb
    write_word2vec(tmp_path / "pre.txt", ["t0w1", "t1w2"], np.ones((2, 12)))
    d, e = tmp_path / "d", tmp_path / "e"
    e.mkdir()
    ok(capsys, [corpus, *common_long, *outs(d), "--read-vocab", a / "v.txt",
                "--load-emb", tmp_path / "pre.txt", "--quiet"])
    ok(capsys, ["-train", corpus, *common_single, "-word-output", e / "w.txt",
                "-context-output", e / "c.txt", "-doc-output", e / "d.txt",
                "-read-vocab", a / "v.txt", "-load-emb", tmp_path / "pre.txt", "-debug", "0"])
    same_files(d, e)


def test_model_parameters_reach_the_model(capsys, tmp_path, corpus):
    ok(capsys, [corpus, *FAST, "--window", "4", "--negative", "3", "--margin", "0.3",
                "--alpha", "0.02", "--sample", "0", "--update-rule", "reference",
                "--objective", "joint", "--model-output", tmp_path / "m"])
    model = JoSE.load(tmp_path / "m")
    assert (model.window, model.negative, model.margin, model.alpha, model.sample,
            model.update_rule, model.seed, model.min_count, model.objective) == (
        4, 3, 0.3, 0.02, 0.0, "reference", 1, 1, "joint")
    assert model.training_loss[-1]["joint_tuples"] > 0


def test_save_vocab_and_read_vocab(capsys, tmp_path, corpus):
    counts = collections.Counter(corpus.read_text().split())
    ok(capsys, [corpus, *FAST, *outs(tmp_path / "a"), "--save-vocab", tmp_path / "vocab.txt"])
    rows = [line.split() for line in (tmp_path / "vocab.txt").read_text().splitlines()]
    assert all(len(r) == 2 for r in rows)
    got = [(w, int(c)) for w, c in rows]
    assert dict(got) == dict(counts)
    assert [c for _, c in got] == sorted((c for _, c in got), reverse=True)
    # reading the vocabulary back trains exactly as counting did
    ok(capsys, [corpus, *FAST, *outs(tmp_path / "b"), "--read-vocab", tmp_path / "vocab.txt"])
    same_files(tmp_path / "a", tmp_path / "b")


def test_read_vocab_applies_min_count_and_rejects_garbage(capsys, tmp_path, corpus):
    vocab = tmp_path / "v.txt"
    vocab.write_text("t0w1 50\nt0w2 40\nt1w1 3\n")
    out = tmp_path / "o"
    ok(capsys, [corpus, *FAST, "--min-count", "4", *outs(out), "--read-vocab", vocab])
    assert read_word2vec(out / "w.txt")[0] == ["t0w1", "t0w2"]
    vocab.write_text("t0w1 50\nthis is wrong\n")
    rc, _, err = run(capsys, [corpus, *FAST, *outs(out), "--read-vocab", vocab])
    assert rc != 0
    assert_one_line_error(err, "v.txt", "line 2")


def test_load_emb_word2vec_file(capsys, tmp_path, corpus):
    rng = np.random.default_rng(5)
    words = sorted(set(corpus.read_text().split()))
    known = words[::2]
    pre = 3.0 * rng.standard_normal((len(known), 16))   # not unit length
    write_word2vec(tmp_path / "pre.txt", known + ["unused"], np.vstack([pre, np.ones(16)]))
    out = tmp_path / "o"
    ok(capsys, [corpus, *FAST, "--epochs", "1", "--alpha", "1e-6", *outs(out),
                "--load-emb", tmp_path / "pre.txt"])
    keys, wv = read_word2vec(out / "w.txt")
    index = {k: i for i, k in enumerate(keys)}
    target = pre / np.linalg.norm(pre, axis=1, keepdims=True)
    cos = np.sum(wv[[index[w] for w in known]] * target, axis=1)
    assert np.all(cos > 0.999)
    # the other words keep their random start
    others = [w for w in words if w not in known]
    ok(capsys, [corpus, *FAST, "--epochs", "1", "--alpha", "1e-6", *outs(tmp_path / "r")])
    keys0, wv0 = read_word2vec(tmp_path / "r" / "w.txt")
    index0 = {k: i for i, k in enumerate(keys0)}
    for w in others:
        assert wv[index[w]] @ wv0[index0[w]] > 0.999


def test_load_emb_prefix_like_jose_c(capsys, tmp_path, corpus):
    rng = np.random.default_rng(6)
    words = sorted(set(corpus.read_text().split()))
    pw, pv = rng.standard_normal((2, len(words), 16)) * 2.0
    write_word2vec(tmp_path / "pre_w.txt", words, pw)
    write_word2vec(tmp_path / "pre_v.txt", words, pv)
    out = tmp_path / "o"
    ok(capsys, [corpus, *FAST, "--epochs", "1", "--alpha", "1e-6", *outs(out),
                "--load-emb", tmp_path / "pre"])
    for name, pre in (("w.txt", pw), ("c.txt", pv)):
        keys, vectors = read_word2vec(out / name)
        target = pre / np.linalg.norm(pre, axis=1, keepdims=True)
        order = [words.index(k) for k in keys]
        assert np.all(np.sum(vectors * target[order], axis=1) > 0.999), name


def test_load_emb_with_wrong_dimension(capsys, tmp_path, corpus):
    write_word2vec(tmp_path / "pre.txt", ["t0w1"], np.ones((1, 7)))
    rc, _, err = run(capsys, [corpus, *FAST, *outs(tmp_path / "o"),
                              "--load-emb", tmp_path / "pre.txt"])
    assert rc != 0
    assert_one_line_error(err, "pre.txt", "7")
    assert not (tmp_path / "o" / "w.txt").exists()


def test_load_emb_missing_is_reported_before_any_output(capsys, tmp_path, corpus, no_training):
    """A missing --load-emb is a bad argument like a bad output path: it must
    fail before the corpus passes and before --save-vocab writes anything."""
    rc, _, err = run(capsys, [corpus, *FAST, *outs(tmp_path / "o"),
                              "--save-vocab", tmp_path / "o" / "v.txt",
                              "--load-emb", tmp_path / "nothere"])
    assert rc != 0
    assert_one_line_error(err, "nothere")
    assert no_training == []
    assert os.listdir(tmp_path / "o") == []


def test_tokenize(capsys, tmp_path):
    corpus = tmp_path / "raw.txt"
    corpus.write_text("Hello, World! HELLO world.\nFoo-bar baz_qux 42 Über\n", encoding="utf-8")
    ok(capsys, [corpus, *FAST, "--tokenize", "--doc-output", tmp_path / "d.txt",
                "--save-vocab", tmp_path / "v.txt"])
    vocab = dict(line.split() for line in (tmp_path / "v.txt").read_text("utf-8").splitlines())
    assert vocab == {"hello": "2", "world": "2", "foo": "1", "bar": "1", "baz": "1",
                     "qux": "1", "42": "1", "über": "1"}
    ok(capsys, [corpus, *FAST, "--doc-output", tmp_path / "d.txt",
                "--save-vocab", tmp_path / "v2.txt"])
    vocab = dict(line.split() for line in (tmp_path / "v2.txt").read_text("utf-8").splitlines())
    assert "Hello," in vocab and "world." in vocab and "hello" not in vocab


# -- every line is a document ------------------------------------------------------

def test_every_line_is_a_document(capsys, tmp_path):
    lines, _ = planted_lines(docs=5)
    lines = [lines[0], "", lines[1], lines[2], "", lines[3], lines[4]]
    corpus = write_corpus(tmp_path / "c.txt", lines, terminated=False)
    ok(capsys, [corpus, *FAST, "--doc-output", tmp_path / "d.txt"])
    keys, vectors = read_word2vec(tmp_path / "d.txt")
    assert keys == [str(i) for i in range(7)]
    assert unit_rows(vectors)
    # a terminated last line adds no document; a blank-only line is one
    corpus = write_corpus(tmp_path / "c2.txt", lines[:3] + ["   \t "], terminated=True)
    ok(capsys, [corpus, *FAST, "--doc-output", tmp_path / "d2.txt"])
    assert read_word2vec(tmp_path / "d2.txt")[0] == ["0", "1", "2", "3"]


def test_long_words_are_kept(capsys, tmp_path):
    long_ascii = "x" * 150
    long_utf8 = "é" * 70          # 140 bytes
    lines, _ = planted_lines(docs=6)
    lines = [f"{line} {long_ascii} {long_utf8}" for line in lines]
    corpus = write_corpus(tmp_path / "c.txt", lines)
    ok(capsys, [corpus, *FAST, "--word-output", tmp_path / "w.txt"])
    keys, _ = read_word2vec(tmp_path / "w.txt")
    assert long_ascii in keys and long_utf8 in keys


def test_document_longer_than_a_block_is_trained_whole(capsys, tmp_path, monkeypatch):
    import jose.model

    lines, vocab = planted_lines(docs=30, doc_len=10)
    rng = np.random.default_rng(3)
    long_doc = 400
    lines.insert(7, " ".join(rng.choice(vocab[1], size=long_doc)))   # topic 1 (7 % 3 == 1)
    corpus = write_corpus(tmp_path / "c.txt", lines)

    # batches far smaller than the long document: it must still come whole
    batches = jose.model.training_batches
    seen = []

    def small_batches(corpus, shuffle, rng, chunk_tokens=None):
        for batch in batches(corpus, shuffle, rng, chunk_tokens=16, chunks_per_batch=2):
            seen.append((batch.doc_ids.tolist(), np.diff(batch.offsets).tolist()))
            yield batch
    monkeypatch.setattr(jose.model, "training_batches", small_batches)
    ok(capsys, [corpus, *FAST, "--sample", "0", "--epochs", "4",
                "--word-output", tmp_path / "w.txt", "--doc-output", tmp_path / "d.txt"])
    long_batches = [(ids, lens) for ids, lens in seen if 7 in ids]
    assert len(long_batches) == 4                      # once per epoch
    for ids, lens in long_batches:
        assert lens[ids.index(7)] == long_doc          # all of it in one batch
    docs, dv = read_word2vec(tmp_path / "d.txt")
    assert len(docs) == 31
    words, wv = read_word2vec(tmp_path / "w.txt")
    topic = np.array([int(w[1]) for w in words])
    sims = [float(np.mean(wv[topic == t] @ dv[7])) for t in range(3)]
    assert np.argmax(sims) == 1


def test_invalid_utf8_is_replaced_counted_and_warned_once(capsys, tmp_path):
    lines, _ = planted_lines(docs=9)
    data = ("\n".join(lines) + "\n").encode()
    data += b"ab\xffcd t0w1 ab\xffcd\nt1w1 ab\xffcd \xfe\xfe\n"
    corpus = tmp_path / "bad.txt"
    corpus.write_bytes(data)
    rc, out, err = run(capsys, [corpus, *FAST, "--word-output", tmp_path / "w.txt",
                                "--doc-output", tmp_path / "d.txt"])
    assert rc == 0
    assert len(err.splitlines()) == 1, err
    assert "warning" in err and "bad.txt" in err and "4" in err and "Traceback" not in err
    keys, _ = read_word2vec(tmp_path / "w.txt")
    assert "ab\ufffdcd" in keys
    assert len(read_word2vec(tmp_path / "d.txt")[0]) == 11


@pytest.mark.parametrize("space", ["\u00a0", "\u3000", "\u2003", "\x1c"])
def test_words_with_non_ascii_whitespace_survive(capsys, tmp_path, space):
    """Tokens are split on ASCII whitespace only (as jose.c does), so a word
    may hold a no-break or ideographic space; its vector must be written, and
    --save-vocab / --read-vocab must round-trip it."""
    word = f"new{space}york"
    lines, _ = planted_lines(docs=6)
    lines = [f"{line} {word}" for line in lines]
    corpus = write_corpus(tmp_path / "c.txt", lines)
    a, b = tmp_path / "a", tmp_path / "b"
    rc, _, err = run(capsys, [corpus, *FAST, *outs(a), "--save-vocab", tmp_path / "v.txt"])
    assert rc == 0, err
    keys, vectors = read_word2vec(a / "w.txt")
    assert word in keys and unit_rows(vectors)
    rc, _, err = run(capsys, [corpus, *FAST, *outs(b), "--read-vocab", tmp_path / "v.txt"])
    assert rc == 0, err
    same_files(a, b)


# -- bad input: one line on stderr, non-zero status, nothing trained ---------------

def _bad_cases(tmp_path, corpus):
    (tmp_path / "adir").mkdir()
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "broken.gz").write_bytes(b"\x1f\x8b\x08\x00garbage-not-gzip")
    return {
        "missing": ([tmp_path / "nope.txt"], ["nope.txt"]),
        "directory": ([tmp_path / "adir"], ["adir"]),
        "empty": ([tmp_path / "empty.txt"], ["empty.txt"]),
        "corrupt-gz": ([tmp_path / "broken.gz"], ["broken.gz"]),
        "min-count": ([corpus, "--min-count", "1000"], ["min-count", "corpus.txt"]),
        "out-missing-dir": ([corpus, "--word-output", tmp_path / "no" / "such" / "w.txt"],
                            ["w.txt"]),
        "out-is-dir": ([corpus, "--doc-output", tmp_path / "adir"], ["adir"]),
        "vocab-out-is-dir": ([corpus, "--save-vocab", tmp_path / "adir"], ["adir"]),
        "same-output-twice": ([corpus, "--word-output", tmp_path / "x.txt",
                               "--doc-output", tmp_path / "x.txt"], ["same"]),
        "size": ([corpus, "--size", "0"], ["size"]),
        "margin": ([corpus, "--margin", "3"], ["margin"]),
        "negative": ([corpus, "--negative", "0"], ["negative"]),
        "epochs": ([corpus, "--epochs", "0"], ["epochs"]),
        "window": ([corpus, "--window", "0"], ["window"]),
        "alpha": ([corpus, "--alpha", "0"], ["alpha"]),
        "no-corpus": ([], ["corpus"]),
        "two-corpora": ([corpus, "-train", tmp_path / "other.txt"], ["other.txt"]),
        "read-vocab-missing": ([corpus, "--read-vocab", tmp_path / "nv.txt"], ["nv.txt"]),
    }


BAD_CASES = ["missing", "directory", "empty", "corrupt-gz", "min-count", "out-missing-dir",
             "out-is-dir", "vocab-out-is-dir", "same-output-twice", "size", "margin",
             "negative", "epochs", "window", "alpha", "no-corpus", "two-corpora",
             "read-vocab-missing"]


@pytest.mark.parametrize("case", BAD_CASES)
def test_bad_input_one_line_error(capsys, tmp_path, corpus, no_training, monkeypatch, case):
    args, names = _bad_cases(tmp_path, corpus)[case]
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    rc, out, err = run(capsys, [*FAST, *args])     # args last: they override FAST
    assert rc != 0
    assert_one_line_error(err, *names)
    assert no_training == []
    assert os.listdir(work) == []        # no default outputs either
    assert not (tmp_path / "x.txt").exists()


@pytest.mark.parametrize("kind", ["file", "directory"])
def test_model_output_over_non_model_fails_before_training(capsys, tmp_path, corpus,
                                                           no_training, kind):
    """--model-output naming an existing file, or a directory that is not a
    saved model, cannot be written: say so before training, not after it."""
    target = tmp_path / "target"
    if kind == "file":
        target.write_text("precious")
    else:
        target.mkdir()
        (target / "notes.txt").write_text("precious")
    out = tmp_path / "o"
    out.mkdir()
    rc, _, err = run(capsys, [corpus, *FAST, "--word-output", out / "w.txt",
                              "--model-output", target])
    assert rc != 0
    assert_one_line_error(err, "target")
    assert no_training == [], "the bad --model-output was only found after training"
    assert os.listdir(out) == [], "other outputs were written before the error"


def test_unwritable_output_directory(capsys, tmp_path, corpus, no_training):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("running as root: chmod does not make the directory unwritable")
        rc, _, err = run(capsys, [corpus, *FAST, "--word-output", tmp_path / "w.txt",
                                  "--doc-output", locked / "d.txt"])
        assert rc != 0
        assert_one_line_error(err, "d.txt")
        assert no_training == [] and not (tmp_path / "w.txt").exists()
    finally:
        locked.chmod(0o700)


def test_bad_option_values_from_argparse(capsys, corpus):
    with pytest.raises(SystemExit) as exc:
        main([str(corpus), "--size", "many"])
    assert exc.value.code == 2
    assert "--size" in capsys.readouterr().err
    for option, value in (("--epochs", "two"), ("--epochs", "2.5"), ("--sample", "often"),
                          ("--margin", "wide")):
        with pytest.raises(SystemExit) as exc:
            main([str(corpus), option, value])
        assert exc.value.code == 2
        err = capsys.readouterr().err
        assert option in err and f"or 'auto', not '{value}'" in err


def test_auto_settings_are_chosen_from_the_corpus_and_saved(capsys, tmp_path, corpus):
    from jose.model import auto_epochs, auto_margin, auto_sample
    out = tmp_path / "out"
    flags = [f for f in FAST if f not in ("--epochs", "3")]
    ok(capsys, [corpus, *flags, "--epochs", "auto", "--sample", "auto", *outs(out),
                "--model-output", out / "model"])
    model = JoSE.load(out / "model")
    n_docs = len(corpus.read_text().splitlines())
    tokens = model.vocab.total_words
    assert model.epochs == model.epochs_trained == auto_epochs(tokens)
    assert model.margin == auto_margin(tokens, n_docs)
    assert model.sample == auto_sample(tokens)


# -- atomic outputs, interruption, scratch files --------------------------------------

def _snapshot(d):
    return {p.name: p.read_bytes() for p in Path(d).iterdir() if p.is_file()}


def test_interrupted_training_keeps_old_outputs(capsys, tmp_path, corpus, monkeypatch):
    out = tmp_path / "out"
    ok(capsys, [corpus, *FAST, "--epochs", "1", *outs(out)])
    before = _snapshot(out)
    assert sorted(before) == ["c.txt", "d.txt", "w.txt"]
    scratch_root = tmp_path / "tmp"
    scratch_root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch_root))

    def interrupted(self, *a, **k):
        raise KeyboardInterrupt
    monkeypatch.setattr(JoSE, "train", interrupted)
    rc, stdout, err = run(capsys, [corpus, *FAST, "--seed", "9", *outs(out)])
    assert rc == 130
    assert "interrupted" in err and "Traceback" not in err
    assert _snapshot(out) == before
    assert sorted(os.listdir(out)) == ["c.txt", "d.txt", "w.txt"]
    assert os.listdir(scratch_root) == []        # the scratch directory is gone


def test_interrupted_write_leaves_old_file_whole(capsys, tmp_path, corpus, monkeypatch):
    import jose.w2v_format as w2v

    out = tmp_path / "out"
    ok(capsys, [corpus, *FAST, "--epochs", "1", *outs(out)])
    before = _snapshot(out)
    write_rows = w2v._write_rows

    def half_written(raw, path, keys, vectors, binary, precision, *more):
        write_rows(raw, path, keys[:3], vectors[:3], binary, precision, *more)
        raise KeyboardInterrupt
    monkeypatch.setattr(w2v, "_write_rows", half_written)
    rc, _, err = run(capsys, [corpus, *FAST, "--seed", "9", *outs(out)])
    assert rc == 130
    assert _snapshot(out) == before
    assert sorted(os.listdir(out)) == ["c.txt", "d.txt", "w.txt"]


def test_interrupted_model_save_keeps_old_model(capsys, tmp_path, corpus, monkeypatch):
    import jose.persistence as persistence

    out = tmp_path / "out"
    out.mkdir()
    ok(capsys, [corpus, *FAST, "--epochs", "1", "--model-output", out / "model"])
    before = _snapshot(out / "model")

    def interrupted(*a, **k):
        raise KeyboardInterrupt
    monkeypatch.setattr(persistence.json, "dumps", interrupted)
    rc, _, _ = run(capsys, [corpus, *FAST, "--seed", "9", "--model-output", out / "model"])
    assert rc == 130
    assert os.listdir(out) == ["model"]
    assert _snapshot(out / "model") == before
    monkeypatch.undo()
    assert len(JoSE.load(out / "model").dv) == 60


def test_new_outputs_replace_old_ones(capsys, tmp_path, corpus):
    out = tmp_path / "out"
    ok(capsys, [corpus, *FAST, *outs(out), "--model-output", out / "m"])
    ok(capsys, [corpus, *FAST, "--seed", "7", *outs(out), "--model-output", out / "m"])
    ok(capsys, [corpus, *FAST, "--seed", "7", *outs(tmp_path / "fresh")])
    same_files(out, tmp_path / "fresh")
    assert sorted(os.listdir(out)) == ["c.txt", "d.txt", "m", "w.txt"]
    assert JoSE.load(out / "m").seed == 7


def test_cache_keeps_encoded_corpus(capsys, tmp_path, corpus):
    cache = tmp_path / "cache"
    ok(capsys, [corpus, *FAST, "--doc-output", tmp_path / "d.txt", "--cache", cache])
    n_tokens = len(corpus.read_text().split())
    assert sorted(os.listdir(cache)) == ["offsets.i64", "tokens.i32"]
    assert (cache / "tokens.i32").stat().st_size == 4 * n_tokens
    assert (cache / "offsets.i64").stat().st_size == 8 * (60 + 1)


# -- messages on stdout and stderr -------------------------------------------------------

def test_summary_line_and_quiet(capsys, tmp_path, corpus):
    out, err = ok(capsys, [corpus, *FAST, "--doc-output", tmp_path / "d.txt"])
    assert err == ""
    last = out.strip().splitlines()[-1]
    n_tokens = len(corpus.read_text().split())
    assert last.startswith("jose-train: 60 documents, 36 words in vocabulary")
    assert f"{n_tokens * 3:,} words trained in" in last
    assert "words/s" in last and " s " in last
    assert "d.txt" in last


def test_progress_without_quiet(capsys, tmp_path, corpus):
    argv = [a for a in FAST if a != "--quiet"]
    out, err = ok(capsys, [corpus, *argv, "--doc-output", tmp_path / "d.txt"])
    assert "training" in err and "60 documents" in err
    assert out.strip().splitlines()[-1].startswith("jose-train: 60 documents")
    # -debug 0 is --quiet
    out, err = ok(capsys, [corpus, *argv, "-debug", "0", "--doc-output", tmp_path / "d.txt"])
    assert err == ""


# -- as a program ---------------------------------------------------------------------

def test_subprocess_success(tmp_path, corpus):
    work = tmp_path / "work"
    work.mkdir()
    proc = cli_subprocess([corpus, *FAST], cwd=work)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert proc.stdout.strip().splitlines()[-1].startswith("jose-train: 60 documents")
    assert sorted(os.listdir(work)) == ["corpus.docs.txt", "corpus.words.txt"]
    assert read_word2vec(work / "corpus.docs.txt")[0] == [str(i) for i in range(60)]


@pytest.mark.parametrize("args,names", [
    (["{tmp}/missing.txt"], ["missing.txt"]),
    (["{corpus}", "--size", "0"], ["size"]),
    (["{corpus}", "--margin", "3"], ["margin"]),
    (["{corpus}", "--word-output", "{tmp}/nodir/w.txt"], ["w.txt"]),
    (["{corpus}", "--min-count", "999"], ["min-count"]),
])
def test_subprocess_errors(tmp_path, corpus, args, names):
    args = [a.format(tmp=tmp_path, corpus=corpus) for a in args]
    proc = cli_subprocess([*args, "--quiet", "--threads", "1"], cwd=tmp_path)
    assert proc.returncode not in (0, None)
    assert_one_line_error(proc.stderr, *names)
    assert proc.stdout == ""


def test_subprocess_invalid_utf8_warns_once(tmp_path):
    corpus = tmp_path / "bad.txt"
    corpus.write_bytes(b"good word \xff\xfe\ngood word again\n")
    proc = cli_subprocess([corpus, *FAST, "--doc-output", tmp_path / "d.txt"], cwd=tmp_path)
    assert proc.returncode == 0
    assert len(proc.stderr.splitlines()) == 1 and "warning" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_subprocess_help(tmp_path):
    proc = cli_subprocess(["--help"], cwd=tmp_path)
    assert proc.returncode == 0 and proc.stderr == ""
    assert "-min-count" in proc.stdout and "(default 5)" in proc.stdout
