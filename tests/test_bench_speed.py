"""Smoke tests of the speed benchmark harness (benchmarks/bench_speed.py).

Not a benchmark: a tiny generated corpus, one epoch, so the harness does not
rot. The harness is loaded by path (benchmarks/ is not a package) and runs its
children with the jose this process imports, installed or built in place.
"""
import importlib.util
import json
import os
import random
import stat
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "benchmarks" / "bench_speed.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_speed", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def tiny_corpus(tmp_path):
    """A few hundred short lines over 60 words, one empty line among them."""
    rng = random.Random(0)
    words = [f"w{i}" for i in range(60)]
    lines = [" ".join(rng.choice(words) for _ in range(rng.randint(5, 25))) for _ in range(300)]
    lines[7] = ""
    path = tmp_path / "tiny.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


def _positive(row, *keys):
    for key in keys:
        assert isinstance(row[key], (int, float)) and row[key] > 0, (key, row[key])


def test_smoke_jose_only(bench, tiny_corpus, tmp_path, capsys):
    out = tmp_path / "results"
    rc = bench.main(["--corpus", str(tiny_corpus), "--epochs", "1", "--workers", "1",
                     "--no-gensim", "--out", str(out)])
    assert rc == 0
    report = json.loads((out / "speed.json").read_text())
    assert report["epochs"] == 1 and report["workers"] == [1]
    assert report["machine"]["cpu_count"] >= 1 and report["machine"]["cpu_model"]
    (row,) = report["rows"]
    assert row["system"] == "jose" and row["workers"] == 1
    _positive(row, "words_per_s", "words_per_cpu_s", "train_s", "train_cpu_s", "vocab_s",
              "peak_rss_mb", "words_in_vocab", "words_raw")
    assert row["n_docs"] == 300
    assert row["words_in_vocab"] == row["words_raw"]     # every word occurs >= 5 times
    assert row["peak_rss_mb"] < 1000
    markdown = (out / "speed.md").read_text()
    assert "| jose | 1 |" in markdown
    assert "| jose | 1 |" in capsys.readouterr().out
    statuses = {status for status, _ in report["targets"]}
    assert statuses <= {"PASS", "FAIL", "SKIP"}


FAKE_REFERENCE = r'''
import sys, time
args = dict(zip(sys.argv[1::2], sys.argv[2::2]))
open(args["-train"], "rb").read()
print("Starting training using file", args["-train"])
print("100K", end="\r", flush=True)
time.sleep(0.1)                      # "vocabulary"
for p in range(10, 101, 10):
    end = time.process_time() + 0.02
    while time.process_time() < end:  # "training" burns CPU
        pass
    print(f"\rAlpha: 0.040000  Objective (w): 0.1  Objective (d): 0.1  "
          f"Progress: {p:.2f}%  Words/thread/sec: 99.00k  ", end="", flush=True)
for name in ("-word-output", "-doc-output"):
    open(args[name], "w").write("0 100\n")
'''


def test_smoke_reference_binary(bench, tiny_corpus, tmp_path):
    """--reference-binary: command line, phase split and memory, with a stand-in program."""
    script = tmp_path / "fake_jose.py"
    script.write_text(FAKE_REFERENCE)
    binary = tmp_path / "jose"
    binary.write_text(f"#!/bin/sh\nexec '{sys.executable}' '{script}' \"$@\"\n")
    binary.chmod(binary.stat().st_mode | stat.S_IXUSR)
    out = tmp_path / "results"
    rc = bench.main(["--corpus", str(tiny_corpus), "--workers", "1", "--no-gensim",
                     "--reference-binary", str(binary), "--out", str(out)])
    assert rc == 0
    report = json.loads((out / "speed.json").read_text())
    ref = next(r for r in report["rows"] if r["system"] == "reference")
    jose_row = next(r for r in report["rows"] if r["system"] == "jose")
    assert ref["words_in_vocab"] == jose_row["words_in_vocab"]
    _positive(ref, "words_per_s", "words_per_cpu_s", "train_s", "train_cpu_s", "vocab_s",
              "peak_rss_mb")
    assert ref["vocab_s"] >= 0.05          # the stand-in's 0.1 s before training
    assert ref["self_reported_words_per_cpu_s"] == 99000
    cmd = ref["command"]
    for flag, value in [("-size", "100"), ("-window", "10"), ("-negative", "2"),
                        ("-margin", "0.15"), ("-iter", "1"), ("-threads", "1"),
                        ("-min-count", "5")]:
        assert cmd[cmd.index(flag) + 1] == value
    assert "| JoSE C program | 1 |" in (out / "speed.md").read_text()
    assert any("JoSE C program" in text and status in ("PASS", "FAIL")
               for status, text in report["targets"])


def test_smoke_gensim(bench, tiny_corpus, tmp_path):
    pytest.importorskip("gensim")
    out = tmp_path / "results"
    assert bench.main(["--corpus", str(tiny_corpus), "--workers", "1", "--out", str(out)]) == 0
    report = json.loads((out / "speed.json").read_text())
    gen = next(r for r in report["rows"] if r["system"] == "gensim")
    _positive(gen, "words_per_s", "words_per_cpu_s", "raw_words_per_cpu_s", "train_s",
              "peak_rss_mb")
    assert gen["words_raw"] == next(r for r in report["rows"] if r["system"] == "jose")["words_raw"]


def test_targets(bench):
    def row(system, workers, wps, wpcs, rss=100.0):
        return {"system": system, "workers": workers, "words_per_s": wps,
                "words_per_cpu_s": wpcs, "raw_words_per_cpu_s": wpcs, "peak_rss_mb": rss}
    rows = [row("jose", 1, 500e3, 500e3), row("jose", 2, 950e3, 480e3, rss=160.0),
            row("reference", 1, 100e3, 100e3), row("gensim", 1, 400e3, 600e3)]
    bench.add_speedups(rows)
    checks = dict((text.split(":")[0], status)
                  for status, text in bench.check_targets(rows, "20news/text.txt.gz"))
    assert list(checks.values()) == ["PASS", "FAIL", "PASS", "FAIL"]
    assert rows[1]["speedup"] == pytest.approx(1.9)
    only_jose = bench.check_targets(rows[:1], "20news/text.txt.gz")
    assert [status for status, _ in only_jose] == ["SKIP", "SKIP", "SKIP", "PASS"]


def test_bad_arguments(bench, tiny_corpus, tmp_path):
    assert bench.main(["--corpus", str(tmp_path / "missing.txt"), "--out", str(tmp_path)]) == 2
    assert bench.main(["--corpus", str(tiny_corpus), "--epochs", "0", "--out", str(tmp_path)]) == 2
    assert not os.path.exists(tmp_path / "speed.json")
