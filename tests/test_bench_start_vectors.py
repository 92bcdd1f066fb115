"""Smoke test of benchmarks/bench_start_vectors.py: tiny tables, one round, so
the script does not rot (it times, it asserts nothing about speed)."""
import importlib.util
import re
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_start_vectors.py"


def test_smoke(capsys):
    spec = importlib.util.spec_from_file_location("bench_start_vectors", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(["--repeat", "1", "--sizes", "100x3", "40000x2"])
    out = capsys.readouterr().out
    assert len(re.findall(r"workers [12]: median \d+\.\d+ s", out)) == 4
    assert len(re.findall(r"1 -> 2 workers: \d+\.\d+x", out)) == 2
