"""Which defaults? A grid over objective x update rule x margin x negatives x epochs.

Every cell trains jose --seeds times (seeds 1..N, workers 2) on
  docs   ../shared/data/20news/text.txt.gz: NMI of K-Means and of spherical
         K-Means (k = 20, --runs runs of n_init = 1, averaged), ARI of
         K-Means, 3-NN macro-F1 on the bydate split (first 11,314 lines train);
  words  ../shared/data/wiki_en_sample/tokens.txt.gz: Spearman rho on WS-353,
         MEN and SimLex-999 for the center table u, the context table v and
         their normalised sum u+v;
and reports mean +- std over seeds with the training wall time. Other
settings are the paper's (100-d, window 10, alpha 0.04, sample 1e-3,
min_count 5); --set KEY=VALUE changes them for every cell.

The full grid (2 x 2 x 4 x 2 x 3 cells x 3 seeds x 2 corpora, ~2 minutes a
run here) does not fit a working day on 2 cores: give each dimension's values
on the command line (--rules, --margins, --negatives, --epochs,
--word-epochs) and the report says which dimensions were reduced.

`objective` ("separate": the two hinges one after the other, as jose.c;
"joint": the paper's single hinge) is passed to JoSE only if its signature
has that parameter; on a jose without it "separate" is what it trains, and
other objectives are skipped with a printed note.

--curves N retrains the N best document cells (by mean NMI K-Means) and the N
best word cells (by mean u WS-353 + MEN + SimLex) once, scoring after every
epoch through an on_epoch_end callback, and plots study_defaults_curves.png.

    python benchmarks/study_defaults.py --tasks docs --rules paper reference \\
        --margins 0.1 0.15 0.2 0.3 --negatives 2 --epochs 20 --seeds 1 --curves 1

Writes benchmarks/results/study_defaults.{md,json} (the json after every run).
"""
from __future__ import annotations

import argparse
import inspect
import itertools
import json
import os
import shlex
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
from bench_paper import DATA, PAPER, SIM_SETS, cpu_model, evaluate_documents, train_file  # noqa: E402
from local_jose import jose_origin, use_local_build  # noqa: E402

use_local_build()

FULL = dict(objective=["separate", "joint"], update_rule=["paper", "reference"],
            margin=[0.1, 0.15, 0.2, 0.3], negative=[2, 5], epochs=[10, 20, 40])
DOC_METRICS = (("nmi_kmeans", "NMI K-Means"), ("nmi_skmeans", "NMI sph. K-Means"),
               ("ari_kmeans", "ARI K-Means"), ("macro_f1", "3-NN macro-F1"))
TABLES = ("u", "v", "u+v")
SHORT = {"EN-WS-353-ALL.txt": "WS-353", "EN-MEN-TR-3k.txt": "MEN", "EN-SIMLEX-999.txt": "SimLex"}


def has_objective() -> bool:
    from jose import JoSE
    return "objective" in inspect.signature(JoSE).parameters


def cells(args):
    """Grid cells as dicts of JoSE parameters (objective only when it is passed)."""
    objectives = []
    for o in args.objectives:
        if o != "separate" and not has_objective():
            print(f"note: this jose has no objective parameter; skipping objective={o!r}",
                  flush=True)
        else:
            objectives.append(o)
    out = []
    for o, rule, margin, negative in itertools.product(objectives, args.rules, args.margins,
                                                       args.negatives):
        cell = {"update_rule": rule, "margin": margin, "negative": negative}
        if has_objective():
            cell["objective"] = o
        out.append(cell)
    return out


def label(cell, epochs):
    parts = [cell.get("objective", "separate"), cell["update_rule"], f"m{cell['margin']}",
             f"neg{cell['negative']}", f"e{epochs}"]
    return " ".join(parts)


# --- scoring ---------------------------------------------------------------------

class Docs:
    path = DATA / "20news" / "text.txt.gz"

    def __init__(self, runs):
        self.labels = np.loadtxt(DATA / "20news" / "label.txt", dtype=int)
        self.train_n = sum(1 for s in open(DATA / "20news" / "split.txt")
                           if s.strip() == "train")
        self.runs = runs

    def score(self, model, runs=None):
        row = evaluate_documents(model.dv.vectors, self.labels, self.train_n,
                                 runs or self.runs)
        return {k: (row[k][0] if isinstance(row[k], tuple) else row[k]) for k, _ in DOC_METRICS}


class Words:
    path = DATA / "wiki_en_sample" / "tokens.txt.gz"

    def __init__(self):
        from jose.evaluation import read_similarity_pairs
        self.sets = {name: read_similarity_pairs(DATA / "wordsim" / name) for name in SIM_SETS}

    def score(self, model, runs=None):
        from jose.evaluation import word_similarity
        from jose.keyedvectors import KeyedVectors, normalize_rows
        tables = {"u": model.wv, "v": model.cv,
                  "u+v": KeyedVectors(model.wv.index_to_key,
                                      normalize_rows(model.wv.vectors + model.cv.vectors))}
        return {f"{t} {SHORT[s]}": word_similarity(kv, pairs)["spearman"]
                for t, kv in tables.items() for s, pairs in self.sets.items()}


def word_summary(row):
    """One number to rank word cells: u's mean over the three sets."""
    return float(np.mean([row[f"u {s}"] for s in SHORT.values()]))


# --- the grid --------------------------------------------------------------------

def run_grid(args, tasks, settings, save):
    results = []
    for task_name, task in tasks.items():
        epochs_list = args.epochs if task_name == "docs" else (args.word_epochs or args.epochs)
        for cell, epochs in itertools.product(settings, epochs_list):
            for seed in range(1, args.seeds + 1):
                model, seconds = train_file(task.path, epochs, args.workers, seed,
                                            **{**PAPER, **args.set, **cell})
                row = {"task": task_name, "cell": label(cell, epochs), "params": cell,
                       "epochs": epochs, "seed": seed, "train_s": seconds,
                       **task.score(model)}
                results.append(row)
                print("  " + ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}"
                                       for k, v in row.items() if k != "params"), flush=True)
                save(results, None)
    return results


def summarise(results):
    groups = {}
    for r in results:
        groups.setdefault((r["task"], r["cell"]), []).append(r)
    out = []
    for (task, cell), runs in groups.items():
        keys = [k for k, v in runs[0].items() if isinstance(v, float) and k != "train_s"]
        row = {"task": task, "cell": cell, "params": runs[0]["params"],
               "epochs": runs[0]["epochs"], "seeds": len(runs),
               "train_s": float(np.mean([r["train_s"] for r in runs]))}
        for k in keys:
            values = [r[k] for r in runs]
            row[k] = (float(np.mean(values)), float(np.std(values)))
        out.append(row)
    return out


# --- per-epoch curves -------------------------------------------------------------

class EpochScores:
    """on_epoch_end callback: the task's scores after every epoch."""

    def __init__(self, task, runs):
        self.task, self.runs, self.scores = task, runs, []

    def on_epoch_end(self, model):
        self.scores.append(self.task.score(model, self.runs))
        print(f"    epoch {len(self.scores)}: "
              + ", ".join(f"{k} {v:.3f}" for k, v in self.scores[-1].items()), flush=True)


def run_curves(args, tasks, summary, best=True):
    """Curves of the args.curves best cells of each task (of every row if not best)."""
    curves = []
    for task_name, task in tasks.items():
        rows = [r for r in summary if r["task"] == task_name]
        key = ((lambda r: r["nmi_kmeans"][0]) if task_name == "docs"
               else (lambda r: word_summary({k: v[0] for k, v in r.items()
                                             if isinstance(v, tuple)})))
        for row in (sorted(rows, key=key, reverse=True)[:args.curves] if best else rows):
            callback = EpochScores(task, runs=2)
            print(f"  curve: {task_name} {row['cell']}", flush=True)
            train_file(task.path, row["epochs"], args.workers, 1, callbacks=[callback],
                       **{**PAPER, **args.set, **row["params"]})
            curves.append({"task": task_name, "cell": row["cell"], "scores": callback.scores})
    return curves


def plot_curves(curves, out):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for c in curves:
        epochs = np.arange(1, len(c["scores"]) + 1)
        if c["task"] == "docs":
            for key, style in (("nmi_kmeans", "-"), ("macro_f1", "--")):
                axes[0].plot(epochs, [s[key] for s in c["scores"]], style,
                             label=f"{c['cell']}: {key}")
        else:
            for s in SHORT.values():
                axes[1].plot(epochs, [x[f"u {s}"] for x in c["scores"]],
                             label=f"{c['cell']}: u {s}")
    axes[0].set_title("20 Newsgroups per epoch")
    axes[1].set_title("wiki sample word similarity per epoch (u)")
    for ax in axes:
        ax.set_xlabel("epoch")
        ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(out / "study_defaults_curves.png", dpi=120)


# --- report ----------------------------------------------------------------------

def markdown(summary, args, curves):
    reduced = [f"{dim} {getattr(args, attr)} (full grid {FULL[dim]})"
               for dim, attr in (("objective", "objectives"), ("update_rule", "rules"),
                                 ("margin", "margins"), ("negative", "negatives"),
                                 ("epochs", "epochs"))
               if list(getattr(args, attr)) != FULL[dim]]
    lines = [f"# Defaults study ({time.strftime('%Y-%m-%d %H:%M')})", "",
             f"- {cpu_model()}, {os.cpu_count()} logical cores (shared with other work), "
             f"workers={args.workers}; jose from `{jose_origin()}`",
             f"- Command: `python benchmarks/study_defaults.py {shlex.join(sys.argv[1:])}`",
             f"- Fixed: {PAPER} {args.set or ''}; seeds 1..{args.seeds}, ± = std over seeds; "
             f"clustering {args.runs} runs per seed",
             f"- Reduced dimensions: {'; '.join(reduced) if reduced else 'none'}"]
    if args.word_epochs:
        lines.append(f"- Word cells use epochs {args.word_epochs}")
    lines.append("")
    docs = [r for r in summary if r["task"] == "docs"]
    if docs:
        lines += ["## 20 Newsgroups", "",
                  "| cell | seeds | " + " | ".join(t for _, t in DOC_METRICS) + " | train s |",
                  "|---|---:|" + "---|" * len(DOC_METRICS) + "---:|"]
        for r in docs:
            cells = " | ".join(f"{r[k][0]:.3f} ± {r[k][1]:.3f}" for k, _ in DOC_METRICS)
            lines.append(f"| {r['cell']} | {r['seeds']} | {cells} | {r['train_s']:.0f} |")
        lines.append("")
    words = [r for r in summary if r["task"] == "words"]
    if words:
        cols = [f"{t} {s}" for t in TABLES for s in SHORT.values()]
        lines += ["## wiki_en_sample word similarity (Spearman rho)", "",
                  "| cell | seeds | " + " | ".join(cols) + " | train s |",
                  "|---|---:|" + "---|" * len(cols) + "---:|"]
        for r in words:
            cells = " | ".join(f"{r[c][0]:.3f} ± {r[c][1]:.3f}" for c in cols)
            lines.append(f"| {r['cell']} | {r['seeds']} | {cells} | {r['train_s']:.0f} |")
        lines.append("")
    if curves:
        lines += ["## Per-epoch curves (seed 1; study_defaults_curves.png)", ""]
        for c in curves:
            key = "nmi_kmeans" if c["task"] == "docs" else "u WS-353"
            lines.append(f"- {c['task']} {c['cell']}: {key} by epoch "
                         + " ".join(f"{s[key]:.3f}" for s in c["scores"]))
        lines.append("")
    return "\n".join(lines) + "\n"


def parse_set(values):
    out = {}
    for v in values:
        key, _, value = v.partition("=")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value          # a bare string such as update_rule=paper
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tasks", nargs="+", choices=("docs", "words"), default=["docs", "words"])
    p.add_argument("--objectives", nargs="+", default=FULL["objective"])
    p.add_argument("--rules", nargs="+", default=FULL["update_rule"])
    p.add_argument("--margins", nargs="+", type=float, default=FULL["margin"])
    p.add_argument("--negatives", nargs="+", type=int, default=FULL["negative"])
    p.add_argument("--epochs", nargs="+", type=int, default=FULL["epochs"])
    p.add_argument("--word-epochs", nargs="+", type=int, default=None,
                   help="epochs for the word cells (default: --epochs)")
    p.add_argument("--set", nargs="*", default=[], help="KEY=VALUE for every cell")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--curves", type=int, default=1)
    p.add_argument("--curves-only", action="store_true",
                   help="no grid: a per-epoch curve for every given cell")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    p.add_argument("--tag", default="study_defaults")
    p.add_argument("--merge", nargs="+", type=Path, metavar="JSON",
                   help="train nothing: report the runs and curves of these result files together")
    args = p.parse_args(argv)
    args.set = parse_set(args.set)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.merge:
        results, curves = [], []
        for path in args.merge:
            loaded = json.loads(path.read_text())
            results += loaded["runs"]
            curves += loaded.get("curves") or []
        summary = summarise(results)
        (args.out / f"{args.tag}.json").write_text(json.dumps(
            {"argv": sys.argv[1:], "runs": results, "curves": curves, "summary": summary},
            indent=1))
        text = markdown(summary, args, curves)
        (args.out / f"{args.tag}.md").write_text(text)
        if curves:
            plot_curves(curves, args.out)
        print(text)
        return
    tasks = {"docs": Docs(args.runs)} if "docs" in args.tasks else {}
    if "words" in args.tasks:
        tasks["words"] = Words()

    def save(results, curves):
        (args.out / f"{args.tag}.json").write_text(json.dumps(
            {"argv": sys.argv[1:], "runs": results, "curves": curves,
             "summary": summarise(results)}, indent=1))

    if args.curves_only:
        # every given cell gets a curve; no grid runs
        summary = [{"task": t, "cell": label(c, e), "params": c, "epochs": e}
                   for t in tasks for c in cells(args)
                   for e in (args.epochs if t == "docs" else (args.word_epochs or args.epochs))]
        results = []
        curves = [c for row in summary for c in run_curves(args, {row["task"]: tasks[row["task"]]},
                                                           [row], best=False)]
        summary = []                  # nothing to tabulate but the curves
    else:
        results = run_grid(args, tasks, cells(args), save)
        summary = summarise(results)
        curves = run_curves(args, tasks, summary) if args.curves else []
    save(results, curves)
    text = markdown(summary, args, curves)
    (args.out / f"{args.tag}.md").write_text(text)
    if curves:
        plot_curves(curves, args.out)
    print(text)


if __name__ == "__main__":
    main()
