"""Smoke test of benchmarks/bench_load.py on a tiny model (not a benchmark:
it keeps the harness from rotting)."""
import importlib.util
import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_bench_load_runs(tmp_path):
    spec = importlib.util.spec_from_file_location("bench_load", REPO / "benchmarks" / "bench_load.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.main(["--docs", "50", "--words", "20", "--dim", "4", "--repeat", "1",
                       "--tags", "str", "--out", str(tmp_path / "out"),
                       "--scratch", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "out" / "load.json").read_text())
    assert [(r["format"], r["load"]) for r in report["rows"]] == [
        ("3", "inference_only"), ("3", "full"), ("2", "inference_only"), ("2", "full")]
    assert "| str | this jose | 3 | inference_only |" in (tmp_path / "out" / "load.md").read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]      # scratch removed
