"""`jose-infer`: document vectors for every line of a corpus file, from a saved model.

    jose-infer news.jose new.txt.gz --output new.docs.txt      # word2vec text
    jose-infer news.jose new.txt --output new.npy --threads 2  # numpy rows

One document per line, read exactly as jose-train reads its corpus (ASCII
whitespace, or --tokenize), plain or .gz/.bz2/.xz. Every line gets a row,
keyed by its 0-based line number in the word2vec formats; a line with no
vocabulary word gets a zero row (and is counted in the summary). The corpus
is streamed in blocks through the batch inference kernel, so memory does not
grow with its length; the output is written atomically (a failed or
interrupted run leaves no partial file and an old file intact). Everything
that can be checked -- the model, the corpus file, the output's directory --
is checked before the long work starts.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

from .cli import UsageError, run_command

PROG = "jose-infer"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG, allow_abbrev=False,
        description="Infer a JoSE document vector for every line of a text file with a "
                    "saved model (jose-train --model-output or JoSE.save).",
        epilog="example: jose-infer news.jose test.txt.gz --output test.docs.txt --threads 2")
    add = p.add_argument
    add("model", metavar="MODEL_DIR", help="a saved jose model directory")
    add("corpus", metavar="CORPUS", help="text, one document per line (.gz/.bz2/.xz ok)")
    add("--output", "-o", required=True, metavar="FILE",
        help="where to write the vectors: FILE.npy for a float32 numpy array (one row per "
             "line), otherwise word2vec text (or --binary) keyed by 0-based line number; "
             ".gz/.bz2/.xz compress word2vec output")
    add("--binary", action="store_true", help="binary word2vec output (default: text)")
    add("--tokenize", action="store_true",
        help="lower-case and split on non-alphanumerics first, as jose-train --tokenize "
             "(default: split on whitespace only); use what the model was trained with")
    add("--threads", type=int, default=None, metavar="N",
        help="worker threads (default: the machine's cores)")
    add("--epochs", type=int, default=None, metavar="N",
        help="inference passes over each document (default: the model's epochs)")
    add("--seed", type=int, default=None, metavar="N", help="seed (default: the model's)")
    add("--quiet", action="store_true", help="no progress bar")
    return p


def main(argv=None) -> int:
    return run_command(PROG, run, build_parser().parse_args(argv))


def run(args) -> int:
    from .model import JoSE, _positive_int, available_cores
    from .textcorpus import CorpusFileError, _check_file

    started = time.perf_counter()
    output = Path(args.output)
    kind = "npy" if output.suffix.lower() == ".npy" else "word2vec"
    if kind == "npy" and args.binary:
        raise UsageError("--binary is for word2vec output; a .npy output is always binary")
    for name in ("threads", "epochs"):
        value = getattr(args, name)
        if value is not None:
            try:
                _positive_int(name, value)
            except ValueError as e:
                raise UsageError(f"--{e}") from None
    if args.seed is not None and args.seed < 0:
        raise UsageError(f"--seed must be a non-negative integer, got {args.seed}")
    check_writable(output)
    if output.exists() and os.path.exists(args.corpus) and os.path.samefile(output, args.corpus):
        raise UsageError(f"--output {output} is the corpus file: it would be replaced")
    try:
        _check_file(args.corpus)
    except CorpusFileError as e:
        raise UsageError(str(e)) from None
    model_path = Path(args.model)
    if model_path.exists() and model_path.is_dir() and output.resolve().is_relative_to(
            model_path.resolve()):
        raise UsageError(f"--output {output} is inside the model directory {model_path}")
    try:
        model = JoSE.load(model_path, mmap="r", inference_only=True)
    except FileNotFoundError as e:
        raise UsageError(str(e)) from None
    threads = args.threads or available_cores()

    n_lines = count_lines(args.corpus)
    with open_output(output, kind, args.binary, n_lines, model.vector_size) as write:
        stats = infer_file(model, args.corpus, write, tokenize=args.tokenize, workers=threads,
                           epochs=args.epochs, seed=args.seed, quiet=args.quiet)
        if stats["lines"] != n_lines:
            raise ValueError(f"{args.corpus}: read {stats['lines']:,} lines, counted "
                             f"{n_lines:,} before: did the file change while reading?")
    seconds = time.perf_counter() - started
    print(f"{PROG}: {stats['lines']:,} lines, {stats['empty']:,} with no vocabulary word "
          f"(zero rows); {stats['lines'] / max(stats['seconds'], 1e-9):,.0f} documents/s on "
          f"{threads} thread(s); total {seconds:.1f} s; wrote {output}")
    return 0


def check_writable(path: Path) -> None:
    """Fail before the long work, not after it, if `path` cannot be written."""
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise UsageError(f"cannot write --output {path}: it is a directory")
    if not parent.is_dir():
        raise UsageError(f"cannot write --output {path}: no directory {parent}")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"cannot write --output {path}: {parent} is not writable")
    if path.exists() and not os.access(path, os.W_OK):
        raise UsageError(f"cannot write --output {path}: permission denied")


def count_lines(path) -> int:
    """Lines as jose-train counts documents: every '\\n', plus an unterminated last line."""
    from .textcorpus import CHUNK_SIZE, _read_chunks
    n, last = 0, b"\n"
    for chunk in _read_chunks(os.fspath(path), CHUNK_SIZE, None):
        n += chunk.tobytes().count(b"\n")
        last = chunk[-1:].tobytes()
    return n + (last != b"\n")


def infer_file(model, path, write, tokenize=False, workers=1, epochs=None, seed=None,
               quiet=True, chunk_size=None):
    """Stream `path` through the model: `write(vectors)` gets each block's rows,
    in line order. Returns {"lines", "empty", "seconds"} (seconds: inference)."""
    from . import _text
    from .textcorpus import CHUNK_SIZE, _scan

    path = os.fspath(path)
    model._require_vocab("inference")
    epochs = model.inference_epochs if epochs is None else epochs
    seed = model.seed if seed is None else seed
    encoder = _text.Encoder(model.vocab.key_to_index, tokenize=tokenize)
    update, close = _byte_bar(path, quiet)
    lines = empty = 0
    seconds = 0.0
    end = 0                     # in-vocabulary tokens before the pending block

    def flush():
        nonlocal lines, empty, end, seconds
        ids, ends = encoder.take()
        ends = np.frombuffer(ends, dtype=np.int64)
        if not len(ends):
            # no line finished in this chunk: keep its tokens for the next one
            pending.append(np.frombuffer(ids, dtype=np.int32))
            return
        tokens = np.concatenate(pending + [np.frombuffer(ids, dtype=np.int32)])
        pending.clear()
        done = int(ends[-1]) - end
        offsets = np.concatenate([[0], ends - end]).astype(np.int64)
        t0 = time.perf_counter()
        vectors, known = model._infer_encoded(
            np.ascontiguousarray(tokens[:done]), offsets, epochs, model.alpha, workers,
            seed, True)
        seconds += time.perf_counter() - t0
        write(vectors)
        lines += len(vectors)
        empty += int((~known).sum())
        if done < len(tokens):      # tokens of a line still open
            pending.append(tokens[done:].copy())
        end = int(ends[-1])

    pending: list = []
    try:
        # one worker: a block per chunk, and a last one once the encoder is finished
        for _ in _scan(lambda: encoder, path, update, chunk_size or CHUNK_SIZE, workers=1):
            flush()
    finally:
        close()
    return {"lines": lines, "empty": empty, "seconds": seconds}


def _byte_bar(path, quiet):
    if quiet:
        return None, lambda: None
    from tqdm import tqdm
    bar = tqdm(total=os.path.getsize(path), unit="B", unit_scale=True, desc="inferring",
               leave=False, file=sys.stderr)
    return bar.update, bar.close


class open_output:
    """An atomic output file taking blocks of rows; the header is written first
    (the row count is known from count_lines), the file renamed into place
    only when every row has been written."""

    def __init__(self, path: Path, kind: str, binary: bool, n_rows: int, dim: int):
        self.path, self.kind, self.binary = path, kind, binary
        self.n_rows, self.dim, self.written = n_rows, dim, 0

    def __enter__(self):
        from .atomic import atomic_file
        from .w2v_format import _OPENERS
        self._atomic = atomic_file(self.path, "wb")
        raw = self._atomic.__enter__()
        opener = _OPENERS.get(self.path.suffix.lower()) if self.kind == "word2vec" else None
        self._stream = opener(raw, "wb") if opener else raw
        if self.kind == "npy":
            np.lib.format.write_array_header_1_0(
                self._stream, {"descr": "<f4", "fortran_order": False,
                               "shape": (self.n_rows, self.dim)})
        else:
            self._stream.write(f"{self.n_rows} {self.dim}\n".encode("ascii"))
        return self.write

    def write(self, vectors: np.ndarray):
        from .w2v_format import _write_binary_rows, _write_text_rows
        if self.written + len(vectors) > self.n_rows:
            raise ValueError(f"more lines than the {self.n_rows:,} counted: did the corpus "
                             f"change while reading?")
        if self.kind == "npy":
            self._stream.write(np.ascontiguousarray(vectors, dtype="<f4").tobytes())
        else:
            keys = [str(i) for i in range(self.written, self.written + len(vectors))]
            if self.binary:
                _write_binary_rows(self._stream, keys, vectors)
            else:
                _write_text_rows(self._stream, keys, vectors, 6)
        self.written += len(vectors)

    def __exit__(self, exc_type, exc, tb):
        try:
            if exc_type is None:
                if self.written != self.n_rows:
                    raise ValueError(f"wrote {self.written:,} rows for {self.n_rows:,} lines")
                if _is_compressor(self._stream):
                    self._stream.close()      # the compressed trailer; not the raw file
        except BaseException as e:
            self._atomic.__exit__(type(e), e, e.__traceback__)
            raise
        return self._atomic.__exit__(exc_type, exc, tb)


def _is_compressor(stream) -> bool:
    import bz2
    import gzip
    import lzma
    return isinstance(stream, (gzip.GzipFile, bz2.BZ2File, lzma.LZMAFile))


if __name__ == "__main__":
    sys.exit(main())
