"""Smoke test of benchmarks/bench_prepare.py: a tiny corpus, one round, this
repository's jose, so the script does not rot (it times; it asserts nothing
about speed)."""
import importlib.util
import random
import re
from pathlib import Path

import jose

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_prepare.py"


def test_smoke(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("bench_prepare", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rng = random.Random(0)
    corpus = tmp_path / "c.txt"
    corpus.write_text("\n".join(" ".join(f"w{rng.randrange(40)}" for _ in range(30))
                                for _ in range(50)) + "\n")
    # the child imports the jose this process imports (installed or built in place)
    tree = Path(jose.__file__).resolve().parents[1]
    out = tmp_path / "prepare.md"
    assert module.main(["--corpus", str(corpus), "--tree", f"t={tree}", "--rounds", "1",
                        "--dim", "8", "--out", str(out)]) == 0
    text = out.read_text()
    assert len(re.findall(r"\| t \| [12] \| \d+\.\d\d \|", text)) == 2
    assert "40 words, 50 documents" in capsys.readouterr().out
