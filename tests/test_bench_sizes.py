"""Smoke tests of the three-sizes benchmark (benchmarks/bench_sizes.py).

Not a benchmark: --quick on tiny stand-ins for the shared corpora, one epoch,
so the script does not rot. Loaded by path (benchmarks/ is not a package);
its children train the jose this process imports, installed or built in place.
"""
import gzip
import importlib.util
import json
import random
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "benchmarks" / "bench_sizes.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_sizes", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _write_gz(path: Path, n_lines: int, seed: int):
    rng = random.Random(seed)
    words = [f"t{i}" for i in range(80)]
    lines = [" ".join(rng.choice(words) for _ in range(rng.randint(5, 40))) for _ in range(n_lines)]
    lines[3] = ""                                     # an empty document, as in 20news
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt") as f:
        f.write("\n".join(lines) + "\n")


@pytest.fixture
def data_dir(tmp_path):
    """Stand-ins for ../shared/data's 20news and wiki_en_sample text files."""
    data = tmp_path / "data"
    _write_gz(data / "20news" / "text.txt.gz", 300, 1)
    _write_gz(data / "wiki_en_sample" / "text.txt.gz", 300, 2)
    return data


def _positive(row, *keys):
    for key in keys:
        assert isinstance(row[key], (int, float)) and row[key] > 0, (key, row[key])


def test_zipf_corpus(bench, tmp_path):
    path, meta = bench.zipf_corpus(tmp_path, vocab=500, tokens=6000, min_occurrences=5,
                                   doc_length=(20, 60), seed=3)
    docs = path.read_bytes().split(b"\n")
    assert docs[-1] == b""
    docs = [d.split() for d in docs[:-1]]
    assert len(docs) == meta["docs"] and sum(map(len, docs)) == 6000
    assert all(20 <= len(d) <= 60 for d in docs[:-1]) and 1 <= len(docs[-1]) <= 60
    counts = {}
    for d in docs:
        for w in d:
            counts[w] = counts.get(w, 0) + 1
    # every word survives min_count=5: the vocabulary after the cut is the whole vocabulary
    assert len(counts) == 500 and min(counts.values()) == 5 == meta["min_count_of_a_word"]
    assert counts[b"w0"] == meta["max_count_of_a_word"] > counts[b"w10"]     # Zipf head
    # cached: a second call returns the file as it is; another directory, same bytes
    mtime = path.stat().st_mtime_ns
    assert bench.zipf_corpus(tmp_path, vocab=500, tokens=6000, min_occurrences=5,
                             doc_length=(20, 60), seed=3)[0].stat().st_mtime_ns == mtime
    (tmp_path / "b").mkdir()
    other, _ = bench.zipf_corpus(tmp_path / "b", vocab=500, tokens=6000, min_occurrences=5,
                                 doc_length=(20, 60), seed=3)
    assert other.read_bytes() == path.read_bytes()
    with pytest.raises(ValueError):
        bench.zipf_corpus(tmp_path, vocab=500, tokens=2000, min_occurrences=5)


def test_prefix_corpus(bench, data_dir, tmp_path):
    src = data_dir / "20news" / "text.txt.gz"
    meta = bench.prefix_corpus(src, 500, tmp_path / "p.txt")
    lines = (tmp_path / "p.txt").read_text().split("\n")[:-1]
    with gzip.open(src, "rt") as f:
        full = f.read().split("\n")
    assert lines == full[:len(lines)] and meta["docs"] == len(lines)
    assert meta["tokens"] == sum(len(x.split()) for x in lines) <= 500
    assert meta["tokens"] + len(full[len(lines)].split()) > 500      # whole lines, as many as fit


def test_parse_perf_csv(bench):
    text = ("# started on Thu Dec  3\n\n"
            "<not supported>,,cycles,0,100.00,,\n"
            "12345,,instructions:u,216765741,100.00,,\n"
            "9284,,page-faults,216765741,100.00,42.830,K/sec\n"
            "216.77,msec,task-clock,216765741,100.00,0.343,CPUs utilized\n"
            "<not counted>,,dTLB-load-misses,0,0.00,,\n")
    assert bench.parse_perf_csv(text) == {
        "cycles": "<not supported>", "instructions": 12345.0, "page-faults": 9284.0,
        "task-clock": 216.77, "dTLB-load-misses": "<not counted>"}
    probe = {"available": True, "counters": {"cycles": "<not supported>"}}
    runs = [{"train_perf": {"counters": {e: "<not supported>" for e in bench.HW_EVENTS}}}]
    assert "<not supported>" in bench.hardware_statement(probe, runs)
    assert "unavailable" in bench.hardware_statement({"available": False, "reason": "x"}, [])


def test_schedule_is_round_robin(bench):
    plan = bench.schedule(["20news", "zipf"], ["jose", "gensim"], [1, 2], 3)
    assert len(plan) == 24
    assert plan[:5] == [(0, "20news", "jose", 1), (0, "20news", "jose", 2),
                        (0, "20news", "gensim", 1), (0, "20news", "gensim", 2),
                        (0, "zipf", "jose", 1)]
    assert [r for r, *_ in plan] == [r for r in range(3) for _ in range(8)]
    assert plan[8:16] == [(1, *c) for _, *c in plan[:8]]


def test_summary_round_robin_ratios(bench):
    runs = []
    for rnd, (j1, j2, g1) in enumerate([(100, 190, 50), (120, 200, 40)]):
        for system, w, wps in [("jose", 1, j1), ("jose", 2, j2), ("gensim", 1, g1)]:
            runs.append({"size": "zipf", "system": system, "workers": w, "repeat": rnd,
                         "words_per_s": wps, "words_per_cpu_s": wps / w, "train_s": 1.0,
                         "train_cpu_s": float(w), "vocab_s": 0.1, "peak_rss_mb": 125.0,
                         "tables_mb": 100.0, "rss_over_tables": 1.25,
                         "train_rusage": {"minor_faults": 1, "major_faults": 0,
                                          "voluntary_switches": 0, "involuntary_switches": 0}})
    s = bench.summarise(runs, ["zipf"], ["jose", "gensim"], [1, 2])
    wps = s["configs"]["zipf/jose/1"]["words_per_s"]
    assert (wps["median"], wps["min"], wps["max"], wps["n"]) == (110, 100, 120, 2)
    r = s["ratios"]["zipf"]
    assert r["jose_over_gensim_per_cpu_s_w1"]["rounds"] == [2.0, 3.0]      # same round
    assert r["jose_speedup_w1_to_w2"]["rounds"] == pytest.approx([1.9, 200 / 120])
    assert "gensim_speedup_w1_to_w2" not in r
    checks = bench.memory_checks(s, ["zipf"], [1, 2], {"zipf": {"dim": 100}})
    assert checks[0][0] == "PASS"


def test_smoke_quick_jose_only(bench, data_dir, tmp_path, capsys):
    out, work = tmp_path / "results", tmp_path / "work"
    rc = bench.main(["--quick", "--data", str(data_dir), "--workdir", str(work),
                     "--out", str(out), "--no-gensim", "--no-perf", "--workers", "1", "2"])
    assert rc == 0
    report = json.loads((out / "sizes.json").read_text())
    assert report["sizes"] == ["20news", "wiki", "zipf"] and report["repeat"] == 1
    assert [(r["size"], r["workers"]) for r in report["runs"]] == [
        (s, w) for s in ("20news", "wiki", "zipf") for w in (1, 2)]
    assert Path(report["jose_origin"]).is_dir()
    for row in report["runs"]:
        _positive(row, "words_per_s", "words_per_cpu_s", "train_s", "train_cpu_s", "vocab_s",
                  "peak_rss_mb", "tables_bytes", "rss_over_tables", "words_in_vocab")
        dim = {"20news": 100, "wiki": 300, "zipf": 100}[row["size"]]
        assert row["tables_bytes"] == (2 * row["vocab_size"] + row["n_docs"]) * dim * 4
        assert row["objective"] == "joint" and row["window"] == 5 and row["negative"] == 2
        assert "train_rusage" in row and "train_perf" not in row
    zipf = next(r for r in report["runs"] if r["size"] == "zipf")
    assert zipf["vocab_size"] == bench.QUICK["zipf_vocab"]          # min_count cut nothing
    assert zipf["words_raw"] == bench.QUICK["zipf_tokens"]
    news = next(r for r in report["runs"] if r["size"] == "20news")
    assert news["n_docs"] == 300                                     # fewer tokens than the cut
    assert report["summary"]["ratios"]["zipf"]["jose_speedup_w1_to_w2"]["n"] == 1
    markdown = (out / "sizes.md").read_text()
    assert "| zipf | jose | 1 |" in markdown and "perf stat unavailable (--no-perf)" in markdown
    assert "| zipf | jose | 2 |" in capsys.readouterr().out
    assert {status for status, _ in report["memory_checks"]} == {"INFO"}


def test_smoke_gensim_and_perf(bench, data_dir, tmp_path):
    """One small size with gensim, and perf stat if there is one; --objective separate."""
    pytest.importorskip("gensim")
    out, work = tmp_path / "results", tmp_path / "work"
    rc = bench.main(["--quick", "--sizes", "zipf", "--data", str(data_dir), "--workdir",
                     str(work), "--out", str(out), "--workers", "1", "--objective", "separate"])
    assert rc == 0
    report = json.loads((out / "sizes.json").read_text())
    assert [r["system"] for r in report["runs"]] == ["jose", "gensim"]
    jose_row, gen = report["runs"][0], report["runs"][1]
    assert jose_row["objective"] == "separate"
    _positive(gen, "words_per_s", "words_per_cpu_s", "train_s", "peak_rss_mb", "tables_bytes")
    assert gen["words_in_vocab"] == jose_row["words_in_vocab"] == bench.QUICK["zipf_tokens"]
    assert gen["vocab_size"] == jose_row["vocab_size"]
    assert gen["tables_bytes"] == jose_row["tables_bytes"]           # same shapes, float32
    ratio = report["summary"]["ratios"]["zipf"]["jose_over_gensim_per_cpu_s_w1"]
    assert len(ratio["rounds"]) == 1
    if report["perf_probe"]["available"]:
        counters = jose_row["train_perf"]["counters"]
        assert isinstance(counters["task-clock"], float)
        assert set(bench.HW_EVENTS) <= set(counters)
    assert "| zipf | gensim Doc2Vec dbow_words | 1 |" in (out / "sizes.md").read_text()


def test_prepare_only_and_bad_arguments(bench, data_dir, tmp_path, capsys):
    work = tmp_path / "work"
    assert bench.main(["--quick", "--prepare-only", "--data", str(data_dir),
                       "--workdir", str(work)]) == 0
    printed = capsys.readouterr().out
    assert "zipf:" in printed and len(list(work.glob("*.txt"))) == 3
    assert bench.main(["--quick", "--data", str(tmp_path / "none"), "--workdir", str(work),
                       "--sizes", "wiki", "--out", str(tmp_path / "o")]) == 2
    assert bench.main(["--epochs", "0", "--out", str(tmp_path / "o")]) == 2
    assert not (tmp_path / "o" / "sizes.json").exists()
    shutil.rmtree(work)
