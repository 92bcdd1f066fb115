"""jose-infer: vectors for every line of a corpus file from a saved model."""
import gzip
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from jose import JoSE
from jose.inference import tokenize_text
from jose.infer_cli import infer_file, main
from jose.w2v_format import read_word2vec
from planted import fresh_document, planted_corpus, saved_planted_model


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return saved_planted_model(tmp_path_factory.mktemp("m"))


@pytest.fixture(scope="module")
def model(model_dir):
    return JoSE.load(model_dir)


@pytest.fixture(scope="module")
def lines():
    rng = np.random.default_rng(1)
    vocab = planted_corpus(seed=0)[2]
    out = [" ".join(fresh_document(rng, vocab, i % 4, length=5 + i % 30)) for i in range(120)]
    out[5] = ""
    out[7] = "no known words"
    out[8] = "T0W1, T0W2!"          # known only after --tokenize
    return out


def write(path, lines, terminated=False):
    text = "\n".join(lines) + ("\n" if terminated else "")
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wt", encoding="utf-8") as f:
        f.write(text)
    return path


def run(capsys, argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def expect_error(capsys, argv, code, *names):
    got, out, err = run(capsys, argv)
    assert got == code, (got, err)
    assert "Traceback" not in err and err.strip().count("\n") == 0, err
    assert err.startswith("jose-infer: error: "), err
    for name in names:
        assert str(name) in err, (name, err)


@pytest.mark.parametrize("name, binary", [("v.npy", False), ("v.txt", False),
                                          ("v.bin", True), ("v.txt.gz", False)])
def test_outputs_equal_batch_inference(capsys, tmp_path, model_dir, model, lines, name, binary):
    corpus = write(tmp_path / "c.txt.gz", lines, terminated=True)
    out = tmp_path / name
    code, stdout, _ = run(capsys, [model_dir, corpus, "--output", out, "--quiet",
                                   "--threads", "2", *(["--binary"] if binary else [])])
    assert code == 0
    assert "120 lines, 3 with no vocabulary word" in stdout
    expected = model.infer_vectors([line.split() for line in lines])
    if name.endswith(".npy"):
        X = np.load(out)
        assert X.dtype == np.float32 and np.array_equal(X, expected)
    else:
        keys, X = read_word2vec(out)
        assert keys == [str(i) for i in range(len(lines))]
        if binary:
            assert np.array_equal(X, expected)
        else:
            assert np.allclose(X, expected, atol=1e-6)
    assert not X[5].any() and not X[7].any()
    assert sorted(os.listdir(tmp_path)) == sorted(["c.txt.gz", name])   # no temp files


def test_tokenize_and_options(capsys, tmp_path, model_dir, model, lines):
    corpus = write(tmp_path / "c.txt", lines)                       # last line unterminated
    out = tmp_path / "v.npy"
    code, stdout, _ = run(capsys, [model_dir, corpus, "-o", out, "--tokenize", "--quiet",
                                   "--epochs", "3", "--seed", "9", "--threads", "1"])
    assert code == 0 and "2 with no vocabulary word" in stdout
    expected = model.infer_vectors([tokenize_text(line) for line in lines], epochs=3, seed=9)
    assert np.array_equal(np.load(out), expected)


def test_streaming_in_small_blocks_gives_the_same_rows(tmp_path, model, lines):
    corpus = write(tmp_path / "c.txt", lines)
    blocks = []
    stats = infer_file(model, corpus, blocks.append, workers=1, chunk_size=37)
    assert stats["lines"] == len(lines) and len(blocks) > 10
    assert np.array_equal(np.concatenate(blocks), model.infer_vectors([s.split() for s in lines]))


def test_errors_before_any_work(capsys, tmp_path, model_dir, lines):
    corpus = write(tmp_path / "c.txt", lines)
    out = tmp_path / "v.npy"
    expect_error(capsys, [tmp_path / "nope", corpus, "-o", out], 2, "no saved model",
                 tmp_path / "nope")
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    expect_error(capsys, [foreign, corpus, "-o", out], 1, "model.json")
    expect_error(capsys, [model_dir, tmp_path / "missing.txt", "-o", out], 2, "missing.txt")
    expect_error(capsys, [model_dir, corpus, "-o", tmp_path / "no" / "v.npy"], 2,
                 "no directory")
    expect_error(capsys, [model_dir, corpus, "-o", tmp_path], 2, "is a directory")
    expect_error(capsys, [model_dir, corpus, "-o", out, "--threads", "0"], 2, "--threads")
    expect_error(capsys, [model_dir, corpus, "-o", out, "--epochs", "-1"], 2, "--epochs")
    expect_error(capsys, [model_dir, corpus, "-o", out, "--binary"], 2, "--binary")
    expect_error(capsys, [model_dir, corpus, "-o", model_dir / "v.npy"], 2, "inside the model")
    expect_error(capsys, [model_dir, corpus, "-o", corpus], 2, "is the corpus file")
    assert corpus.read_text().startswith(lines[0])
    assert not out.exists()


def test_damaged_model(capsys, tmp_path, model_dir, lines):
    import shutil
    broken = tmp_path / "broken"
    shutil.copytree(model_dir, broken)
    (broken / "wv.npy").write_bytes(b"\x93NUMPY garbage")
    corpus = write(tmp_path / "c.txt", lines)
    expect_error(capsys, [broken, corpus, "-o", tmp_path / "v.npy"], 1, "wv.npy")
    # the context and document tables are not needed: their damage does not matter
    shutil.rmtree(broken)
    shutil.copytree(model_dir, broken)
    (broken / "dv.npy").unlink()
    code, _, _ = run(capsys, [broken, corpus, "-o", tmp_path / "v.npy", "--quiet"])
    assert code == 0


def test_corrupt_corpus_leaves_old_output(capsys, tmp_path, model_dir, lines):
    big = lines * 2000
    corpus = write(tmp_path / "c.txt.gz", big)
    data = corpus.read_bytes()
    corpus.write_bytes(data[:len(data) // 2] + bytes(4096) + data[len(data) // 2:])
    out = tmp_path / "v.txt"
    out.write_text("old")
    expect_error(capsys, [model_dir, corpus, "-o", out, "--quiet"], 1, "c.txt.gz")
    assert out.read_text() == "old"
    assert sorted(os.listdir(tmp_path)) == ["c.txt.gz", "v.txt"]


def test_subprocess_and_help(tmp_path, model_dir, lines):
    import jose
    home = str(Path(jose.__file__).resolve().parent.parent)
    env = dict(os.environ, PYTHONPATH=home + os.pathsep + os.environ.get("PYTHONPATH", ""))
    corpus = write(tmp_path / "c.txt", lines)
    cmd = [sys.executable, "-m", "jose.infer_cli"]
    # cwd: not the repository root, whose uncompiled jose/ would shadow the built one
    proc = subprocess.run(cmd + [str(model_dir), str(corpus), "-o", str(tmp_path / "v.npy")],
                          env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert np.load(tmp_path / "v.npy").shape == (len(lines), 16)
    proc = subprocess.run(cmd + ["--help"], env=env, cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0 and "--tokenize" in proc.stdout and "--threads" in proc.stdout
