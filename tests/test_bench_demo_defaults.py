"""Smoke test of benchmarks/demo_corpus_defaults.py (round 2 vs round 3
defaults on the packaged demo corpus): one seed, so the script does not rot.
Not a benchmark; the study itself runs 5 seeds."""
import importlib.util
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_smoke_one_seed(capsys):
    spec = importlib.util.spec_from_file_location(
        "demo_corpus_defaults", REPO / "benchmarks" / "demo_corpus_defaults.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(["--seeds", "1"])
    rows = [line for line in capsys.readouterr().out.splitlines()
            if line.startswith("| ") and not line.startswith("| settings")]
    assert len(rows) == len(module.SETTINGS)
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert 10 <= int(cells[1]) <= 20                  # epochs, chosen or given
        assert 0.0 <= float(cells[-1]) <= 1.0             # mean NMI
