"""Smoke test of the before/after harness (benchmarks/bench_ab.py).

Not a benchmark: a tiny generated corpus, one round, so the harness does not
rot. Both "builds" are the jose this process imports (installed or built in
place), the second run with an environment variable, as `NAME=DIR@KEY=VALUE`
asks.
"""
import gzip
import importlib.util
import random
from pathlib import Path

import pytest

import jose

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "benchmarks" / "bench_ab.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_ab", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_smoke_two_trees_one_with_an_environment(bench, tmp_path, capsys):
    rng = random.Random(0)
    words = [f"w{i}" for i in range(60)]
    corpus = tmp_path / "tiny.txt.gz"
    with gzip.open(corpus, "wt") as f:
        for _ in range(300):
            f.write(" ".join(rng.choice(words) for _ in range(rng.randint(5, 25))) + "\n")
    tree = Path(jose.__file__).resolve().parent.parent
    out = tmp_path / "ab.md"
    rc = bench.main(["--tree", f"a={tree}", "--tree", f"b={tree}@JOSE_KERNEL=generic",
                     "--corpus", str(corpus), "--rounds", "1", "--objective", "joint",
                     "--window", "2", "--dim", "16", "--max-tokens", "2000", "--out", str(out)])
    assert rc == 0
    text = out.read_text()
    assert "paper settings but 16-d" in text and "(first 2,000 tokens)" in text
    assert "with JOSE_KERNEL=generic" in text
    rows = [line for line in text.splitlines() if line.startswith("| a |") or
            line.startswith("| b |")]
    assert len(rows) == 2
    assert rows[0].split("|")[-2].strip().startswith("1.000")
