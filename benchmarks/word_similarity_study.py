"""Why are JoSE's word vectors weak on word similarity? One knob at a time.

The JoSE C program's word vectors reach WS-353 0.241 / MEN 0.291 /
SimLex-999 0.096 on ../shared/data/wiki_en_sample/tokens.txt.gz, against
word2vec skip-gram's 0.622 / 0.571 / 0.257. This script trains jose on the
same tokens with the paper's settings (100-d, window 10, 2 negatives, margin
0.15, alpha 0.04, sample 1e-3, min_count 5, 10 epochs) and changes one thing
at a time: the table read out (center u, context v, their sum), the update
rule, the margin, the number of negatives, the number of epochs, and the
document hinge (switched off). Writes results/word_similarity_study.md.

    python benchmarks/word_similarity_study.py [--epochs 10] [--only NAME ...]
"""
from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_paper import DATA, PAPER, SIM_SETS, cpu_model, train_file  # noqa: E402

#: name -> (changes to the paper settings, train the document hinge?)
VARIANTS = {
    "paper settings": ({}, True),
    "reference rule": ({"update_rule": "reference"}, True),
    "no document hinge": ({}, False),
    "margin 0.3": ({"margin": 0.3}, True),
    "margin 0.5": ({"margin": 0.5}, True),
    "negative 5": ({"negative": 5}, True),
    "20 epochs": ({"epochs": 20}, True),
}


def _words_only():
    from jose import JoSE

    class WordsOnly(JoSE):
        """JoSE without the word-document hinge (a study switch, not an option)."""

        def _trainer(self, corpus_tokens, epochs, **switches):
            return super()._trainer(corpus_tokens, epochs, train_docs=False, **switches)
    return WordsOnly


def score_tables(model, sets):
    from jose.evaluation import word_similarity
    from jose.keyedvectors import KeyedVectors, normalize_rows
    tables = {"u": model.wv, "v": model.cv,
              "u+v": KeyedVectors(model.wv.index_to_key,
                                  normalize_rows(model.wv.vectors + model.cv.vectors))}
    return {name: {s: word_similarity(kv, pairs) for s, pairs in sets.items()}
            for name, kv in tables.items()}


def main(argv=None):
    from jose.evaluation import read_similarity_pairs

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--workers", type=int, default=os.cpu_count())
    p.add_argument("--only", nargs="+", choices=list(VARIANTS))
    p.add_argument("--out", type=Path,
                   default=Path(__file__).resolve().parent / "results")
    args = p.parse_args(argv)
    sets = {s: read_similarity_pairs(DATA / "wordsim" / s) for s in SIM_SETS}
    corpus = DATA / "wiki_en_sample" / "tokens.txt.gz"
    lines = [f"# Word similarity study ({time.strftime('%Y-%m-%d')}, {cpu_model()}, "
             f"{os.cpu_count()} cores)", "",
             f"jose on `wiki_en_sample/tokens.txt.gz`, paper settings, {args.epochs} epochs unless "
             f"the variant says otherwise; Spearman rho (pairs covered / total).", "",
             "| variant | table | " + " | ".join(SIM_SETS) + " | train s |",
             "|---|---|" + "---|" * (len(SIM_SETS) + 1)]
    for name in args.only or VARIANTS:
        changes, documents = VARIANTS[name]
        params = {**PAPER, **changes}
        epochs = params.pop("epochs", args.epochs)
        model, seconds = train_file(corpus, epochs, args.workers, 1,
                                    cls=None if documents else _words_only(), **params)
        for table, res in score_tables(model, sets).items():
            cells = " | ".join(f"{r['spearman']:.3f} ({r['pairs_covered']}/{r['pairs_total']})"
                               for r in res.values())
            lines.append(f"| {name} | {table} | {cells} | {seconds:.0f} |")
            print(lines[-1], flush=True)
    lines += ["", f"Command: `python benchmarks/word_similarity_study.py {shlex.join(sys.argv[1:])}`"]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "word_similarity_study.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
