"""End-to-end tests of the jose-eval command through jose.eval_cli.main."""

import json

import numpy as np
import pytest

from jose.eval_cli import main
from jose.w2v_format import write_word2vec


@pytest.fixture
def documents(tmp_path):
    """40 document vectors around 4 directions, rows keyed by doc id but shuffled."""
    rng = np.random.default_rng(0)
    directions = np.eye(8)[:4]
    labels = np.repeat(np.arange(4), 10)
    vectors = directions[labels] + 0.1 * rng.standard_normal((40, 8))
    order = rng.permutation(40)
    vecs = tmp_path / "docs.txt"
    write_word2vec(vecs, order, vectors[order])  # key = document number, file order shuffled
    label_file = tmp_path / "labels.txt"
    label_file.write_text("\n".join(map(str, labels)) + "\n")
    return vecs, label_file


@pytest.fixture
def words(tmp_path):
    vectors = {
        "man": [1, 0, 0, 0], "woman": [1, 0, 1, 0], "king": [1, 1, 0, 0],
        "queen": [1, 1, 1, 0], "apple": [0, 0, 0, 1], "pear": [0, 0.2, 0, 1],
    }
    path = tmp_path / "words.bin"
    write_word2vec(path, list(vectors), np.array(list(vectors.values()), float), binary=True)
    return path


def run_json(capsys, argv):
    assert main(argv + ["--json"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    return json.loads(out)


def test_cluster_table_and_json(capsys, documents):
    vecs, labels = documents
    assert main(["cluster", str(vecs), str(labels), "--k", "4", "--runs", "2",
                 "--method", "skmeans"]) == 0
    table = capsys.readouterr().out
    assert "skmeans, k=4, 2 runs" in table and "NMI" in table and " ± " in table
    result = run_json(capsys, ["cluster", str(vecs), str(labels), "--k", "4", "--runs", "2"])
    assert result["method"] == "kmeans" and result["n"] == 40
    # Rows were reordered by their integer keys, so the labels line up.
    assert result["scores"]["ari"]["mean"] == pytest.approx(1.0)
    assert len(result["scores"]["nmi"]["per_run"]) == 2


def test_classify(capsys, documents):
    vecs, labels = documents
    assert main(["classify", str(vecs), str(labels), "--train-n", "30"]) == 0
    assert "Macro-F1" in capsys.readouterr().out
    result = run_json(capsys, ["classify", str(vecs), str(labels), "--train-n", "30", "--k", "1"])
    assert (result["n_train"], result["n_test"], result["k"]) == (30, 10, 1)
    assert 0 <= result["macro_f1"] <= 1


def test_similarity(capsys, tmp_path, words):
    first = tmp_path / "ws.txt"
    first.write_bytes(b"KING\tqueen\t9\r\nman\tapple\t1\r\nman\twoman\t8\r\nman\tunicorn\t5\r\n")
    second = tmp_path / "one.txt"
    second.write_text("apple pear 9\n")
    assert main(["similarity", str(words), str(first), str(second)]) == 0
    table = capsys.readouterr().out
    assert "ws.txt" in table and "3/4" in table and "n/a" in table
    result = run_json(capsys, ["similarity", str(words), str(first), str(second)])
    first_result, second_result = result["results"]
    assert first_result["spearman"] == pytest.approx(1.0)
    assert (first_result["pairs_covered"], first_result["pairs_total"]) == (3, 4)
    assert second_result["spearman"] is None  # one pair: no correlation, null in JSON


def test_analogy(capsys, tmp_path, words):
    questions = tmp_path / "q.txt"
    questions.write_text(": family\nman woman king queen\nman woman king unicorn\n")
    assert main(["analogy", str(words), str(questions)]) == 0
    assert "TOTAL" in capsys.readouterr().out
    result = run_json(capsys, ["analogy", str(words), str(questions), "--method", "3cosmul"])
    assert (result["correct"], result["covered"], result["total"]) == (1, 1, 2)
    assert result["per_section"]["family"]["accuracy"] == 1.0


def expect_error(capsys, argv, *fragments):
    assert main(argv) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("jose-eval: error: ")
    for fragment in fragments:
        assert fragment in lines[0]
    assert "Traceback" not in captured.err


def test_error_missing_file(capsys, tmp_path, documents):
    _, labels = documents
    missing = tmp_path / "missing.txt"
    expect_error(capsys, ["cluster", str(missing), str(labels)], "missing.txt", "No such file")


def test_error_label_count(capsys, tmp_path, documents):
    vecs, _ = documents
    labels = tmp_path / "short.txt"
    labels.write_text("0\n1\n")
    expect_error(capsys, ["classify", str(vecs), str(labels)], "2 labels", "40 document vectors")


def test_error_bad_label(capsys, tmp_path, documents):
    vecs, _ = documents
    labels = tmp_path / "bad.txt"
    labels.write_text("0\nsports\n")
    expect_error(capsys, ["cluster", str(vecs), str(labels)], "bad.txt: line 2")


def test_error_bad_vectors_file(capsys, tmp_path, documents):
    _, labels = documents
    vecs = tmp_path / "bad.txt"
    vecs.write_text("2 3\n0 0.1 0.2 0.3\n1 0.1 0.2\n")
    expect_error(capsys, ["cluster", str(vecs), str(labels)], "bad.txt: line 3")


def test_error_bad_pairs_file(capsys, tmp_path, words):
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("a\tb\t1\nc\td\n")
    expect_error(capsys, ["similarity", str(words), str(pairs)], "pairs.txt: line 2")


def test_error_directory_without_model(capsys, tmp_path, words):
    questions = tmp_path / "q.txt"
    questions.write_text(": s\na b c d\n")
    expect_error(capsys, ["analogy", str(tmp_path), str(questions)], "no model.json")


def test_usage_error_returns_2(capsys):
    assert main(["cluster"]) == 2
    assert "usage:" in capsys.readouterr().err
