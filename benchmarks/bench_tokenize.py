"""Time count_corpus on a corpus file with and without --tokenize.

    python benchmarks/bench_tokenize.py [--corpus PATH] [--repeat N] [--label NAME]
        [--out benchmarks/results/tokenize.md]

Reports the best of N wall times of: reading + decompressing alone, counting
without tokenizing, counting with tokenize=True, and the pure-Python tokeniser
(re and str.lower per chunk, the implementation before the compiled one,
copied below). Appends a section to --out.
"""
import argparse
import os
import platform
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from local_jose import use_local_build  # noqa: E402

use_local_build()     # an in-place build of this tree, else the installed jose

import re  # noqa: E402
import unicodedata  # noqa: E402

from jose import textcorpus  # noqa: E402

# The tokeniser jose-train used before the compiled one (commit 048175e,
# jose/textcorpus.py), kept here to measure against in the same run.
_SEPARATORS = re.compile(r"[^\w\n]+")


def _simple_tokenize(data: bytes) -> bytes:
    text = unicodedata.normalize("NFC", data.decode("utf-8", "replace").lower())
    return _SEPARATORS.sub(" ", text.replace("_", " ")).encode("utf-8")


def _tokenized_chunks(chunks):
    carry = []
    for chunk in chunks:
        chunk = bytes(chunk)
        cut = 1 + max(chunk.rfind(space) for space in b" \t\n\v\f\r")
        if not cut:
            carry.append(chunk)
            continue
        carry.append(chunk[:cut])
        yield _simple_tokenize(b"".join(carry))
        carry = [chunk[cut:]]
    rest = b"".join(carry)
    if rest:
        yield _simple_tokenize(rest)

DEFAULT = os.environ.get("JOSE_DATA", "/work/shared/data") + "/20news/raw.txt.gz"


def best(fn, repeat):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return min(times), result


def read_only(path):
    n = 0
    for chunk in textcorpus._read_chunks(path, textcorpus.CHUNK_SIZE, None):
        n += len(chunk)
    return n


def python_tokenizer(path):
    counter = textcorpus._text.Counter()
    chunks = textcorpus._read_chunks(path, textcorpus.CHUNK_SIZE, None)
    for chunk in _tokenized_chunks(chunks):
        counter.feed(chunk)
    counter.finish()
    return counter.n_tokens, len(counter.export()[0])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--corpus", default=os.path.normpath(DEFAULT))
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--label", default="")
    p.add_argument("--out", default=None)
    args = p.parse_args()
    rows = []
    t, n_bytes = best(lambda: read_only(args.corpus), args.repeat)
    rows.append(("read + decompress only", t, "", ""))
    t, c = best(lambda: textcorpus.count_corpus(args.corpus), args.repeat)
    rows.append(("count, whitespace split", t, c.n_tokens, len(c.words)))
    t, c = best(lambda: textcorpus.count_corpus(args.corpus, tokenize=True), args.repeat)
    rows.append(("count, tokenize=True", t, c.n_tokens, len(c.words)))
    t, (n, v) = best(lambda: python_tokenizer(args.corpus), args.repeat)
    rows.append(("count, Python re tokeniser (before)", t, n, v))
    lines = [f"\n## {args.label or 'run'}: {os.path.basename(args.corpus)} "
             f"({n_bytes / 1e6:.1f} MB decompressed), best of {args.repeat}\n",
             f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
             f"Python {platform.python_version()}\n",
             "| pass | seconds | tokens | distinct words |", "|---|---|---|---|"]
    lines += [f"| {name} | {t:.2f} | {n:,} | {v:,} |" if n != "" else f"| {name} | {t:.2f} | | |"
              for name, t, n, v in rows]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        with open(args.out, "a", encoding="utf-8") as f:
            f.write(text)


if __name__ == "__main__":
    main()
