"""Smoke test of benchmarks/bench_end_to_end.py on a tiny corpus: the harness
runs jose-train in child processes, times its phases and compares outputs."""
import importlib.util
import json
import random
from pathlib import Path

import jose

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "benchmarks" / "bench_end_to_end.py"


def test_smoke(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("bench_end_to_end", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    rng = random.Random(0)
    words = [f"w{i}" for i in range(40)]
    corpus = tmp_path / "tiny.txt"
    corpus.write_text("\n".join(" ".join(rng.choice(words) for _ in range(12))
                                for _ in range(200)) + "\n")
    home = Path(jose.__file__).resolve().parent.parent      # the jose this process imports
    out = tmp_path / "e2e"
    assert bench.main(["--corpus", str(corpus), "--epochs", "1", "--repeats", "1",
                       "--threads", "1", "2", "--tree", f"this={home}", "--no-compile",
                       "--extra", "--size 8 --min-count 1", "--out", str(out)]) == 0
    report = json.loads(out.with_suffix(".json").read_text())
    assert [r["threads"] for r in report["runs"]] == [1, 2]
    for run in report["runs"]:
        assert run["wall"] > 0 and set(run["outputs"]) == {"tiny.words.txt", "tiny.docs.txt"}
        for phase in ("import", "count", "vocab", "encode", "init", "train", "write"):
            assert run["phases"][phase] > 0, phase
    assert report["threads1_identical"] == {"this": True}
    assert "speedup_of_medians" in report["summary"]["this/2"]
    assert "| this | 1 → 2 |" in out.with_suffix(".md").read_text()
