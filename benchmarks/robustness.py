"""Document-embedding quality on corpora of other shapes, built from the data we have.

Our defaults were chosen on 20 Newsgroups; this suite stands in for corpora we
do not have. From ../shared/data/20news it builds

  small     2,000 documents of 5 groups (400 each, drawn with a fixed seed)
  small2    the same with 5 other groups (another fixed seed)
  short     every document cut to its first 20 tokens
  medium    every document cut to its first 50 tokens (news-lead length)
  mid       every document cut to its first 100 tokens
  long      the full text (20NG as usual)
  headers   raw.txt.gz (headers, quotes, signatures kept), tokenised like
            text.txt.gz: lower-case, runs of [a-z0-9] with an optional inner
            apostrophe part
  sorted    text.txt.gz exactly as shipped, sorted by group within each split

Every corpus file except `sorted` is written in one fixed random order (seed
0), so no system sees the groups in runs; `long` is then "20NG shuffled", the
row to compare `sorted` with. Per corpus and system, over --seeds training
seeds (mean +- std of the per-seed values):

  NMI of K-Means and of spherical K-Means (k = number of groups, --runs runs of
  n_init = 1 each, averaged), ARI of K-Means, 3-NN macro-F1 (Euclidean): the
  bydate train/test split where the documents come from both splits, a fixed
  stratified 70/30 split for `small`.

Systems: jose settings from --jose (JSON objects, or a JSON file holding a
list of them; each needs a "name", the rest goes to JoSE(...) over the shared
settings below, or over jose's own defaults with "defaults": true), gensim Doc2Vec PV-DBOW (dm=0, negative 5, same dimension,
window, epochs, min_count, sample; also dbow_words=1), and the JoSE C program
with --reference-binary. Shared settings: 100-d, window 10, min_count 5,
sample 1e-3, 20 epochs (--epochs), workers 2.

    python benchmarks/robustness.py --seeds 2 --reference-binary /tmp/josec/jose
    python benchmarks/robustness.py --corpora small short --jose '{"name": "paper e40", "epochs": 40}'

Writes benchmarks/results/robustness.{md,json,png}; the json is rewritten after
every run, so an interrupted suite keeps what finished.
"""
from __future__ import annotations

import argparse
import gzip
import inspect
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
from bench_paper import (DATA, cpu_model, evaluate_documents, gensim_doc2vec,  # noqa: E402
                         train_file)
from local_jose import jose_origin, use_local_build  # noqa: E402

use_local_build()

CORPORA = ("small", "small2", "short", "medium", "mid", "long", "headers", "sorted")
SHARED = dict(vector_size=100, window=10, min_count=5, sample=1e-3)
#: Today's defaults (the JoSE paper's settings), one row per update rule.
DEFAULT_JOSE = [dict(name="jose paper", update_rule="paper", negative=2, margin=0.15, alpha=0.04),
                dict(name="jose reference", update_rule="reference", negative=2, margin=0.15,
                     alpha=0.04)]
GENSIM = {"gensim PV-DBOW": dict(negative=5),
          "gensim PV-DBOW dbow_words": dict(negative=5, dbow_words=1)}
TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z0-9]+)?")
METRICS = (("nmi_kmeans", "NMI K-Means"), ("nmi_skmeans", "NMI sph. K-Means"),
           ("ari_kmeans", "ARI K-Means"), ("macro_f1", "3-NN macro-F1"))


# --- corpora --------------------------------------------------------------------

def tokenise(text: str) -> str:
    """text.txt.gz's rule: lower-case, [a-z0-9] runs with an optional inner apostrophe part."""
    return " ".join(TOKEN.findall(text.lower()))


def read_lines(path):
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f]


def build_corpus(name, lines, labels, is_train, small_seed=0):
    """(document lines, labels, train_idx, test_idx) of one corpus, in file order."""
    rng = np.random.default_rng(small_seed)
    n = len(lines)
    if name in ("small", "small2"):
        rng = np.random.default_rng(small_seed + (name == "small2"))
        groups = np.sort(rng.choice(labels.max() + 1, size=5, replace=False))
        picked = np.concatenate([rng.choice(np.flatnonzero(labels == g), 400, replace=False)
                                 for g in groups])
        picked = picked[rng.permutation(len(picked))]
        docs, y = [lines[i] for i in picked], np.searchsorted(groups, labels[picked])
        train = np.zeros(len(y), bool)
        for g in range(5):                      # stratified 70/30, fixed
            members = np.flatnonzero(y == g)
            train[members[:int(0.7 * len(members))]] = True
        return docs, y, np.flatnonzero(train), np.flatnonzero(~train)
    if name in ("short", "medium", "mid"):
        cut = {"short": 20, "medium": 50, "mid": 100}[name]
        lines = [" ".join(line.split()[:cut]) for line in lines]
    order = np.arange(n) if name == "sorted" else rng.permutation(n)
    docs, y, train = [lines[i] for i in order], labels[order], is_train[order]
    return docs, y, np.flatnonzero(train), np.flatnonzero(~train)


def corpora(names, scratch):
    """Write each corpus as a plain one-document-per-line file; yield its description."""
    labels = np.loadtxt(DATA / "20news" / "label.txt", dtype=int)
    is_train = np.array([s.strip() == "train" for s in open(DATA / "20news" / "split.txt")])
    text = read_lines(DATA / "20news" / "text.txt.gz")
    raw = None
    for name in names:
        if name == "headers":
            raw = raw or [tokenise(line) for line in read_lines(DATA / "20news" / "raw.txt.gz")]
            source = raw
        else:
            source = text
        docs, y, train_idx, test_idx = build_corpus(name, source, labels, is_train)
        path = Path(scratch) / f"{name}.txt"
        path.write_text("".join(d + "\n" for d in docs), encoding="utf-8")
        lengths = np.array([len(d.split()) for d in docs])
        yield dict(name=name, path=str(path), labels=y, train_idx=train_idx, test_idx=test_idx,
                   n_docs=len(docs), n_classes=int(y.max() + 1), n_tokens=int(lengths.sum()),
                   mean_len=float(lengths.mean()), median_len=float(np.median(lengths)))


# --- systems --------------------------------------------------------------------

def run_jose(setting, corpus, epochs, workers, seed):
    """A jose setting over the shared settings and --epochs, or, with
    "defaults": true, over jose's own defaults (epochs and margin "auto", ...)."""
    from jose import JoSE
    own = {k: v for k, v in setting.items() if k not in ("name", "defaults")}
    if setting.get("defaults"):
        params, epochs = own, own.pop("epochs", "auto")
    else:
        params = {**SHARED, **own}
        epochs = params.pop("epochs", epochs)
    if "objective" in params and "objective" not in inspect.signature(JoSE).parameters:
        raise SystemExit(f"this jose has no objective parameter: {setting}")
    model, seconds = train_file(corpus["path"], epochs, workers, seed, **params)
    return np.asarray(model.dv.vectors), seconds


def run_reference(binary, corpus, epochs, workers, seed, scratch):
    """The JoSE C program with the paper's settings; its doc vectors in line order."""
    from jose.w2v_format import read_word2vec
    out = os.path.join(scratch, "c_docs.txt")
    cmd = [binary, "-train", corpus["path"], "-doc-output", out,
           "-word-output", os.path.join(scratch, "c_words.txt"),
           "-size", "100", "-window", "10", "-negative", "2", "-margin", "0.15",
           "-alpha", "0.04", "-sample", "1e-3", "-min-count", "5", "-iter", str(epochs),
           "-threads", str(workers), "-debug", "0"]
    del seed   # the C program seeds itself with a constant
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    keys, vectors = read_word2vec(out)
    return vectors[np.argsort(np.asarray(keys, dtype=np.int64))], seconds


def systems(args):
    """(name, kind, setting) of every system to run, in order."""
    out = [(s["name"], "jose", s) for s in args.jose_settings]
    if not args.no_gensim:
        out += [(name, "gensim", params) for name, params in GENSIM.items()
                if name in args.gensim]
    if args.reference_binary:
        out.append(("JoSE C program", "reference", None))
    return out


def train(kind, setting, corpus, args, seed, scratch):
    if kind == "jose":
        return run_jose(setting, corpus, args.epochs, args.workers, seed)
    if kind == "gensim":
        return gensim_doc2vec(corpus["path"], args.epochs, args.workers, seed,
                              **{**SHARED, **setting})
    return run_reference(args.reference_binary, corpus, args.epochs, args.workers, seed, scratch)


def score(X, corpus, runs):
    row = evaluate_documents(X, corpus["labels"], None, runs, n_clusters=corpus["n_classes"],
                             train_idx=corpus["train_idx"], test_idx=corpus["test_idx"])
    return {key: (row[key][0] if isinstance(row[key], tuple) else row[key])
            for key, _ in METRICS}


# --- report ---------------------------------------------------------------------

def summarise(results):
    """Mean and std over seeds of each (corpus, system)."""
    table = {}
    for r in results:
        table.setdefault((r["corpus"], r["system"]), []).append(r)
    out = []
    for (corpus, system), runs in table.items():
        row = {"corpus": corpus, "system": system, "seeds": len(runs),
               "train_s": float(np.mean([r["train_s"] for r in runs]))}
        for key, _ in METRICS:
            values = [r[key] for r in runs]
            row[key] = (float(np.mean(values)), float(np.std(values)))
        out.append(row)
    return out


def markdown(summary, described, args):
    lines = [f"# Robustness: document quality on corpora of other shapes "
             f"({time.strftime('%Y-%m-%d %H:%M')})", "",
             f"- {cpu_model()}, {os.cpu_count()} logical cores (shared with other work), "
             f"workers={args.workers}; jose from `{jose_origin()}`",
             f"- Command: `python benchmarks/robustness.py {shlex.join(sys.argv[1:])}`",
             f"- Shared settings: {SHARED}, epochs {args.epochs} unless a row says otherwise; "
             f"clustering: {args.runs} runs of n_init=1 per seed; ± is the std over training "
             f"seeds (the clustering runs are averaged first)", "",
             "| corpus | documents | groups | tokens | mean length | median length | 3-NN split |",
             "|---|---:|---:|---:|---:|---:|---|"]
    for c in described:
        split = "stratified 70/30" if c["name"].startswith("small") else "bydate"
        lines.append(f"| {c['name']} | {c['n_docs']:,} | {c['n_classes']} | {c['n_tokens']:,} | "
                     f"{c['mean_len']:.1f} | {c['median_len']:.0f} | {split} |")
    lines += ["", "| corpus | system | seeds | " + " | ".join(t for _, t in METRICS)
              + " | train s |", "|---|---|---:|" + "---|" * len(METRICS) + "---:|"]
    for r in summary:
        cells = " | ".join(f"{r[k][0]:.3f} ± {r[k][1]:.3f}" for k, _ in METRICS)
        lines.append(f"| {r['corpus']} | {r['system']} | {r['seeds']} | {cells} | "
                     f"{r['train_s']:.0f} |")
    lines += ["", "jose settings: " + "; ".join(json.dumps(s) for s in args.jose_settings), ""]
    return "\n".join(lines) + "\n"


def figure(summary, out):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    names = list(dict.fromkeys(r["corpus"] for r in summary))
    systems_ = list(dict.fromkeys(r["system"] for r in summary))
    by = {(r["corpus"], r["system"]): r for r in summary}
    fig, axes = plt.subplots(1, 2, figsize=(12, 4), sharey=True)
    width = 0.8 / max(len(systems_), 1)
    for ax, (key, title) in zip(axes, (("nmi_kmeans", "NMI K-Means"),
                                       ("macro_f1", "3-NN macro-F1"))):
        for j, system in enumerate(systems_):
            xs = [i + (j - len(systems_) / 2 + 0.5) * width for i, c in enumerate(names)
                  if (c, system) in by]
            rows = [by[(c, system)] for c in names if (c, system) in by]
            ax.bar(xs, [r[key][0] for r in rows], width, yerr=[r[key][1] for r in rows],
                   label=system)
        ax.set_xticks(range(len(names)), names)
        ax.set_title(title)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "robustness.png", dpi=120)


def report_merged(args):
    """One report of several invocations' runs (corpora and settings united)."""
    results, described, settings = [], {}, {}
    for path in args.merge:
        loaded = json.loads(path.read_text())
        results += loaded["runs"]
        described.update({c["name"]: c for c in loaded["corpora"]})
        settings.update({s["name"]: s for s in loaded["jose_settings"]})
    args.jose_settings = list(settings.values())
    summary = summarise(results)
    text = markdown(summary, list(described.values()), args)
    (args.out / f"{args.tag}.md").write_text(text)
    (args.out / f"{args.tag}.json").write_text(json.dumps(
        {"argv": sys.argv[1:], "corpora": list(described.values()), "runs": results,
         "summary": summary, "jose_settings": args.jose_settings}, indent=1))
    figure(summary, args.out)
    print(text)


def load_settings(values):
    settings = []
    for value in values:
        text = Path(value).read_text() if os.path.isfile(value) else value
        loaded = json.loads(text)
        settings += loaded if isinstance(loaded, list) else [loaded]
    for s in settings:
        if "name" not in s:
            raise SystemExit(f"a jose setting needs a name: {s}")
    return settings


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--corpora", nargs="+", choices=CORPORA, default=list(CORPORA))
    p.add_argument("--jose", nargs="*", default=None,
                   help="jose settings: JSON objects or JSON files (default: today's defaults, "
                        "both update rules)")
    p.add_argument("--gensim", nargs="*", default=list(GENSIM), choices=list(GENSIM))
    p.add_argument("--no-gensim", action="store_true")
    p.add_argument("--reference-binary", metavar="PATH")
    p.add_argument("--reference-corpora", nargs="+", choices=CORPORA, default=list(CORPORA),
                   help="corpora to run the C program on (it is ~7x slower than jose)")
    p.add_argument("--dbow-words-corpora", nargs="+", choices=CORPORA, default=list(CORPORA),
                   help="corpora to run gensim dbow_words on (it is ~3x slower than PV-DBOW)")
    p.add_argument("--seeds", type=int, default=1)
    p.add_argument("--first-seed", type=int, default=1,
                   help="train with seeds first-seed .. first-seed + seeds - 1")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    p.add_argument("--tag", default="robustness", help="output file stem")
    p.add_argument("--merge", nargs="+", type=Path, metavar="JSON",
                   help="train nothing: report the runs of these earlier result files together")
    args = p.parse_args(argv)
    args.jose_settings = DEFAULT_JOSE if args.jose is None else load_settings(args.jose)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.merge:
        return report_merged(args)
    results, described = [], []
    with tempfile.TemporaryDirectory(prefix="jose-robust-") as scratch:
        for corpus in corpora(args.corpora, scratch):
            described.append({k: v for k, v in corpus.items()
                              if k not in ("labels", "train_idx", "test_idx", "path")})
            print(f"== {corpus['name']}: {corpus['n_docs']} docs, mean length "
                  f"{corpus['mean_len']:.1f}", flush=True)
            for name, kind, setting in systems(args):
                if kind == "reference" and corpus["name"] not in args.reference_corpora:
                    continue
                if "dbow_words" in name and corpus["name"] not in args.dbow_words_corpora:
                    continue
                for seed in range(args.first_seed, args.first_seed + args.seeds):
                    if kind == "reference" and seed > args.first_seed:
                        break               # deterministic apart from thread timing
                    X, seconds = train(kind, setting, corpus, args, seed, scratch)
                    row = {"corpus": corpus["name"], "system": name, "seed": seed,
                           "train_s": seconds, **score(X, corpus, args.runs)}
                    results.append(row)
                    print("  " + ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}"
                                           for k, v in row.items()), flush=True)
                    (args.out / f"{args.tag}.json").write_text(json.dumps(
                        {"argv": sys.argv[1:], "corpora": described, "runs": results,
                         "jose_settings": args.jose_settings}, indent=1))
    summary = summarise(results)
    text = markdown(summary, described, args)
    (args.out / f"{args.tag}.md").write_text(text)
    (args.out / f"{args.tag}.json").write_text(json.dumps(
        {"argv": sys.argv[1:], "corpora": described, "runs": results, "summary": summary,
         "jose_settings": args.jose_settings}, indent=1))
    figure(summary, args.out)
    print(text)


if __name__ == "__main__":
    main()
