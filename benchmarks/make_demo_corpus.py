#!/usr/bin/env python3
"""Regenerate the bundled demo corpus ``jose/data/news5.txt.gz`` + ``news5.labels.txt``.

Selection rule (deterministic, no randomness):

* source: 20 Newsgroups "bydate" as preprocessed in ``../shared/data/20news``
  (``text.txt.gz`` one lower-cased tokenised document per line, ``label.txt``,
  ``classes.txt``, ``split.txt``);
* classes: comp.graphics, rec.sport.hockey, sci.med, sci.space,
  talk.politics.mideast;
* for each class, the first ``PER_CLASS`` (100) documents in source line order
  that are in the *train* split and have between ``MIN_TOKENS`` (50) and
  ``MAX_TOKENS`` (400) tokens inclusive;
* output order is interleaved round-robin over the classes in the order listed
  above (doc 1 of each class, then doc 2 of each class, ...), so every prefix of
  the corpus is class-balanced;
* each document is written exactly as its source line (tokens joined by single
  spaces); the gzip header has mtime=0 and no file name, so the output is
  byte-for-byte reproducible.

Usage (from the repository root)::

    python benchmarks/make_demo_corpus.py [SOURCE_DIR] [--out-dir jose/data]
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import os
import sys
from collections import Counter

CLASSES = [
    "comp.graphics",
    "rec.sport.hockey",
    "sci.med",
    "sci.space",
    "talk.politics.mideast",
]
PER_CLASS = 100
MIN_TOKENS = 50
MAX_TOKENS = 400
SPLIT = "train"

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_SOURCE = os.path.join(REPO_ROOT, "..", "shared", "data", "20news")
DEFAULT_OUT = os.path.join(REPO_ROOT, "jose", "data")


def _read_lines(path: str) -> list[str]:
    with open(path, encoding="utf-8") as f:
        return f.read().splitlines()


def select(source: str) -> tuple[list[str], list[str]]:
    """Return (document lines, label names) following the rule above."""
    names = {}
    for line in _read_lines(os.path.join(source, "classes.txt")):
        if line.strip():
            idx, name = line.split("\t")
            names[int(idx)] = name
    labels = [names[int(x)] for x in _read_lines(os.path.join(source, "label.txt"))]
    splits = _read_lines(os.path.join(source, "split.txt"))
    with gzip.open(os.path.join(source, "text.txt.gz"), "rt", encoding="utf-8") as f:
        texts = f.read().split("\n")
    if texts and texts[-1] == "":
        texts.pop()
    if not (len(texts) == len(labels) == len(splits)):
        raise SystemExit(f"length mismatch: text {len(texts)}, label {len(labels)}, split {len(splits)}")
    missing = [c for c in CLASSES if c not in names.values()]
    if missing:
        raise SystemExit(f"classes not found in classes.txt: {missing}")

    picked: dict[str, list[str]] = {c: [] for c in CLASSES}
    for text, label, split in zip(texts, labels, splits):
        if split != SPLIT or label not in picked or len(picked[label]) >= PER_CLASS:
            continue
        n = len(text.split(" ")) if text else 0
        if MIN_TOKENS <= n <= MAX_TOKENS:
            picked[label].append(text)
    for c in CLASSES:
        if len(picked[c]) != PER_CLASS:
            raise SystemExit(f"only {len(picked[c])} documents for {c}")

    docs, labs = [], []
    for i in range(PER_CLASS):
        for c in CLASSES:
            docs.append(picked[c][i])
            labs.append(c)
    return docs, labs


def write(docs: list[str], labs: list[str], out_dir: str) -> None:
    os.makedirs(out_dir, exist_ok=True)
    payload = "".join(d + "\n" for d in docs).encode("utf-8")
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, compresslevel=9, mtime=0) as gz:
        gz.write(payload)
    text_path = os.path.join(out_dir, "news5.txt.gz")
    with open(text_path, "wb") as f:
        f.write(buf.getvalue())
    label_path = os.path.join(out_dir, "news5.labels.txt")
    with open(label_path, "w", encoding="utf-8", newline="\n") as f:
        f.write("".join(l + "\n" for l in labs))

    tokens = Counter()
    for d, l in zip(docs, labs):
        tokens[l] += len(d.split(" "))
    counts = Counter(labs)
    print(f"wrote {text_path} ({len(buf.getvalue())} bytes, sha256 {hashlib.sha256(buf.getvalue()).hexdigest()[:16]})")
    print(f"wrote {label_path}")
    for c in CLASSES:
        print(f"  {c:24s} {counts[c]:4d} docs {tokens[c]:7d} tokens")
    print(f"  {'total':24s} {len(docs):4d} docs {sum(tokens.values()):7d} tokens, "
          f"{len({t for d in docs for t in d.split(' ')})} distinct")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("source", nargs="?", default=DEFAULT_SOURCE,
                    help="directory with the preprocessed 20news files (default: ../shared/data/20news)")
    ap.add_argument("--out-dir", default=DEFAULT_OUT, help="output directory (default: jose/data)")
    args = ap.parse_args(argv)
    docs, labs = select(args.source)
    write(docs, labs, args.out_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
