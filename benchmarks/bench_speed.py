#!/usr/bin/env python3
"""Training speed and memory of jose, gensim Doc2Vec and the JoSE C program.

Trains on one corpus with the JoSE paper's settings (100-d, window 10,
2 negatives, margin 0.15, alpha 0.04, sample 1e-3, min_count 5) for --epochs
passes, at each --workers count, and reports per configuration:

* words/s: in-vocabulary corpus words x epochs / training wall seconds (the
  JoSE program's own measure), and the same per CPU-second of training;
* training wall and CPU seconds, set-up ("vocab") seconds, peak RSS.

Every configuration runs in a fresh child process, so peak RSS (from
os.wait4's rusage) is that configuration's alone and no run warms another.

* jose: the child trains as jose-train does, JoSE.build_vocab(corpus_file=...)
  then JoSE.train(); the progress hook of build_vocab marks where counting
  ends and encoding starts, so set-up, counting, encoding and training are
  timed apart.
* gensim (if installed, unless --no-gensim): Doc2Vec(dm=0, dbow_words=1, hs=0)
  with the same dimension/window/negative/sample/min_count, on an in-memory
  list of TaggedDocuments read from the same file (tokens split on ASCII
  whitespace, like jose). Note gensim trains at most 10,000 words of a
  document; the JSON reports how many words that cut.
* the JoSE C program, with --reference-binary PATH: run on a decompressed copy
  of the corpus with -debug 2, whose progress lines (flushed every 10,000
  words) mark when training starts and ends; CPU time at those moments is read
  from /proc/PID/stat. Words = jose's in-vocabulary count x epochs.

Usage (from the repository root):
    python benchmarks/bench_speed.py [--corpus PATH] [--epochs N] [--workers 1 2]
        [--reference-binary PATH] [--no-gensim] [--repeat N] [--out benchmarks/results]

Writes OUT/speed.md and OUT/speed.json. Building the JoSE C program for
--reference-binary: see benchmarks/README.md.
"""
from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import importlib.util
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
from local_jose import child_env, use_local_build  # noqa: E402
DEFAULT_CORPUS = REPO.parent / "shared" / "data" / "20news" / "text.txt.gz"
DEFAULT_OUT = HERE / "results"

# The JoSE paper's training settings.
PAPER = dict(size=100, window=10, negative=2, margin=0.15, alpha=0.04, sample=1e-3,
             min_count=5)

# Targets of the speed issue (ratios on a 2-core machine), and the figures it
# quotes for this machine, used only when the system was not measured here.
TARGET_VS_REFERENCE = 3.0       # jose words per CPU-s / the JoSE C program's
GOAL_VS_REFERENCE = 5.0
TARGET_SPEEDUP = 1.8            # jose words/s at 2 workers / at 1 worker
TARGET_VS_GENSIM = 1.0          # jose words per CPU-s / gensim's
TARGET_RSS_MB = 150.0           # jose peak RSS on 20 Newsgroups
QUOTED_REFERENCE_WPCS = 99e3    # JoSE C program, in-vocabulary words per CPU-s
QUOTED_GENSIM_RAW_WPCS = 175e3  # gensim dbow_words, raw words per CPU-s

RESULT_MARK = "BENCH_RESULT "
GENSIM_MAX_DOC_WORDS = 10000    # gensim's MAX_WORDS_IN_BATCH cut per document


# -- small helpers --------------------------------------------------------------

def proc_status_mb(field: str):
    """VmHWM / VmRSS of this process in MB, from /proc/self/status (None off Linux)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def maxrss_mb(ru_maxrss: int) -> float:
    return ru_maxrss / (1024.0 * 1024.0 if sys.platform == "darwin" else 1024.0)


def proc_hwm_mb(pid: int):
    """VmHWM of a running process in MB (None if it is gone or off Linux)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def proc_cpu_seconds(pid: int):
    """User + system CPU seconds of a running process, from /proc/PID/stat."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def open_corpus(path: str):
    """Binary stream of a corpus file, decompressed as jose does."""
    from jose.textcorpus import open_text
    return open_text(path)


# -- child processes ----------------------------------------------------------------

def child_jose(corpus: str, epochs: int, workers: int) -> dict:
    """Train jose the way jose-train does, timing each phase."""
    t_start = time.perf_counter()
    import numpy as np  # noqa: F401
    from jose import _core
    from jose.model import JoSE
    out = {"import_s": time.perf_counter() - t_start, "rss_after_import_mb": proc_status_mb("VmRSS"),
           "openmp": bool(_core.openmp_enabled())}
    p = PAPER
    model = JoSE(vector_size=p["size"], window=p["window"], negative=p["negative"],
                 margin=p["margin"], alpha=p["alpha"], sample=p["sample"],
                 min_count=p["min_count"], epochs=epochs, workers=workers, seed=1)
    started = {}

    def mark(phase, n_bytes):
        if n_bytes == 0:          # a pass over the file begins
            started[phase] = time.perf_counter()
            out[f"rss_before_{phase}_mb"] = proc_status_mb("VmRSS")
    t0 = time.perf_counter()
    model.build_vocab(corpus_file=corpus, progress=mark)
    t1 = time.perf_counter()
    data = model.encoded_corpus
    out["rss_before_train_mb"] = proc_status_mb("VmRSS")
    out["hwm_before_train_mb"] = proc_status_mb("VmHWM")
    c0 = time.process_time()
    t2 = time.perf_counter()
    model.train()
    t3 = time.perf_counter()
    c1 = time.process_time()
    model.release_corpus()
    # encode_s includes the random initialisation of the vectors
    out.update(count_s=started["encoding"] - t0, encode_s=t1 - started["encoding"],
               vocab_s=t1 - t0, train_s=t3 - t2, train_cpu_s=c1 - c0,
               words_in_vocab=int(data.n_tokens), words_raw=int(model.corpus_total_words),
               n_docs=int(data.n_docs), vocab_size=len(model.vocab),
               threads=int(model.workers), peak_rss_self_mb=proc_status_mb("VmHWM"))
    return out


def read_tagged_documents(corpus: str):
    """One TaggedDocument per line (every line, like jose), split on ASCII whitespace."""
    from gensim.models.doc2vec import TaggedDocument
    docs = []
    with open_corpus(corpus) as f:
        data = f.read()
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    del data
    for i, line in enumerate(lines):
        docs.append(TaggedDocument([w.decode("utf-8", "replace") for w in line.split()], [i]))
    return docs


def child_gensim(corpus: str, epochs: int, workers: int) -> dict:
    t_start = time.perf_counter()
    import gensim
    from gensim.models.doc2vec import Doc2Vec
    out = {"import_s": time.perf_counter() - t_start, "rss_after_import_mb": proc_status_mb("VmRSS"),
           "gensim_version": gensim.__version__}
    p = PAPER
    t0 = time.perf_counter()
    docs = read_tagged_documents(corpus)
    t1 = time.perf_counter()
    lengths = [len(d.words) for d in docs]
    out["words_raw"] = sum(lengths)
    out["words_cut_by_gensim"] = sum(max(0, n - GENSIM_MAX_DOC_WORDS) for n in lengths)
    model = Doc2Vec(dm=0, dbow_words=1, hs=0, vector_size=p["size"], window=p["window"],
                    negative=p["negative"], sample=p["sample"], min_count=p["min_count"],
                    epochs=epochs, workers=workers, seed=1)
    model.build_vocab(docs)
    t2 = time.perf_counter()
    out["words_in_vocab"] = int(sum(model.wv.get_vecattr(w, "count") for w in model.wv.index_to_key))
    out["vocab_size"] = len(model.wv)
    out["n_docs"] = len(docs)
    out["rss_before_train_mb"] = proc_status_mb("VmRSS")
    c0 = time.process_time()
    t3 = time.perf_counter()
    model.train(docs, total_examples=len(docs), epochs=epochs)
    t4 = time.perf_counter()
    c1 = time.process_time()
    out.update(load_s=t1 - t0, build_vocab_s=t2 - t1, vocab_s=t2 - t0, train_s=t4 - t3,
               train_cpu_s=c1 - c0, threads=workers, peak_rss_self_mb=proc_status_mb("VmHWM"))
    return out


CHILDREN = {"jose": child_jose, "gensim": child_gensim}


def child_main(system: str, corpus: str, epochs: int, workers: int) -> int:
    result = CHILDREN[system](corpus, epochs, workers)
    sys.stdout.write(RESULT_MARK + json.dumps(result) + "\n")
    sys.stdout.flush()
    return 0


# -- running children ------------------------------------------------------------------

def wait_rusage(proc: subprocess.Popen):
    """Wait for `proc`; return its own rusage (None where os.wait4 is missing)."""
    if not hasattr(os, "wait4"):
        proc.wait()
        return None
    while True:
        try:
            _, status, usage = os.wait4(proc.pid, 0)
            break
        except InterruptedError:
            continue
    proc.returncode = os.waitstatus_to_exitcode(status)
    return usage


def run_python_child(system: str, corpus: str, epochs: int, workers: int) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", system,
           "--corpus", corpus, "--epochs", str(epochs), "--workers", str(workers)]
    return run_marked_child(cmd, f"{system} child (workers={workers})")


def run_marked_child(cmd: list, what: str) -> dict:
    """Run a benchmark child, wait for it (rusage) and return the JSON it
    printed after RESULT_MARK, with its wall time and resource usage added;
    a child that failed or printed no result is a RuntimeError naming `what`."""
    start = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=child_env())
        usage = wait_rusage(proc)
        wall = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", "replace")
        stderr = err.read().decode("utf-8", "replace")
    result = None
    for line in stdout.splitlines():
        if line.startswith(RESULT_MARK):
            result = json.loads(line[len(RESULT_MARK):])
    if proc.returncode != 0 or result is None:
        raise RuntimeError(f"{what} failed with exit status {proc.returncode}:\n"
                           f"{stderr[-3000:]}")
    result["process_wall_s"] = wall
    add_usage(result, usage, result.get("peak_rss_self_mb"))
    return result


def add_usage(result: dict, usage, hwm_mb) -> None:
    """Peak RSS and CPU seconds of a finished child.

    Peak RSS is the child's own VmHWM where known: on Linux, rusage's ru_maxrss
    (os.wait4, RUSAGE_CHILDREN) also counts the parent's resident size at the
    moment of fork + exec, so a child of a big parent (a pytest run, this
    script after importing gensim) would report at least the parent's size.
    """
    if usage is not None:
        result["process_cpu_s"] = usage.ru_utime + usage.ru_stime
        result["ru_maxrss_mb"] = maxrss_mb(usage.ru_maxrss)
    result["peak_rss_mb"] = hwm_mb if hwm_mb is not None else result.get("ru_maxrss_mb")


_PROGRESS = re.compile(rb"Alpha: [0-9.]+.*?Progress: ([0-9.]+)%\s+Words/thread/sec: ([0-9.]+)k")


def run_reference(binary: str, plain_corpus: str, epochs: int, workers: int,
                  words_in_vocab: int, scratch: str) -> dict:
    """Run the JoSE C program; split set-up from training by its progress lines."""
    cmd = [binary, "-train", plain_corpus,
           "-word-output", os.path.join(scratch, "w.txt"),
           "-doc-output", os.path.join(scratch, "d.txt"),
           "-size", str(PAPER["size"]), "-window", str(PAPER["window"]),
           "-negative", str(PAPER["negative"]), "-margin", str(PAPER["margin"]),
           "-alpha", str(PAPER["alpha"]), "-sample", str(PAPER["sample"]),
           "-min-count", str(PAPER["min_count"]), "-iter", str(epochs),
           "-threads", str(workers), "-debug", "2"]
    marks = []     # (wall time, cpu seconds, progress %, self-reported k words/thread/s)
    tail = bytearray()
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def reader():
        fd = proc.stdout.fileno()
        carry = b""
        while True:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                return
            now = time.perf_counter()
            found = list(_PROGRESS.finditer(carry + chunk))
            if found:
                last = found[-1]
                marks.append((now, proc_cpu_seconds(proc.pid), float(last.group(1)),
                              float(last.group(2))))
                carry = (carry + chunk)[last.end():]
            else:
                carry = (carry + chunk)[-400:]
            tail.extend(chunk)
            del tail[:-2000]

    hwm = []
    done = threading.Event()

    def poll_memory():    # VmHWM only grows: the last reading is the peak so far
        while not done.is_set():
            value = proc_hwm_mb(proc.pid)
            if value is not None:
                hwm.append(value)
                del hwm[:-1]
            done.wait(0.02)

    threads = [threading.Thread(target=f, daemon=True) for f in (reader, poll_memory)]
    for thread in threads:
        thread.start()
    usage = wait_rusage(proc)
    end = time.perf_counter()
    done.set()
    for thread in threads:
        thread.join()
    proc.stdout.close()
    if proc.returncode != 0:
        raise RuntimeError(f"{binary} failed with exit status {proc.returncode}: "
                           f"{bytes(tail[-500:]).decode('utf-8', 'replace')}")
    result = {"process_wall_s": end - start, "words_in_vocab": words_in_vocab,
              "threads": workers, "command": cmd}
    add_usage(result, usage, hwm[-1] if hwm else None)
    first = next((m for m in marks if m[1] is not None), None)
    last = next((m for m in reversed(marks) if m[1] is not None), None)
    if first is not None and last is not None and last[2] > first[2]:
        fraction = (last[2] - first[2]) / 100.0
        # the progress marks bracket all but ~10,000 words per thread at each end;
        # scale the time between them up to the whole run
        result["train_s"] = (last[0] - first[0]) / fraction
        result["train_cpu_s"] = (last[1] - first[1]) / fraction
        result["vocab_s"] = first[0] - start - result["train_s"] * first[2] / 100.0
        result["self_reported_words_per_cpu_s"] = last[3] * 1e3
        result["progress_marks"] = len(marks)
    else:   # too short to see progress lines: whole-process figures
        result["train_s"] = end - start
        result["train_cpu_s"] = result.get("process_cpu_s", end - start)
        result["vocab_s"] = None
        result["note"] = "no progress lines seen: train figures are whole-process"
    return result


def plain_copy(corpus: str, scratch: str) -> str:
    """A plain-text copy of the corpus for the C program (which reads plain text
    only and copies its -train path into a 100-byte buffer)."""
    path = os.path.join(scratch, "corpus.txt")
    with open_corpus(corpus) as src, open(path, "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
    return path


# -- the report ---------------------------------------------------------------------------

def add_rates(row: dict, epochs: int) -> dict:
    words = row["words_in_vocab"] * epochs
    row["words_per_s"] = words / row["train_s"] if row["train_s"] > 0 else None
    row["words_per_cpu_s"] = words / row["train_cpu_s"] if row["train_cpu_s"] > 0 else None
    raw = row.get("words_raw")
    if raw:
        row["raw_words_per_s"] = raw * epochs / row["train_s"] if row["train_s"] > 0 else None
        row["raw_words_per_cpu_s"] = (raw * epochs / row["train_cpu_s"]
                                      if row["train_cpu_s"] > 0 else None)
    return row


def add_speedups(rows: list) -> None:
    for row in rows:
        base = next((r for r in rows if r["system"] == row["system"] and r["workers"] == 1), None)
        row["speedup"] = (row["words_per_s"] / base["words_per_s"]
                          if base and base.get("words_per_s") and row.get("words_per_s") else None)


def _n(x, digits=0):
    if x is None:
        return "–"
    return f"{x:,.{digits}f}"


COLUMNS = ["system", "workers", "words/s", "words per CPU-s", "speed-up vs 1 worker",
           "train s", "CPU s", "vocab s", "peak RSS MB", "raw words per CPU-s"]


def markdown_table(rows: list) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |",
             "|" + "|".join(["---"] + ["---:"] * (len(COLUMNS) - 1)) + "|"]
    for r in rows:
        cells = [r["label"], str(r["workers"]), _n(r.get("words_per_s")),
                 _n(r.get("words_per_cpu_s")),
                 f"{r['speedup']:.2f}×" if r.get("speedup") else "–",
                 _n(r.get("train_s"), 2), _n(r.get("train_cpu_s"), 2),
                 _n(r.get("vocab_s"), 2), _n(r.get("peak_rss_mb"), 1),
                 _n(r.get("raw_words_per_cpu_s"))]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _pick(rows, system, workers=None):
    candidates = [r for r in rows if r["system"] == system
                  and (workers is None or r["workers"] == workers)]
    return min(candidates, key=lambda r: r["workers"]) if candidates else None


def check_targets(rows: list, corpus_name: str) -> list:
    """[(status, text)] for each target; status is PASS, FAIL or SKIP."""
    checks = []
    jose1 = _pick(rows, "jose")
    if jose1 is None:
        return [("SKIP", "no jose run")]
    w = jose1["workers"]
    ref = _pick(rows, "reference", w)
    if ref and ref.get("words_per_cpu_s"):
        ratio = jose1["words_per_cpu_s"] / ref["words_per_cpu_s"]
        status = "PASS" if ratio >= TARGET_VS_REFERENCE else "FAIL"
        goal = "goal met" if ratio >= GOAL_VS_REFERENCE else f"goal {GOAL_VS_REFERENCE:g}× not met"
        checks.append((status, f"jose per-thread throughput vs the JoSE C program "
                               f"({w} worker(s), words per CPU-s): {ratio:.2f}× "
                               f"(target ≥ {TARGET_VS_REFERENCE:g}×, {goal})"))
    else:
        ratio = jose1["words_per_cpu_s"] / QUOTED_REFERENCE_WPCS
        checks.append(("SKIP", f"jose per-thread throughput vs the JoSE C program: not measured "
                               f"(no --reference-binary); vs the issue's quoted "
                               f"{QUOTED_REFERENCE_WPCS / 1e3:.0f}K words per CPU-s: {ratio:.2f}× "
                               f"(target ≥ {TARGET_VS_REFERENCE:g}×, goal {GOAL_VS_REFERENCE:g}×)"))
    gen = _pick(rows, "gensim", w)
    if gen and gen.get("words_per_cpu_s"):
        ratio = jose1["words_per_cpu_s"] / gen["words_per_cpu_s"]
        status = "PASS" if ratio > TARGET_VS_GENSIM else "FAIL"
        checks.append((status, f"jose vs gensim Doc2Vec dbow_words per core ({w} worker(s), "
                               f"in-vocabulary words per CPU-s): {ratio:.2f}× (target > 1×)"))
    else:
        raw = jose1.get("raw_words_per_cpu_s") or jose1["words_per_cpu_s"]
        checks.append(("SKIP", f"jose vs gensim per core: gensim not measured; jose's raw words "
                               f"per CPU-s vs the issue's quoted {QUOTED_GENSIM_RAW_WPCS / 1e3:.0f}K: "
                               f"{raw / QUOTED_GENSIM_RAW_WPCS:.2f}× (target > 1×)"))
    jose2 = _pick(rows, "jose", 2)
    if jose2 and jose2.get("speedup"):
        status = "PASS" if jose2["speedup"] >= TARGET_SPEEDUP else "FAIL"
        checks.append((status, f"jose speed-up from 1 to 2 workers (words/s): "
                               f"{jose2['speedup']:.2f}× (target ≥ {TARGET_SPEEDUP:g}×)"))
    else:
        checks.append(("SKIP", "jose speed-up from 1 to 2 workers: needs --workers 1 2"))
    peaks = [r["peak_rss_mb"] for r in rows if r["system"] == "jose" and r.get("peak_rss_mb")]
    if peaks:
        peak = max(peaks)
        status = "PASS" if peak <= TARGET_RSS_MB else "FAIL"
        where = "" if corpus_name.startswith("20news") else \
            f" (target is for 20news; this corpus is {corpus_name})"
        checks.append((status, f"jose peak RSS: {peak:.1f} MB (target ≤ {TARGET_RSS_MB:g} MB)"
                               f"{where}"))
    return checks


def machine_info() -> dict:
    import numpy
    import jose
    info = {"cpu_model": cpu_model(), "cpu_count": os.cpu_count(),
            "python": platform.python_version(), "numpy": numpy.__version__,
            "jose": getattr(jose, "__version__", "?"), "jose_path": str(Path(jose.__file__).parent),
            "platform": platform.platform(),
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
    try:
        info["cores_available"] = len(os.sched_getaffinity(0))
    except AttributeError:
        pass
    try:
        from jose import _core
        info["jose_openmp"] = bool(_core.openmp_enabled())
    except (ImportError, AttributeError):
        pass
    info["gensim"] = gensim_version()
    return info


def gensim_version():
    """gensim's version if it is installed, without importing it here."""
    if importlib.util.find_spec("gensim") is None:
        return None
    try:
        return importlib.metadata.version("gensim")
    except importlib.metadata.PackageNotFoundError:
        return "?"


def loadavg():
    try:
        return list(os.getloadavg())
    except (AttributeError, OSError):
        return None


def corpus_label(corpus: str) -> str:
    p = Path(corpus).resolve()
    return f"{p.parent.name}/{p.name}"


def render_markdown(report: dict) -> str:
    m = report["machine"]
    lines = [f"# Training speed: {report['corpus_label']}, {report['epochs']} epoch(s)", "",
             f"- CPU: {m['cpu_model']}, {m['cpu_count']} logical cores"
             + (f" ({m['cores_available']} available)" if "cores_available" in m else ""),
             f"- Python {m['python']}, NumPy {m['numpy']}, jose {m['jose']} (from {m['jose_path']})"
             + (f", gensim {m['gensim']}" if m.get("gensim") else "")
             + f"; {m['date']}",
             f"- Load average before / after: {report.get('loadavg_before')} / "
             f"{report.get('loadavg_after')}",
             f"- Command: `{report['command']}`",
             f"- Settings: {', '.join(f'{k} {v}' for k, v in PAPER.items())}", "",
             "words/s and words per CPU-s count in-vocabulary corpus words × epochs over the "
             "training phase only (the JoSE program's measure); raw words per CPU-s counts every "
             "token. vocab s is all set-up before training (jose: count + encode + init; gensim: "
             "reading the file into memory + build_vocab; C program: vocabulary, init and "
             "negative table). Peak RSS is the whole process's.", "",
             markdown_table(report["rows"]), ""]
    for status, text in report["targets"]:
        lines.append(f"- **{status}** {text}")
    for note in report.get("notes", []):
        lines.append(f"- note: {note}")
    return "\n".join(lines) + "\n"


# -- main ---------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--corpus", default=str(DEFAULT_CORPUS),
                   help="training corpus, one document per line (default: %(default)s)")
    p.add_argument("--epochs", type=int, default=1, help="passes over the corpus (default 1)")
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2],
                   help="worker thread counts to run (default: 1 2)")
    p.add_argument("--reference-binary", metavar="PATH",
                   help="a build of the JoSE C program (jose.c) to measure as well")
    p.add_argument("--no-gensim", action="store_true", help="skip gensim Doc2Vec")
    p.add_argument("--repeat", type=int, default=1,
                   help="runs per configuration; the fastest training is reported (default 1)")
    p.add_argument("--out", default=str(DEFAULT_OUT),
                   help="directory for speed.md and speed.json (default: %(default)s)")
    p.add_argument("--child", choices=sorted(CHILDREN), help=argparse.SUPPRESS)
    return p


def _best(runs: list) -> dict:
    best = dict(min(runs, key=lambda r: r["train_s"]))
    if len(runs) > 1:
        best["all_train_s"] = [r["train_s"] for r in runs]
    return best


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.child:
        return child_main(args.child, args.corpus, args.epochs, args.workers[0])
    if args.epochs < 1 or args.repeat < 1 or any(w < 1 for w in args.workers):
        print("bench_speed: --epochs, --repeat and --workers must be positive", file=sys.stderr)
        return 2
    corpus = str(Path(args.corpus).resolve())
    if not os.path.isfile(corpus):
        print(f"bench_speed: corpus {corpus} not found", file=sys.stderr)
        return 2
    if args.reference_binary and not os.access(args.reference_binary, os.X_OK):
        print(f"bench_speed: {args.reference_binary} is not an executable", file=sys.stderr)
        return 2
    use_local_build()   # an in-place build in the source tree wins over an installed jose
    workers = list(dict.fromkeys(args.workers))
    use_gensim = not args.no_gensim
    notes = []
    if use_gensim and gensim_version() is None:
        use_gensim = False
        notes.append("gensim is not installed (pip install gensim): not measured")

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    report = {"corpus": corpus, "corpus_label": corpus_label(corpus), "epochs": args.epochs,
              "workers": workers, "settings": PAPER, "machine": machine_info(),
              "command": " ".join([Path(sys.executable).name, *sys.argv])
              if argv is None else "bench_speed.py " + " ".join(map(str, argv)),
              "loadavg_before": loadavg()}
    rows = []
    systems = [("jose", "jose")] + ([("gensim", "gensim Doc2Vec dbow_words")] if use_gensim else [])
    for system, label in systems:
        for w in workers:
            runs = []
            for i in range(args.repeat):
                log(f"[bench_speed] {label}, workers={w}, run {i + 1}/{args.repeat} ...")
                runs.append(run_python_child(system, corpus, args.epochs, w))
            rows.append(add_rates(dict(_best(runs), system=system, label=label, workers=w),
                                  args.epochs))
    if args.reference_binary:
        jose_row = _pick(rows, "jose")
        with tempfile.TemporaryDirectory(prefix="jb") as scratch:
            plain = plain_copy(corpus, scratch)
            for w in workers:
                runs = []
                for i in range(args.repeat):
                    log(f"[bench_speed] JoSE C program, workers={w}, run {i + 1}/{args.repeat} ...")
                    runs.append(run_reference(args.reference_binary, plain, args.epochs, w,
                                              jose_row["words_in_vocab"], scratch))
                rows.append(add_rates(dict(_best(runs), system="reference",
                                           label="JoSE C program", words_raw=jose_row["words_raw"],
                                           workers=w), args.epochs))
    add_speedups(rows)
    report["loadavg_after"] = loadavg()
    report["rows"] = rows
    report["targets"] = check_targets(rows, report["corpus_label"])
    for row in rows:
        if row["system"] == "jose" and row["workers"] > 1 and not row.get("openmp", True):
            notes.append("jose was built without OpenMP: every jose run used one thread")
            break
    cut = next((r.get("words_cut_by_gensim") for r in rows if r["system"] == "gensim"), 0)
    if cut:
        notes.append(f"gensim trains at most {GENSIM_MAX_DOC_WORDS:,} words per document: "
                     f"{cut:,} words of longer documents were not trained (counted anyway)")
    report["notes"] = notes
    markdown = render_markdown(report)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "speed.md").write_text(markdown, encoding="utf-8")
    with open(out / "speed.json", "w", encoding="utf-8") as f:
        json.dump(report, f, indent=2)
        f.write("\n")
    print(markdown)
    print(f"wrote {out / 'speed.md'} and {out / 'speed.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
