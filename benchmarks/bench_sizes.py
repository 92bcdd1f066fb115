#!/usr/bin/env python3
"""Training speed and memory of jose and gensim Doc2Vec at three corpus sizes.

Issue 13, part 1 ("measure first, at three sizes"). In one run, for each size:

* 20news: 20 Newsgroups (`20news/text.txt.gz`, 18,846 documents), 100-d;
* wiki:   the Wikipedia sample (`wiki_en_sample/text.txt.gz`, 36,183 articles,
          9.2 M tokens), 300-d; --wiki-tokens N trains on the first whole lines
          holding at most N tokens;
* zipf:   a synthetic corpus with a 1,000,000-word vocabulary, 100-d
          (--zipf-dim): a Zipf body plus min_count occurrences of every word,
          shuffled, cut into documents of 100-500 tokens, generated from a seed
          once and cached in --workdir, so that after the min_count cut the
          vocabulary really is 1 M words and U, V (1 M x 100 float32 = 400 MB
          each) are much bigger than any cache or the TLB's reach;

it trains jose (its defaults but the dimension; --objective) and gensim
Doc2Vec(dm=0, dbow_words=1, hs=0) with the same dimension, window, negatives,
min_count, sample and epochs, at each --workers count, every configuration in
a fresh child process, round-robin: each of --repeat rounds runs every
configuration once. Reported per configuration (median and min-max over the
rounds): in-vocabulary words/s over the training phase, words per CPU-second
of training, training wall and CPU s, set-up s (jose: count + encode + init;
gensim: reading the file into TaggedDocuments + build_vocab), peak RSS (the
child's VmHWM), the size of the tables (jose: U + V + D; gensim: wv + syn1neg
+ dv) and peak RSS / tables (the issue's target: at most tables + 25 %).
Ratios within a round: jose / gensim per CPU-second, and the speed-up of each
system from 1 worker to more.

Counters over the training phase: minor/major page faults and context
switches from getrusage (always), and `perf stat -p CHILD` (when perf is on
PATH) with cycles, instructions, cache-misses, dTLB-load-misses and software
events; a VM without a virtual PMU answers <not supported> for the hardware
events, which the report says.

Usage (from the repository root, package built in place or installed):
    python benchmarks/bench_sizes.py [--sizes 20news wiki zipf] [--workers 1 2]
        [--epochs 1] [--repeat 3] [--no-gensim] [--objective joint|separate]
        [--wiki-tokens N] [--zipf-tokens N] [--zipf-vocab N] [--zipf-dim D]
        [--workdir DIR] [--data DIR] [--out benchmarks/results] [--quick]
        [--prepare-only] [--no-perf]

Writes OUT/sizes.md and OUT/sizes.json (--quick: WORKDIR/quick-results/).
"""
from __future__ import annotations

import argparse
import inspect
import json
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
from bench_speed import (GENSIM_MAX_DOC_WORDS, RESULT_MARK,  # noqa: E402
                         gensim_version, loadavg, machine_info, open_corpus, proc_status_mb,
                         run_marked_child)
from local_jose import jose_origin, use_local_build  # noqa: E402

DEFAULT_OUT = HERE / "results"
DEFAULT_WORKDIR = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "jose-bench"
SIZES = ("20news", "wiki", "zipf")
DIMS = {"20news": 100, "wiki": 300, "zipf": 100}

# The zipf corpus (bump ZIPF_VERSION when the generator's output changes).
ZIPF_VERSION = 1
ZIPF_VOCAB = 1_000_000
ZIPF_TOKENS = 20_000_000
ZIPF_EXPONENT = 1.0
ZIPF_DOC_LENGTH = (100, 500)
ZIPF_SEED = 0

# --quick: tiny versions of the three corpora, for a smoke run.
QUICK = dict(prefix_tokens=20_000, zipf_vocab=3_000, zipf_tokens=40_000)

# The memory target: peak RSS <= tables + 25 %.
TARGET_RSS_OVER_TABLES = 1.25

HW_EVENTS = ("cycles", "instructions", "cache-misses", "dTLB-load-misses")
SW_EVENTS = ("task-clock", "page-faults", "minor-faults", "major-faults",
             "context-switches", "cpu-migrations")
PERF_ATTACH_S = 0.5     # perf stat -p needs a moment to attach before training starts


def log(msg: str) -> None:
    print(f"[bench_sizes] {msg}", file=sys.stderr, flush=True)


def jose_settings() -> dict:
    """jose's defaults for what both systems are given (window, negative, ...)."""
    from jose.model import JoSE
    params = inspect.signature(JoSE.__init__).parameters
    out = {k: params[k].default for k in ("window", "negative", "margin", "alpha", "sample",
                                          "min_count", "objective", "update_rule")}
    if out["sample"] == "auto":
        # the threshold every round so far was measured at (and gensim's default): a
        # stricter one discards more words, which would raise words/s with no
        # faster kernel; both systems get this number
        out["sample"] = 1e-3
    return out


# -- the corpora --------------------------------------------------------------------------

def default_data_dir() -> Path:
    """../shared/data beside the repository; in a git worktree elsewhere, beside the main
    working tree (JOSE_DATA overrides both)."""
    if os.environ.get("JOSE_DATA"):
        return Path(os.environ["JOSE_DATA"])
    here = REPO.parent / "shared" / "data"
    if here.is_dir():
        return here
    try:
        common = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--git-common-dir"],
                                capture_output=True, text=True, check=True).stdout.strip()
        main_tree = (REPO / common).resolve().parent
        if (main_tree.parent / "shared" / "data").is_dir():
            return main_tree.parent / "shared" / "data"
    except (OSError, subprocess.CalledProcessError):
        pass
    return here


def prefix_corpus(src: Path, n_tokens: int, dst: Path) -> dict:
    """Write the first whole lines of `src` holding at most n_tokens tokens (at least one
    line) to `dst` as plain text, once; return its counts."""
    meta_path = dst.with_suffix(".json")
    if dst.is_file() and meta_path.is_file():
        meta = json.loads(meta_path.read_text())
        if meta.get("bytes") == dst.stat().st_size:
            return meta
    tokens = lines = 0
    tmp = dst.with_name(dst.name + f".tmp{os.getpid()}")
    with open_corpus(str(src)) as f, open(tmp, "wb") as out:
        for line in f:
            n = len(line.split())
            if lines and tokens + n > n_tokens:
                break
            if not line.endswith(b"\n"):
                line += b"\n"
            out.write(line)
            tokens += n
            lines += 1
    os.replace(tmp, dst)
    meta = {"source": str(src), "max_tokens": n_tokens, "tokens": tokens, "docs": lines,
            "bytes": dst.stat().st_size}
    meta_path.write_text(json.dumps(meta, indent=1) + "\n")
    return meta


def zipf_corpus(workdir: Path, vocab: int = ZIPF_VOCAB, tokens: int = ZIPF_TOKENS,
                exponent: float = ZIPF_EXPONENT, min_occurrences: int = 5,
                doc_length=ZIPF_DOC_LENGTH, seed: int = ZIPF_SEED):
    """The synthetic corpus: (path, meta), generated once and cached in `workdir`.

    `tokens` token ids: `tokens - vocab * min_occurrences` drawn from a Zipf law
    (P(rank r) proportional to r^-exponent over `vocab` words) plus exactly
    `min_occurrences` of every word, shuffled together (numpy Generator from
    `seed`), so every word survives a min_count cut of `min_occurrences`. Cut into
    documents of uniformly drawn lengths in doc_length (the last one takes what
    is left). Word of rank r (0-based) is written "w<r>".
    """
    import numpy as np
    lo, hi = doc_length
    body = tokens - vocab * min_occurrences
    if body < 0 or vocab < 1 or not 1 <= lo <= hi:
        raise ValueError(f"zipf corpus: {tokens:,} tokens cannot hold {min_occurrences} "
                         f"occurrences of each of {vocab:,} words (or bad document lengths)")
    name = (f"zipf_v{vocab}_t{tokens}_s{exponent:g}_m{min_occurrences}_d{lo}-{hi}"
            f"_seed{seed}_g{ZIPF_VERSION}")
    path, meta_path = workdir / f"{name}.txt", workdir / f"{name}.json"
    if path.is_file() and meta_path.is_file():
        meta = json.loads(meta_path.read_text())
        if meta.get("bytes") == path.stat().st_size:
            return path, meta
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    p = np.arange(1, vocab + 1, dtype=np.float64) ** -float(exponent)
    p /= p.sum()
    ids = np.empty(tokens, dtype=np.int32)
    ids[:body] = rng.choice(vocab, size=body, p=p)
    ids[body:] = np.repeat(np.arange(vocab, dtype=np.int32), min_occurrences)
    rng.shuffle(ids)
    lengths = rng.integers(lo, hi + 1, size=tokens // lo + 1)
    ends = np.cumsum(lengths)
    n_docs = int(np.searchsorted(ends, tokens)) + 1     # the first end >= tokens
    ends = np.minimum(ends[:n_docs], tokens)
    starts = np.concatenate([[0], ends[:-1]])
    words = [f"w{r}".encode() for r in range(vocab)]
    get = words.__getitem__
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    with open(tmp, "wb", buffering=1 << 22) as out:
        for s, e in zip(starts.tolist(), ends.tolist()):
            out.write(b" ".join(map(get, ids[s:e].tolist())))
            out.write(b"\n")
    os.replace(tmp, path)
    counts = np.bincount(ids, minlength=vocab)
    meta = {"vocab": vocab, "tokens": tokens, "exponent": exponent,
            "min_occurrences": min_occurrences, "doc_length": [lo, hi], "seed": seed,
            "generator_version": ZIPF_VERSION, "docs": n_docs, "zipf_body_tokens": body,
            "min_count_of_a_word": int(counts.min()), "max_count_of_a_word": int(counts.max()),
            "words_seen_over_100_times": int((counts > 100).sum()),
            "bytes": path.stat().st_size, "generate_s": round(time.perf_counter() - t0, 2)}
    meta_path.write_text(json.dumps(meta, indent=1) + "\n")
    return path, meta


def prepare_corpora(args, min_count: int) -> dict:
    """{size: {path, label, dim, ...}} for the sizes asked for."""
    args.workdir.mkdir(parents=True, exist_ok=True)
    corpora = {}
    sources = {"20news": args.data / "20news" / "text.txt.gz",
               "wiki": args.data / "wiki_en_sample" / "text.txt.gz"}
    for size in args.sizes:
        if size == "zipf":
            log(f"zipf corpus: {args.zipf_vocab:,} words, {args.zipf_tokens:,} tokens "
                f"(generated once in {args.workdir}) ...")
            path, meta = zipf_corpus(args.workdir, args.zipf_vocab, args.zipf_tokens,
                                     args.zipf_exponent, min_count, tuple(args.zipf_doc_length),
                                     args.zipf_seed)
            label = (f"synthetic Zipf (s={args.zipf_exponent:g}), {args.zipf_vocab:,} words, "
                     f"{args.zipf_tokens:,} tokens, documents of {args.zipf_doc_length[0]}-"
                     f"{args.zipf_doc_length[1]} tokens, seed {args.zipf_seed}")
            corpora[size] = {"path": str(path), "label": label, "dim": args.zipf_dim,
                             "meta": meta}
            continue
        src = sources[size]
        if not src.is_file():
            raise FileNotFoundError(f"{src} not found (give --data DIR, the shared data "
                                    f"directory)")
        limit = args.wiki_tokens if size == "wiki" else None
        if args.quick:
            limit = min(limit or QUICK["prefix_tokens"], QUICK["prefix_tokens"])
        label = f"{src.parent.name}/{src.name}"
        entry = {"path": str(src), "label": label, "dim": DIMS[size], "meta": {}}
        if limit:
            dst = args.workdir / f"{size}_prefix_{limit}.txt"
            meta = prefix_corpus(src, limit, dst)
            entry.update(path=str(dst), meta=meta,
                         label=f"{label}, first {meta['docs']:,} lines ({meta['tokens']:,} "
                               f"tokens, at most {limit:,})")
        corpora[size] = entry
    return corpora


# -- perf stat ----------------------------------------------------------------------------

def parse_perf_csv(text: str) -> dict:
    """{event: number or '<not supported>' / '<not counted>'} from perf stat -x, output."""
    counters = {}
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split(",")
        if len(fields) < 3:
            continue
        value, event = fields[0].strip(), fields[2].strip()
        if not event:
            continue
        event = event.split(":")[0]          # cycles:u -> cycles
        try:
            counters[event] = float(value)
        except ValueError:
            counters[event] = value or "<empty>"
    return counters


def perf_probe(events=HW_EVENTS + SW_EVENTS) -> dict:
    """Can perf stat count these events here? {available, reason, counters, paranoid}."""
    info = {"available": False, "events": list(events)}
    try:
        info["perf_event_paranoid"] = int(Path("/proc/sys/kernel/perf_event_paranoid")
                                          .read_text())
    except (OSError, ValueError):
        pass
    perf = shutil.which("perf")
    if perf is None:
        info["reason"] = "perf is not on PATH"
        return info
    try:
        proc = subprocess.run([perf, "stat", "-x", ",", "-e", ",".join(events), "--", "true"],
                              capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        info["reason"] = f"perf stat failed: {e}"
        return info
    counters = parse_perf_csv(proc.stderr)
    if proc.returncode != 0 or not counters:
        info["reason"] = f"perf stat failed ({proc.returncode}): {proc.stderr.strip()[-300:]}"
        return info
    info.update(available=True, perf=perf, counters=counters,
                hardware_supported=[e for e in HW_EVENTS if isinstance(counters.get(e), float)],
                hardware_unsupported=[e for e in HW_EVENTS
                                      if not isinstance(counters.get(e), float)])
    return info


class PerfStat:
    """perf stat -p PID over a stretch of this process's life (start() ... stop())."""

    def __init__(self, events):
        self.events = list(events)
        self.proc = None
        self.error = None

    def start(self, pid: int, attach_s: float = PERF_ATTACH_S) -> "PerfStat":
        perf = shutil.which("perf")
        if perf is None:
            self.error = "perf is not on PATH"
            return self
        self.out = tempfile.NamedTemporaryFile(prefix="jose-perf-", suffix=".csv", delete=False)
        self.out.close()
        try:
            self.proc = subprocess.Popen(
                [perf, "stat", "-x", ",", "-e", ",".join(self.events), "-p", str(pid),
                 "-o", self.out.name], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        except OSError as e:
            self.error = f"perf stat could not start: {e}"
            return self
        time.sleep(attach_s)
        if self.proc.poll() is not None:
            self.error = (f"perf stat exited ({self.proc.returncode}): "
                          f"{self.proc.stderr.read().decode('utf-8', 'replace').strip()[-300:]}")
        return self

    def stop(self) -> dict:
        result = {"events": self.events}
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGINT)
                try:
                    self.proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
                    self.error = "perf stat did not stop on SIGINT"
            self.proc.stderr.close()
            try:
                result["counters"] = parse_perf_csv(Path(self.out.name).read_text())
            except OSError:
                pass
            finally:
                try:
                    os.unlink(self.out.name)
                except OSError:
                    pass
        if self.error:
            result["error"] = self.error
        return result


# -- child processes ----------------------------------------------------------------------

def rusage_delta(before, after) -> dict:
    return {"minor_faults": after.ru_minflt - before.ru_minflt,
            "major_faults": after.ru_majflt - before.ru_majflt,
            "voluntary_switches": after.ru_nvcsw - before.ru_nvcsw,
            "involuntary_switches": after.ru_nivcsw - before.ru_nivcsw}


def memory_status() -> dict:
    return {k: proc_status_mb(k) for k in ("VmRSS", "RssAnon", "RssFile", "VmHWM")}


class Phase:
    """Times the training phase: wall, CPU, getrusage counters and (maybe) perf stat."""

    def __init__(self, use_perf: bool):
        self.use_perf = use_perf

    def __enter__(self):
        self.perf = PerfStat(HW_EVENTS + SW_EVENTS).start(os.getpid()) if self.use_perf else None
        self.ru0 = resource.getrusage(resource.RUSAGE_SELF)
        self.c0 = time.process_time()
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.train_s = time.perf_counter() - self.t0
        self.train_cpu_s = time.process_time() - self.c0
        self.rusage = rusage_delta(self.ru0, resource.getrusage(resource.RUSAGE_SELF))
        self.perf_result = self.perf.stop() if self.perf is not None else None
        return False

    def results(self) -> dict:
        out = {"train_s": self.train_s, "train_cpu_s": self.train_cpu_s,
               "train_rusage": self.rusage}
        if self.perf_result is not None:
            out["train_perf"] = self.perf_result
        return out


def child_jose(corpus: str, dim: int, epochs: int, workers: int, objective: str,
               use_perf: bool, settings: dict) -> dict:
    t_start = time.perf_counter()
    import numpy as np  # noqa: F401
    from jose import _core
    from jose.model import JoSE
    out = {"import_s": time.perf_counter() - t_start,
           "rss_after_import_mb": proc_status_mb("VmRSS"),
           "openmp": bool(_core.openmp_enabled()), "kernel": getattr(_core, "BUILD", "?"),
           "jose_path": jose_origin()}
    # jose's defaults, but the dimension (and the objective, if asked) and the
    # subsampling threshold both systems are given
    model = JoSE(vector_size=dim, epochs=epochs, workers=workers, seed=1, objective=objective,
                 sample=settings["sample"])
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    model.build_vocab(corpus_file=corpus)
    t1 = time.perf_counter()
    out["setup_rusage"] = rusage_delta(ru0, resource.getrusage(resource.RUSAGE_SELF))
    data = model.encoded_corpus
    tables = {"U": model.wv.vectors.nbytes, "V": model.cv.vectors.nbytes,
              "D": model.dv.vectors.nbytes}
    out["memory_before_train_mb"] = memory_status()
    with Phase(use_perf) as phase:
        model.train()
    out.update(phase.results())
    out["memory_after_train_mb"] = memory_status()
    out.update(vocab_s=t1 - t0, words_in_vocab=int(data.n_tokens),
               words_raw=int(model.corpus_total_words), n_docs=int(data.n_docs),
               vocab_size=len(model.vocab), threads=int(model.workers),
               margin=model.margin, objective=model.objective, window=model.window,
               negative=model.negative, alpha=model.alpha, sample=model.sample,
               min_count=model.min_count, update_rule=model.update_rule,
               tables_bytes=sum(tables.values()), tables=tables,
               peak_rss_self_mb=proc_status_mb("VmHWM"))
    model.release_corpus()
    return out


def read_tagged_documents(corpus: str):
    """One TaggedDocument per line (every line, like jose), split on ASCII whitespace,
    each distinct word one str object (a 1 M-word corpus would otherwise hold one
    str per token)."""
    from gensim.models.doc2vec import TaggedDocument
    strings = {}

    def word(w: bytes) -> str:
        s = strings.get(w)
        if s is None:
            s = strings[w] = w.decode("utf-8", "replace")
        return s
    docs = []
    with open_corpus(corpus) as f:
        for i, line in enumerate(f):
            docs.append(TaggedDocument([word(w) for w in line.split()], [i]))
    return docs


def child_gensim(corpus: str, dim: int, epochs: int, workers: int, objective: str,
                 use_perf: bool, settings: dict) -> dict:
    t_start = time.perf_counter()
    import gensim
    from gensim.models.doc2vec import Doc2Vec
    out = {"import_s": time.perf_counter() - t_start,
           "rss_after_import_mb": proc_status_mb("VmRSS"),
           "gensim_version": gensim.__version__}
    s = settings          # jose's defaults, from the parent (jose is not imported here)
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    docs = read_tagged_documents(corpus)
    t1 = time.perf_counter()
    lengths = [len(d.words) for d in docs]
    out["words_raw"] = sum(lengths)
    out["words_cut_by_gensim"] = sum(max(0, n - GENSIM_MAX_DOC_WORDS) for n in lengths)
    model = Doc2Vec(dm=0, dbow_words=1, hs=0, vector_size=dim, window=s["window"],
                    negative=s["negative"], sample=s["sample"], min_count=s["min_count"],
                    epochs=epochs, workers=workers, seed=1)
    model.build_vocab(docs)
    t2 = time.perf_counter()
    out["setup_rusage"] = rusage_delta(ru0, resource.getrusage(resource.RUSAGE_SELF))
    tables = {"wv": model.wv.vectors.nbytes, "syn1neg": model.syn1neg.nbytes,
              "dv": model.dv.vectors.nbytes}
    out["words_in_vocab"] = int(sum(model.wv.get_vecattr(w, "count")
                                    for w in model.wv.index_to_key))
    out["memory_before_train_mb"] = memory_status()
    with Phase(use_perf) as phase:
        model.train(docs, total_examples=len(docs), epochs=epochs)
    out.update(phase.results())
    out["memory_after_train_mb"] = memory_status()
    out.update(load_s=t1 - t0, build_vocab_s=t2 - t1, vocab_s=t2 - t0, vocab_size=len(model.wv),
               n_docs=len(docs), threads=workers, window=s["window"], negative=s["negative"],
               sample=s["sample"], min_count=s["min_count"], alpha=model.alpha,
               tables_bytes=sum(tables.values()), tables=tables,
               peak_rss_self_mb=proc_status_mb("VmHWM"))
    return out


CHILDREN = {"jose": child_jose, "gensim": child_gensim}
LABELS = {"jose": "jose", "gensim": "gensim Doc2Vec dbow_words"}


def run_child(system: str, corpus: str, dim: int, epochs: int, workers: int,
              settings: dict, use_perf: bool) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", system, "--corpus", corpus,
           "--dim", str(dim), "--epochs", str(epochs), "--workers", str(workers),
           "--objective", settings["objective"], "--settings", json.dumps(settings)]
    cmd += [] if use_perf else ["--no-perf"]
    return run_marked_child(cmd, f"{system} child ({corpus}, workers={workers})")


def schedule(sizes, systems, workers, repeat: int) -> list:
    """[(round, size, system, workers)]: round-robin, every configuration once per round,
    so that a slow stretch of the machine hits all of them rather than one's repeats."""
    return [(rnd, size, system, w) for rnd in range(repeat)
            for size in sizes for system in systems for w in workers]


def add_rates(row: dict, epochs: int) -> dict:
    words = row["words_in_vocab"] * epochs
    row["words_per_s"] = words / row["train_s"] if row["train_s"] > 0 else None
    row["words_per_cpu_s"] = words / row["train_cpu_s"] if row["train_cpu_s"] > 0 else None
    row["tables_mb"] = row["tables_bytes"] / 2**20
    row["rss_over_tables"] = (row["peak_rss_mb"] / row["tables_mb"]
                              if row.get("peak_rss_mb") and row["tables_mb"] else None)
    return row


# -- summary --------------------------------------------------------------------------------

METRICS = ("words_per_s", "words_per_cpu_s", "train_s", "train_cpu_s", "vocab_s", "peak_rss_mb",
           "tables_mb", "rss_over_tables")


def spread(values) -> dict:
    values = [v for v in values if isinstance(v, (int, float))]
    if not values:
        return {"median": None, "min": None, "max": None, "n": 0}
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "n": len(values)}


def summarise(runs: list, sizes, systems, workers) -> dict:
    configs = {}
    for size in sizes:
        for system in systems:
            for w in workers:
                sel = [r for r in runs
                       if (r["size"], r["system"], r["workers"]) == (size, system, w)]
                if not sel:
                    continue
                entry = {m: spread([r.get(m) for r in sel]) for m in METRICS}
                counters = {}
                for key in ("minor_faults", "major_faults", "voluntary_switches",
                            "involuntary_switches"):
                    counters["rusage_" + key] = spread([r["train_rusage"][key] for r in sel])
                for event in HW_EVENTS + SW_EVENTS:
                    vals = [r.get("train_perf", {}).get("counters", {}).get(event) for r in sel]
                    nums = [v for v in vals if isinstance(v, float)]
                    if nums:
                        counters["perf_" + event] = spread(nums)
                    elif any(isinstance(v, str) for v in vals):
                        counters["perf_" + event] = next(v for v in vals if isinstance(v, str))
                entry["counters"] = counters
                entry["margin"] = sel[0].get("margin")
                entry["words_cut_by_gensim"] = sel[0].get("words_cut_by_gensim")
                configs[f"{size}/{system}/{w}"] = entry

    def per_round(size, system, w):
        return {r["repeat"]: r for r in runs
                if (r["size"], r["system"], r["workers"]) == (size, system, w)}
    ratios = {}
    base_w = min(workers)
    for size in sizes:
        entry = {}
        for w in workers:     # jose / gensim per CPU-second and per second, same round
            j, g = per_round(size, "jose", w), per_round(size, "gensim", w)
            common = sorted(set(j) & set(g))
            if common:
                per_core = [j[i]["words_per_cpu_s"] / g[i]["words_per_cpu_s"] for i in common]
                wall = [j[i]["words_per_s"] / g[i]["words_per_s"] for i in common]
                entry[f"jose_over_gensim_per_cpu_s_w{w}"] = {"rounds": per_core,
                                                             **spread(per_core)}
                entry[f"jose_over_gensim_words_per_s_w{w}"] = {"rounds": wall, **spread(wall)}
        for system in systems:
            one = per_round(size, system, base_w)
            for w in workers:
                if w == base_w:
                    continue
                more = per_round(size, system, w)
                common = sorted(set(one) & set(more))
                if common:
                    s = [more[i]["words_per_s"] / one[i]["words_per_s"] for i in common]
                    entry[f"{system}_speedup_w{base_w}_to_w{w}"] = {"rounds": s, **spread(s)}
        ratios[size] = entry
    return {"configs": configs, "ratios": ratios, "base_workers": base_w}


def memory_checks(summary: dict, sizes, workers, corpora, quick: bool = False) -> list:
    """[(status, text)]: jose's peak RSS against its tables + 25 %, per size."""
    checks = []
    for size in sizes:
        worst = None
        for w in workers:
            c = summary["configs"].get(f"{size}/jose/{w}")
            ratio = c["rss_over_tables"]["max"] if c else None
            if ratio is not None and (worst is None
                                      or ratio > worst[1]["rss_over_tables"]["max"]):
                worst = (w, c)
        if worst is None:
            continue
        w, c = worst
        ratio = c["rss_over_tables"]["max"]
        peak, tables = c["peak_rss_mb"]["max"], c["tables_mb"]["median"]
        text = (f"{size} ({corpora[size]['dim']}-d): jose peak RSS {peak:,.0f} MB = "
                f"{ratio:.2f} × its tables ({tables:,.1f} MB; worst over workers and rounds, "
                f"{w} worker(s)); target ≤ {TARGET_RSS_OVER_TABLES:.2f}×")
        if quick:
            status = "INFO"
            text += " (--quick: tiny tables)"
        elif size == "zipf":
            status = "PASS" if ratio <= TARGET_RSS_OVER_TABLES else "FAIL"
            if corpora[size]["dim"] != 300:
                text += (" (the issue states it at 300-d / 1 M words; this is "
                         f"{corpora[size]['dim']}-d: --zipf-dim 300 measures it as stated)")
        else:
            status = "INFO"
            text += " (small tables: the interpreter, NumPy and the corpus dominate)"
        checks.append((status, text))
    return checks


# -- the report -----------------------------------------------------------------------------

def _n(x, digits=0):
    return "–" if x is None else f"{x:,.{digits}f}"


def _s(sp, digits=0, scale=1.0):
    """median (min–max) of a spread."""
    if not sp or sp.get("median") is None:
        return "–"
    if sp["n"] == 1:
        return _n(sp["median"] * scale, digits)
    return (f"{_n(sp['median'] * scale, digits)} ({_n(sp['min'] * scale, digits)}–"
            f"{_n(sp['max'] * scale, digits)})")


def _x(sp):
    if not sp or sp.get("median") is None:
        return "–"
    rounds = ", ".join(f"{v:.2f}" for v in sp["rounds"])
    return f"{sp['median']:.2f}× [{rounds}]"


def hardware_statement(probe: dict, runs: list) -> str:
    if not probe.get("available"):
        return (f"perf stat unavailable ({probe.get('reason', 'not tried')}): no hardware "
                f"counters; the software counters below come from getrusage.")
    counted = set()
    for r in runs:
        for e, v in r.get("train_perf", {}).get("counters", {}).items():
            if e in HW_EVENTS and isinstance(v, float):
                counted.add(e)
    missing = [e for e in HW_EVENTS if e not in counted]
    if not missing:
        return "perf stat counted every hardware event (" + ", ".join(HW_EVENTS) + ")."
    answers = sorted({str(r.get("train_perf", {}).get("counters", {}).get(e))
                      for r in runs for e in missing
                      if r.get("train_perf", {}).get("counters", {}).get(e) is not None}
                     or {str(probe.get("counters", {}).get(e)) for e in missing})
    return (f"perf stat answers {' / '.join(answers)} for {', '.join(missing)} on this machine "
            f"(no hardware performance counters, e.g. a VM without a virtual PMU): cache and TLB "
            f"misses could not be measured here. Software counters (perf's page-faults, "
            f"context-switches, cpu-migrations, task-clock and getrusage's faults and switches) "
            f"are reported instead.")


def render_markdown(report: dict) -> str:
    m = report["machine"]
    s = report["settings"]
    summary = report["summary"]
    sizes, systems, workers = report["sizes"], report["systems"], report["workers"]
    corpora = report["corpora"]
    lines = [f"# Training speed at three sizes, {report['epochs']} epoch(s), "
             f"{report['repeat']} round(s)", "",
             f"- CPU: {m['cpu_model']}, {m['cpu_count']} logical cores"
             + (f" ({m['cores_available']} available)" if "cores_available" in m else ""),
             f"- Python {m['python']}, NumPy {m['numpy']}, jose {m['jose']} from "
             f"`{report['jose_origin']}` (kernel {report.get('jose_kernel', '?')}, OpenMP "
             f"{m.get('jose_openmp')})" + (f", gensim {m['gensim']}" if m.get("gensim") else "")
             + f"; {m['date']}",
             f"- Load average before / after: {report.get('loadavg_before')} / "
             f"{report.get('loadavg_after')} (per run: `loadavg_start` in the JSON)",
             f"- Command: `{report['command']}`",
             f"- jose: its defaults but the dimension: objective {s['objective']}, window "
             f"{s['window']}, negative {s['negative']}, margin {s['margin']} (per corpus below), "
             f"alpha {s['alpha']}, sample {s['sample']}, min_count {s['min_count']}, update rule "
             f"{s['update_rule']}, seed 1.",
             f"- gensim: Doc2Vec(dm=0, dbow_words=1, hs=0, negative={s['negative']}, "
             f"window={s['window']}, sample={s['sample']}, min_count={s['min_count']}), default "
             f"alpha, same dimension and epochs, on a list of TaggedDocuments read from the same "
             f"file (set-up).", "",
             "## Corpora", "",
             "| size | corpus | dim | documents | tokens | in-vocabulary tokens | vocabulary | "
             "jose margin | jose tables MB (U + V + D) |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for size in sizes:
        c = corpora[size]
        r = next((x for x in report["runs"] if x["size"] == size and x["system"] == "jose"), None) \
            or next((x for x in report["runs"] if x["size"] == size), None)
        if r is None:
            continue
        t = r.get("tables", {})
        tables = (" + ".join(f"{v / 2**20:,.1f}" for v in t.values())
                  if r["system"] == "jose" else "–")
        lines.append(f"| {size} | {c['label']} | {c['dim']} | {r['n_docs']:,} | "
                     f"{r['words_raw']:,} | {r['words_in_vocab']:,} | {r['vocab_size']:,} | "
                     f"{r.get('margin', '–')} | {tables} |")
    lines += ["", "## Speed and memory", "",
              "Median (min–max) over the rounds. words/s and words per CPU-s count in-vocabulary "
              "corpus words × epochs over the training phase only; set-up is everything before "
              "it (jose: count + encode + init; gensim: reading the file into TaggedDocuments + "
              "build_vocab). Peak RSS is the child's VmHWM over its whole life (set-up "
              "included); tables are jose's U + V + D and gensim's wv + syn1neg + dv (float32).",
              "",
              "| size | system | workers | words/s | words per CPU-s | train s | CPU s | set-up s "
              "| peak RSS MB | tables MB | RSS / tables |",
              "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for size in sizes:
        for system in systems:
            for w in workers:
                c = summary["configs"].get(f"{size}/{system}/{w}")
                if c is None:
                    continue
                lines.append(f"| {size} | {LABELS[system]} | {w} | {_s(c['words_per_s'])} | "
                             f"{_s(c['words_per_cpu_s'])} | {_s(c['train_s'], 2)} | "
                             f"{_s(c['train_cpu_s'], 2)} | {_s(c['vocab_s'], 2)} | "
                             f"{_s(c['peak_rss_mb'], 1)} | {_n(c['tables_mb']['median'], 1)} | "
                             f"{_s(c['rss_over_tables'], 2)} |")
    lines += ["", "## Ratios within a round", "",
              "Median × [round 1, round 2, ...]; each ratio divides two runs of the same round.",
              "", "| size | ratio | median [rounds] |", "|---|---|---|"]
    for size in sizes:
        for key, sp in summary["ratios"].get(size, {}).items():
            lines.append(f"| {size} | {ratio_label(key)} | {_x(sp)} |")
    lines += ["", "## Memory target", ""]
    for status, text in report["memory_checks"]:
        lines.append(f"- **{status}** {text}")
    lines += ["", "## Counters over the training phase", "", "- " + report["hardware"], ""]
    sw_cols = [("rusage_minor_faults", "minor faults"), ("rusage_major_faults", "major faults"),
               ("rusage_voluntary_switches", "voluntary switches"),
               ("rusage_involuntary_switches", "involuntary switches"),
               ("perf_cpu-migrations", "perf cpu-migrations"),
               ("perf_task-clock", "perf task-clock ms")]
    hw_cols = [("perf_" + e, "perf " + e) for e in HW_EVENTS
               if any(isinstance(c["counters"].get("perf_" + e), dict)
                      for c in summary["configs"].values())]
    cols = sw_cols + hw_cols
    lines += ["| size | system | workers | " + " | ".join(label for _, label in cols) + " |",
              "|---|---|---:|" + "---:|" * len(cols)]
    for size in sizes:
        for system in systems:
            for w in workers:
                c = summary["configs"].get(f"{size}/{system}/{w}")
                if c is None:
                    continue
                cells = []
                for key, _ in cols:
                    v = c["counters"].get(key)
                    cells.append(_s(v) if isinstance(v, dict) else (v or "–"))
                lines.append(f"| {size} | {LABELS[system]} | {w} | " + " | ".join(cells) + " |")
    lines.append("")
    for note in report.get("notes", []):
        lines.append(f"- note: {note}")
    return "\n".join(lines) + "\n"


def ratio_label(key: str) -> str:
    if key.startswith("jose_over_gensim_per_cpu_s_w"):
        return f"jose / gensim, words per CPU-s, {key.rsplit('_w', 1)[1]} worker(s)"
    if key.startswith("jose_over_gensim_words_per_s_w"):
        return f"jose / gensim, words/s, {key.rsplit('_w', 1)[1]} worker(s)"
    system, rest = key.split("_speedup_")
    a, b = rest.split("_to_")
    return f"{LABELS[system]} speed-up, {a[1:]} → {b[1:]} workers (words/s)"


# -- main -------------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", nargs="+", choices=SIZES, default=list(SIZES),
                   help="which corpora (default: all three)")
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2],
                   help="worker thread counts (default: 1 2)")
    p.add_argument("--epochs", type=int, default=1, help="passes over each corpus (default 1)")
    p.add_argument("--repeat", type=int, default=None,
                   help="rounds; each runs every configuration once (default 3, --quick 1)")
    p.add_argument("--no-gensim", action="store_true", help="skip gensim Doc2Vec")
    p.add_argument("--objective", choices=("joint", "separate"), default=None,
                   help="jose's objective (default: jose's default, joint)")
    p.add_argument("--wiki-tokens", type=int, default=None, metavar="N",
                   help="train on the Wikipedia sample's first whole lines holding at most N "
                        "tokens (default: all 9.2 M)")
    p.add_argument("--zipf-vocab", type=int, default=ZIPF_VOCAB, metavar="N",
                   help="words of the synthetic corpus (default %(default)s)")
    p.add_argument("--zipf-tokens", type=int, default=ZIPF_TOKENS, metavar="N",
                   help="tokens of the synthetic corpus (default %(default)s)")
    p.add_argument("--zipf-exponent", type=float, default=ZIPF_EXPONENT,
                   help="Zipf exponent s, P(rank r) ~ r^-s (default %(default)s)")
    p.add_argument("--zipf-doc-length", type=int, nargs=2, default=list(ZIPF_DOC_LENGTH),
                   metavar=("MIN", "MAX"), help="document lengths (default 100 500)")
    p.add_argument("--zipf-seed", type=int, default=ZIPF_SEED, help="generator seed (default 0)")
    p.add_argument("--zipf-dim", type=int, default=DIMS["zipf"],
                   help="dimension for the synthetic corpus (default 100; the issue's memory "
                        "target is stated at 300)")
    p.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR,
                   help="where generated corpora are cached (default %(default)s)")
    p.add_argument("--data", type=Path, default=None,
                   help="the shared data directory (default ../shared/data beside the "
                        "repository or its main worktree)")
    p.add_argument("--out", type=Path, default=None,
                   help="directory for sizes.md and sizes.json (default benchmarks/results; "
                        "--quick: WORKDIR/quick-results)")
    p.add_argument("--quick", action="store_true",
                   help="tiny versions of the three corpora (smoke run, seconds)")
    p.add_argument("--prepare-only", action="store_true",
                   help="generate / cut the corpora into --workdir and stop")
    p.add_argument("--no-perf", action="store_true", help="do not run perf stat")
    p.add_argument("--child", choices=sorted(CHILDREN), help=argparse.SUPPRESS)
    p.add_argument("--corpus", help=argparse.SUPPRESS)
    p.add_argument("--dim", type=int, help=argparse.SUPPRESS)
    p.add_argument("--settings", help=argparse.SUPPRESS)
    return p


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.child:      # the parent gives --objective and --settings
        if args.child == "jose":
            use_local_build()
        result = CHILDREN[args.child](args.corpus, args.dim, args.epochs, args.workers[0],
                                      args.objective, not args.no_perf,
                                      json.loads(args.settings))
        sys.stdout.write(RESULT_MARK + json.dumps(result) + "\n")
        sys.stdout.flush()
        return 0
    if args.epochs < 1 or (args.repeat is not None and args.repeat < 1) \
            or any(w < 1 for w in args.workers) or args.zipf_dim < 1 \
            or (args.wiki_tokens is not None and args.wiki_tokens < 1):
        print("bench_sizes: --epochs, --repeat, --workers, --wiki-tokens and --zipf-dim must "
              "be positive", file=sys.stderr)
        return 2
    if args.quick:
        args.zipf_vocab = min(args.zipf_vocab, QUICK["zipf_vocab"])
        args.zipf_tokens = min(args.zipf_tokens, QUICK["zipf_tokens"])
    repeat = args.repeat or (1 if args.quick else 3)
    args.data = args.data or default_data_dir()
    args.workdir = args.workdir.expanduser().resolve()
    out = args.out or (args.workdir / "quick-results" if args.quick else DEFAULT_OUT)
    sizes = list(dict.fromkeys(args.sizes))
    args.sizes = sizes
    workers = sorted(dict.fromkeys(args.workers))

    use_local_build()   # an in-place build in the source tree wins over an installed jose
    import jose._core
    settings = jose_settings()
    if args.objective:
        settings["objective"] = args.objective
    origin = jose_origin()
    log(f"measuring jose from {origin} (kernel {getattr(jose._core, 'BUILD', '?')})")
    try:
        corpora = prepare_corpora(args, settings["min_count"])
    except (FileNotFoundError, ValueError) as e:
        print(f"bench_sizes: {e}", file=sys.stderr)
        return 2
    if args.prepare_only:
        for size, c in corpora.items():
            print(f"{size}: {c['path']}")
        return 0

    notes = []
    use_gensim = not args.no_gensim
    if use_gensim and gensim_version() is None:
        use_gensim = False
        notes.append("gensim is not installed: not measured")
    systems = ["jose"] + (["gensim"] if use_gensim else [])
    probe = perf_probe() if not args.no_perf else {"available": False, "reason": "--no-perf"}
    use_perf = bool(probe.get("available"))
    report = {"sizes": sizes, "systems": systems, "workers": workers, "epochs": args.epochs,
              "repeat": repeat, "quick": args.quick, "settings": settings, "corpora": corpora,
              "machine": machine_info(), "jose_origin": origin,
              "jose_kernel": getattr(jose._core, "BUILD", "?"), "perf_probe": probe,
              "command": " ".join([Path(sys.executable).name, *sys.argv])
              if argv is None else "bench_sizes.py " + " ".join(map(str, argv)),
              "loadavg_before": loadavg()}
    plan = schedule(sizes, systems, workers, repeat)
    per_round = len(plan) // repeat
    runs = []
    out.mkdir(parents=True, exist_ok=True)
    try:
        for i, (rnd, size, system, w) in enumerate(plan):
            c = corpora[size]
            log(f"round {rnd + 1}/{repeat}, run {i % per_round + 1}/{per_round}: {size} "
                f"({c['dim']}-d), {LABELS[system]}, workers={w} ...")
            la = loadavg()
            row = run_child(system, c["path"], c["dim"], args.epochs, w, settings,
                            use_perf)
            row.update(size=size, system=system, workers=w, repeat=rnd, loadavg_start=la)
            runs.append(add_rates(row, args.epochs))
            log(f"  {row['words_per_s']:,.0f} words/s, train {row['train_s']:.2f} s, "
                f"set-up {row['vocab_s']:.2f} s, peak RSS {row['peak_rss_mb']:,.0f} MB")
    except BaseException:
        partial = out / "sizes.partial.json"
        partial.write_text(json.dumps(dict(report, runs=runs), indent=1) + "\n")
        log(f"stopped; the runs so far are in {partial}")
        raise
    report["loadavg_after"] = loadavg()
    report["runs"] = runs
    summary = summarise(runs, sizes, systems, workers)
    report["summary"] = summary
    report["memory_checks"] = memory_checks(summary, sizes, workers, corpora, args.quick)
    report["hardware"] = hardware_statement(probe, runs)
    if any(r["system"] == "jose" and r["workers"] > 1 and not r.get("openmp", True) for r in runs):
        notes.append("jose was built without OpenMP: every jose run used one thread")
    for size in sizes:
        cut = next((r.get("words_cut_by_gensim") for r in runs
                    if r["size"] == size and r["system"] == "gensim"), 0)
        if cut:
            notes.append(f"{size}: gensim trains at most {GENSIM_MAX_DOC_WORDS:,} words per "
                         f"document: {cut:,} words of longer documents were not trained "
                         f"(counted anyway)")
    if use_gensim:
        notes.append("gensim's peak RSS includes its in-memory corpus (a list of "
                     "TaggedDocuments, one str object per distinct word)")
    notes.append("jose's peak RSS includes the encoded corpus it reads back with mmap "
                 "(RssFile; see memory_after_train_mb in the JSON)")
    if args.quick:
        notes.append("--quick: tiny corpora, a smoke run; the numbers mean nothing")
    report["notes"] = notes
    markdown = render_markdown(report)
    (out / "sizes.md").write_text(markdown, encoding="utf-8")
    with open(out / "sizes.json", "w", encoding="utf-8") as f:
        json.dump(report, f, indent=1)
        f.write("\n")
    partial = out / "sizes.partial.json"
    if partial.exists():
        partial.unlink()
    print(markdown)
    print(f"wrote {out / 'sizes.md'} and {out / 'sizes.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
