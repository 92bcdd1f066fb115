"""Peak memory of jose-train against corpus length.

Trains with `jose-train` (the streaming path; with --library, the same path
as a library call, JoSE(corpus_file=...).train()) on a corpus and on the same
corpus repeated N times, each in a fresh process, and reports each run's peak
resident memory (VmHWM). Memory should grow with the vocabulary and the number
of documents (one vector each), not with the corpus's length. With a fixed
--min-count the repeated corpus also has a larger vocabulary (a word seen twice
is seen eight times), so a third run scales --min-count with the repetition:
same vocabulary, N times the documents and tokens.

    python benchmarks/bench_memory.py [--corpus PATH] [--repeat 4] [--epochs 1] [--library]

Writes results/memory.md (results/memory_library.md with --library).
"""
from __future__ import annotations

import argparse
import gzip
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from local_jose import child_env, use_local_build  # noqa: E402

use_local_build()
DEFAULT_CORPUS = HERE.parent.parent / "shared" / "data" / "20news" / "text.txt.gz"

# Runs jose-train's main() and prints the process's peak RSS when it is done.
CHILD = """
import sys
from jose.cli import main
status = main(sys.argv[1:])
for line in open("/proc/self/status"):
    if line.startswith("VmHWM:"):
        print("PEAK_KB", line.split()[1])
sys.exit(status)
"""

# The same job through the library: JoSE(corpus_file=...).train(), vectors written.
CHILD_LIBRARY = """
import sys
from jose import JoSE
corpus, epochs, min_count, words = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
model = JoSE(corpus_file=corpus, vector_size=100, window=10, negative=2, min_count=min_count,
             epochs=epochs).train()
model.wv.save_word2vec_format(words)
for line in open("/proc/self/status"):
    if line.startswith("VmHWM:"):
        print("PEAK_KB", line.split()[1])
"""


def repeated_copy(corpus: Path, times: int, out: Path) -> Path:
    """The corpus `times` over, gzipped (documents stay whole lines)."""
    with gzip.open(corpus, "rb") as f:
        data = f.read()
    if not data.endswith(b"\n"):
        data += b"\n"
    with gzip.open(out, "wb", compresslevel=1) as f:
        for _ in range(times):
            f.write(data)
    return out


def peak_rss_mb(corpus: Path, epochs: int, workdir: Path, min_count: int = 5,
                library: bool = False):
    """(peak RSS in MB, wall seconds, vocabulary size) of one jose-train run (or
    of JoSE(corpus_file=...).train() with library=True)."""
    if library:
        args = [sys.executable, "-c", CHILD_LIBRARY, str(corpus), str(epochs), str(min_count),
                str(workdir / "w.txt")]
    else:
        args = [sys.executable, "-c", CHILD, str(corpus), "--size", "100", "--window", "10",
                "--negative", "2", "--min-count", str(min_count), "--epochs", str(epochs),
                "--quiet", "--word-output", str(workdir / "w.txt"),
                "--doc-output", str(workdir / "d.txt")]
    # the child imports the jose this process would (an in-place build wins),
    # from a directory where no other `jose` can shadow it
    start = time.perf_counter()
    out = subprocess.run(args, capture_output=True, text=True, check=True, env=child_env(),
                         cwd=workdir).stdout
    seconds = time.perf_counter() - start
    kb = next(int(line.split()[1]) for line in out.splitlines() if line.startswith("PEAK_KB"))
    with open(workdir / "w.txt") as f:
        vocabulary = int(f.readline().split()[0])
    return kb / 1024, seconds, vocabulary


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    p.add_argument("--repeat", type=int, default=4)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--out", type=Path, default=HERE / "results")
    p.add_argument("--library", action="store_true",
                   help="measure JoSE(corpus_file=...).train() instead of jose-train")
    args = p.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="jose-memory-"))
    try:
        big = repeated_copy(args.corpus, args.repeat, work / "repeated.txt.gz")
        rows = []
        for label, corpus, min_count in (
                (args.corpus.name, args.corpus, 5),
                (f"{args.corpus.name} x{args.repeat}", big, 5),
                (f"{args.corpus.name} x{args.repeat}", big, 5 * args.repeat)):
            mb, seconds, vocabulary = peak_rss_mb(corpus, args.epochs, work, min_count,
                                                  library=args.library)
            rows.append((label, min_count, vocabulary, mb, seconds))
            print(f"{label} --min-count {min_count}: {vocabulary} words, peak RSS {mb:.0f} MB "
                  f"({seconds:.0f} s)", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    what = "JoSE(corpus_file=...).train()" if args.library else "jose-train"
    lines = [f"# {what} peak memory ({time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores)", "",
             "| corpus | --min-count | vocabulary | peak RSS MB | wall s |", "|---|---|---|---|---|"]
    lines += [f"| {label} | {mc} | {voc:,} | {mb:.0f} | {s:.0f} |" for label, mc, voc, mb, s in rows]
    lines += ["", f"Growth for {args.repeat}x the corpus: {rows[1][3] - rows[0][3]:+.0f} MB with the same "
              f"--min-count (a larger vocabulary), {rows[2][3] - rows[0][3]:+.0f} MB with the same "
              f"vocabulary (target: at most 64 MB; 20 Newsgroups within 200 MB).", "",
              f"Command: `python benchmarks/bench_memory.py {shlex.join(sys.argv[1:])}`"]
    args.out.mkdir(parents=True, exist_ok=True)
    name = "memory_library.md" if args.library else "memory.md"
    (args.out / name).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
