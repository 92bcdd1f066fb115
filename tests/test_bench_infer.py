"""Smoke test of benchmarks/bench_infer.py on a tiny planted stand-in for 20news
(not a benchmark: it keeps the harness from rotting)."""
import gzip
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from planted import planted_corpus

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def data(tmp_path):
    docs, labels, _ = planted_corpus(seed=0, docs_per_topic=60, doc_len=20)
    news = tmp_path / "data" / "20news"
    news.mkdir(parents=True)
    lines = [" ".join(d) for d in docs]
    lines[3] = ""                                  # an empty document, as 20news has
    with gzip.open(news / "text.txt.gz", "wt") as f:
        f.write("\n".join(lines) + "\n")
    np.savetxt(news / "label.txt", labels, fmt="%d")
    (news / "split.txt").write_text("".join("train\n" if i < 150 else "test\n"
                                            for i in range(len(docs))))
    return tmp_path / "data"


def test_bench_infer_smoke(data, tmp_path, monkeypatch):
    pytest.importorskip("gensim")
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    spec = importlib.util.spec_from_file_location("bench_infer", REPO / "benchmarks" / "bench_infer.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    monkeypatch.setattr(bench, "PAPER", dict(bench.PAPER, vector_size=16, min_count=1))
    out = tmp_path / "results"
    bench.main(["--data", str(data), "--epochs", "2", "--runs", "1", "--out", str(out)])
    result = json.loads((out / "infer.json").read_text())
    systems = [(s["system"], s["workers"]) for s in result["speed"]]
    assert systems == [("jose infer_vectors", 1), ("jose infer_vectors", 2),
                       ("jose infer_vectors, 3 epochs", 1), ("jose infer_vector loop", 1),
                       ("gensim Doc2Vec infer_vector loop", 1)]
    assert result["fast_epochs"] == 3 and 0 <= result["knn_inferred_test_fast"]["macro_f1"] <= 1
    assert result["same_at_1_and_2_workers"] and result["loop_equals_batch"]
    assert [m["rows"] for m in result["memory"]] == [240, 960]
    assert "3-NN" in (out / "infer.md").read_text()
    assert "Equal quality instead of equal epochs" in (out / "infer.md").read_text()
