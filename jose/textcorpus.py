"""Corpus files of any size, streamed: counting, encoding to disk, reading back.

The input format is the JoSE C program's: one document per line (every line,
empty ones and an unterminated last one included), tokens separated by ASCII
whitespace. Files may be plain or compressed (.gz, .bz2, .xz).

Two streaming passes keep peak memory independent of corpus length:
`count_corpus` counts words (memory grows with the vocabulary only), and
`encode_corpus` writes the in-vocabulary word ids and document offsets to
binary files that `DiskCorpus` reads back a range of documents at a time.
`TextCorpus` reads a file as token lists, one per line, in the same format.
Training from a file goes through `jose.filecorpus` (JoSE(corpus_file=...)).
"""
from __future__ import annotations

import bz2
import contextlib
import gzip
import lzma
import os
import threading
import zlib
from typing import BinaryIO, Callable, Iterator, NamedTuple, Optional

import numpy as np

from . import _text
from .parallel import ordered_map

CHUNK_SIZE = 1 << 20
TOKENS_FILE = "tokens.i32"
OFFSETS_FILE = "offsets.i64"

# Each opener takes a path or a binary file object, like gzip.open does.
_OPENERS = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}
# What the decompressors raise on corrupt or truncated data.
_DECOMPRESS_ERRORS = (OSError, EOFError, zlib.error, lzma.LZMAError)

Progress = Optional[Callable[[int], object]]


class CorpusFileError(ValueError):
    """A corpus file is missing, unreadable, empty or corrupt."""


class CorpusCounts(NamedTuple):
    words: list            # distinct words (str), in no particular order
    counts: np.ndarray     # int64 occurrences of each word (lower bounds if pruned)
    n_docs: int            # lines
    n_tokens: int          # token occurrences
    n_invalid_utf8: int    # token occurrences whose bytes were not valid UTF-8
    pruned_words: int = 0  # table entries dropped by max_vocab_size pruning
    min_reduce: int = 1    # words counted fewer times than this may have been dropped


def _opener(path: str):
    return _OPENERS.get(os.path.splitext(path)[1].lower())


def _check_file(path: str) -> None:
    """Raise CorpusFileError unless `path` is a readable, non-empty corpus file."""
    if not os.path.exists(path):
        raise CorpusFileError(f"{path}: no such file")
    if os.path.isdir(path):
        raise CorpusFileError(f"{path}: is a directory, not a corpus file")
    try:
        with open(path, "rb") as raw:
            if os.fstat(raw.fileno()).st_size == 0:
                raise CorpusFileError(f"{path}: file is empty")
            opener = _opener(path)
            if opener is not None:
                with opener(raw, "rb") as stream:
                    first = _read_or_fail(path, stream.read, 1)
                if not first:
                    raise CorpusFileError(f"{path}: compressed file decompresses to nothing")
    except PermissionError:
        raise CorpusFileError(f"{path}: permission denied") from None


def _read_or_fail(path: str, read, *args):
    """Call read(*args), turning a decompression or I/O error into CorpusFileError."""
    try:
        return read(*args)
    except _DECOMPRESS_ERRORS as exc:
        what = "corrupt compressed data" if _opener(path) else "read error"
        raise CorpusFileError(f"{path}: {what} ({exc})") from exc


def open_text(path) -> BinaryIO:
    """Open a corpus file for reading bytes, decompressing .gz/.bz2/.xz.

    Raises CorpusFileError, naming the path, for a missing file, a directory,
    an unreadable file, an empty file (or one that decompresses to nothing) and
    a compressed file whose start is corrupt.
    """
    path = os.fspath(path)
    _check_file(path)
    opener = _opener(path) or open
    return opener(path, "rb")


def _read_chunks(path: str, chunk_size: int, progress: Progress) -> Iterator[memoryview]:
    """Yield the decompressed bytes of a checked corpus file in chunks.

    Each chunk is a view of one reused buffer, valid until the next is
    yielded. `progress(n)` is told how many bytes of the file on disk (for a
    compressed file: compressed bytes) were consumed since the last call, so
    a bar with total os.path.getsize(path) ends at 100%.
    """
    opener = _opener(path)
    buffer = memoryview(bytearray(chunk_size))
    with open(path, "rb") as raw, \
            (opener(raw, "rb") if opener else contextlib.nullcontext(raw)) as stream:
        position = 0
        while True:
            n = _read_or_fail(path, stream.readinto, buffer)
            if not n:
                return
            if progress is not None:
                now = raw.tell()
                progress(now - position)
                position = now
            yield buffer[:n]


def _line_blocks(path: str, chunk_size: int, progress: Progress,
                 tail: list) -> Iterator[list]:
    """The decompressed bytes of a checked corpus file as blocks of whole
    lines, for scanners in other threads: each block is a list of buffers
    (fresh ones, not reused) whose last byte is a '\n'. Bytes after the
    file's last '\n' (an unterminated last line) are not yielded but left in
    `tail`, a list of buffers. `progress` as for _read_chunks.
    """
    opener = _opener(path)
    with open(path, "rb") as raw, \
            (opener(raw, "rb") if opener else contextlib.nullcontext(raw)) as stream:
        position = 0
        carried: list = []          # the line the previous chunk(s) ended in
        while True:
            buffer = bytearray(chunk_size)
            n = _read_or_fail(path, stream.readinto, buffer)
            if not n:
                break
            if progress is not None:
                now = raw.tell()
                progress(now - position)
                position = now
            view = memoryview(buffer)[:n]
            cut = buffer.rfind(b"\n", 0, n)
            if cut < 0:             # no line ends in this chunk
                carried.append(view)
                continue
            yield carried + [view[:cut + 1]]
            carried = [view[cut + 1:]] if cut + 1 < n else []
    tail.extend(carried)


def _tokenized_chunks(chunks: Iterator[memoryview]) -> Iterator[bytes]:
    """A chunk stream rewritten by the compiled --tokenize rule (see
    jose/_text.pyx): space-separated tokens, the same lines (an unterminated
    last line gets its '\n')."""
    retokenizer = _text.Retokenizer()
    for chunk in chunks:
        retokenizer.feed(chunk)
        yield retokenizer.take()
    retokenizer.finish()
    yield retokenizer.take()


def _scan(new_scanner: Callable, path: str, progress: Progress, chunk_size: int,
          workers: int, take: bool = False) -> Iterator[tuple]:
    """Scan a checked corpus file with _text scanners made by new_scanner(),
    yielding (scanner, output, before) for each block of it, in file order:
    output is scanner.take() after the block if `take` (else None), before
    the scanner's n_kept when the block started. Every scanner made comes
    with at least one block.

    One worker feeds the file's chunks to one scanner in this thread, and
    finishes it. workers > 1 scan blocks of whole lines in that many
    threads, one scanner each, while this thread reads (and decompresses)
    the file; one more scanner takes an unterminated last line.
    """
    if workers <= 1:
        scanner = new_scanner()
        for chunk in _read_chunks(path, chunk_size, progress):
            before = scanner.n_kept
            scanner.feed(chunk)
            yield scanner, scanner.take() if take else None, before
        before = scanner.n_kept
        scanner.finish()
        yield scanner, scanner.take() if take else None, before
        return
    local = threading.local()

    def scan(block):
        scanner = getattr(local, "scanner", None)
        if scanner is None:
            scanner = local.scanner = new_scanner()
        before = scanner.n_kept
        for part in block:
            scanner.feed(part)
        return scanner, scanner.take() if take else None, before

    tail: list = []
    yield from ordered_map(scan, _line_blocks(path, chunk_size, progress, tail), workers)
    last = new_scanner()                # the unterminated last line, if any
    for part in tail:
        last.feed(part)
    last.finish()
    yield last, last.take() if take else None, 0


def count_corpus(path, tokenize: bool = False, progress: Progress = None,
                 chunk_size: int = CHUNK_SIZE, max_vocab_size: Optional[int] = None,
                 workers: int = 1) -> CorpusCounts:
    """Count words, documents and tokens of a corpus file in one streaming pass.

    Words are keyed by their raw bytes and decoded as UTF-8 with
    errors='replace'; raw words that decode to the same str are merged.
    With tokenize=True the text is lower-cased and split on non-alphanumerics
    by the compiled scanner (the rule is in jose/_text.pyx; undecodable bytes
    then act as separators, so n_invalid_utf8 is 0). Memory grows with the
    vocabulary, not with the corpus; `max_vocab_size` bounds it by pruning
    rare words while counting, as gensim does (see _text.Counter), which makes
    the counts lower bounds.

    workers > 1 counts blocks of whole lines in that many threads, each with
    its own table, while this thread reads (and decompresses) the file, then
    adds the tables up: the same counts, in another order. Until then each
    thread's table holds most of the vocabulary, so the tables take up to
    `workers` times the memory of one. Pruning depends on the order the
    words come in, so with max_vocab_size one thread counts.
    """
    path = os.fspath(path)
    _check_file(path)
    if max_vocab_size is not None:
        workers = 1
    counters = {id(c): c for c, _, _ in _scan(
        lambda: _text.Counter(tokenize=tokenize, max_vocab_size=max_vocab_size),
        path, progress, chunk_size, workers)}
    total, _ = _merged(list(counters.values()))
    return _counts_of(total)


def _merged(counters: list):
    """Add the counters' tables into the largest (it is the smallest
    amount of work): returns (that counter, where), where[i] mapping the
    ids of counters[i] to the merged table's (None for the largest)."""
    largest = max(range(len(counters)), key=lambda i: len(counters[i]))
    total = counters[largest]
    return total, [None if i == largest else total.merge(c) for i, c in enumerate(counters)]


def _counts_of(counter, exported=None) -> CorpusCounts:
    """The CorpusCounts of a Counter (`exported`: its export(), if taken already)."""
    words, counts, valid = exported or counter.export()
    n_invalid = int(counts[~valid].sum())
    if n_invalid:
        words, counts = _merge_equal_words(words, counts)
    return CorpusCounts(words, counts, counter.n_docs, counter.n_tokens, n_invalid,
                        counter.pruned_words, counter.min_reduce)


def _merge_equal_words(words: list, counts: np.ndarray):
    """Sum the counts of equal words (distinct raw bytes that decoded alike)."""
    totals: dict = {}
    for word, count in zip(words, counts.tolist()):
        totals[word] = totals.get(word, 0) + count
    return list(totals), np.fromiter(totals.values(), dtype=np.int64, count=len(totals))


class _EncodedFiles:
    """tokens.i32 and offsets.i64 of `out_dir`, written to .part files that
    replace the final ones only in commit(), so an interrupted pass leaves
    no partial files behind (discard() removes them). Blocks are written in
    file order; a block's document ends count from `before` (what its
    scanner had counted when the block started) and are shifted to count
    from the start of the file."""

    def __init__(self, out_dir: str):
        self.final = [os.path.join(out_dir, TOKENS_FILE), os.path.join(out_dir, OFFSETS_FILE)]
        self.partial = [name + ".part" for name in self.final]
        self.tokens = self.offsets = None
        self.n_tokens = 0
        try:
            self.tokens = open(self.partial[0], "wb")
            self.offsets = open(self.partial[1], "wb")
            self.offsets.write(np.zeros(1, dtype=np.int64).tobytes())
        except BaseException:
            self.discard()
            raise

    def write(self, ids: bytes, ends: bytes, before: int):
        """Append one block; returns its (tokens, documents)."""
        self.tokens.write(ids)
        if before != self.n_tokens and ends:
            ends = (np.frombuffer(ends, dtype=np.int64) + (self.n_tokens - before)).tobytes()
        self.offsets.write(ends)
        n = len(ids) // 4
        self.n_tokens += n
        return n, len(ends) // 8

    def close(self) -> None:
        for f in (self.tokens, self.offsets):
            if f is not None:
                f.close()

    def commit(self) -> None:
        self.close()
        for src, dst in zip(self.partial, self.final):
            os.replace(src, dst)

    def discard(self) -> None:
        self.close()
        for name in self.partial:
            with contextlib.suppress(FileNotFoundError):
                os.remove(name)


def encode_corpus(path, key_to_index: dict, out_dir, tokenize: bool = False,
                  progress: Progress = None, chunk_size: int = CHUNK_SIZE,
                  workers: int = 1) -> "DiskCorpus":
    """Encode a corpus file into `out_dir`/tokens.i32 and offsets.i64.

    Every token is mapped through `key_to_index` (str -> id; absent or
    negative: dropped), a token with undecodable bytes by its errors='replace'
    decoding, as count_corpus reports it; pass the same `tokenize`. Output is
    written per chunk to temporary files that replace the final ones only when
    the pass completes, so an interrupted pass leaves no partial files behind.
    workers > 1 encodes blocks of whole lines in that many threads while this
    thread reads the file and writes their results in order: the same files.
    (count_and_encode does this pass and count_corpus's as one.)
    """
    path, out_dir = os.fspath(path), os.fspath(out_dir)
    _check_file(path)
    encoder = _text.Encoder(key_to_index, tokenize=tokenize)
    out = _EncodedFiles(out_dir)
    try:
        for _, output, before in _scan(encoder.clone, path, progress, chunk_size, workers,
                                       take=True):
            out.write(*output, before)
        out.commit()
    finally:
        out.discard()
    return DiskCorpus(out_dir)


def count_and_encode(path, out_dir, tokenize: bool = False, progress: Progress = None,
                     chunk_size: int = CHUNK_SIZE, workers: int = 1):
    """count_corpus and encode_corpus in one pass over the file: returns
    (CorpusCounts, PendingEncoding). Call the second's finish(key_to_index)
    once the vocabulary is cut from the counts, or its discard().

    Each scanner numbers words in the order it first meets them and writes
    those provisional ids to `out_dir`'s .part files as it counts; finish()
    maps them to the vocabulary's ids in place. The file is read and
    tokenized once instead of twice, and the results are the same as
    count_corpus + encode_corpus give, for any number of workers. (Not with
    max_vocab_size: pruning renumbers the words.)
    """
    path, out_dir = os.fspath(path), os.fspath(out_dir)
    _check_file(path)
    out = _EncodedFiles(out_dir)
    try:
        blocks, counters = [], {}   # blocks: (its counter's number, tokens, documents)
        for counter, output, before in _scan(
                lambda: _text.Counter(tokenize=tokenize, record=True),
                path, progress, chunk_size, workers, take=True):
            number = counters.setdefault(id(counter), (len(counters), counter))[0]
            blocks.append((number, *out.write(*output, before)))
        out.close()
        total, where = _merged([counter for _, counter in counters.values()])
        exported = total.export()
        return _counts_of(total, exported), PendingEncoding(
            out, blocks, where, exported[0], os.path.getsize(path), out_dir)
    except BaseException:
        out.discard()
        raise


class PendingEncoding:
    """A corpus file encoded with provisional ids by count_and_encode.

    finish(key_to_index) maps each block's ids (numbered by the counter that
    read it) to the vocabulary's, drops the words outside it, rewrites the
    document ends to match, in place, and renames the files into place: the
    DiskCorpus that encode_corpus would have written, once. discard()
    removes the files instead (after a failed finish too).
    """

    def __init__(self, out: _EncodedFiles, blocks: list, where: list, words: list,
                 file_size: int, out_dir: str):
        self._out, self._blocks, self._where, self._words = out, blocks, where, words
        self._file_size, self.out_dir = file_size, out_dir

    def finish(self, key_to_index: dict, progress: Progress = None) -> "DiskCorpus":
        """`progress(n)` is told the file's bytes in proportion to the tokens
        done, so that a bar over the file's size ends at 100%."""
        try:
            merged = np.fromiter((key_to_index.get(w, -1) for w in self._words),
                                 dtype=np.int32, count=len(self._words))
            remaps = [merged if w is None else merged[w] for w in self._where]
            tokens_path, offsets_path = self._out.partial
            with open(tokens_path, "r+b") as tokens, open(offsets_path, "r+b") as offsets:
                _remap_in_place(tokens, offsets, self._blocks, remaps,
                                _share_of(progress, self._file_size, self._out.n_tokens))
            self._out.commit()
        finally:
            self._out.discard()
        return DiskCorpus(self.out_dir)

    def discard(self) -> None:
        self._out.discard()


def _share_of(progress: Progress, total: int, n_tokens: int):
    """f(done_tokens) calling progress with its share of `total` since the last call."""
    if progress is None:
        return None
    told = 0

    def update(done: int):
        nonlocal told
        now = total if done >= n_tokens else total * done // max(n_tokens, 1)
        progress(now - told)
        told = now
    return update


def _remap_in_place(tokens: BinaryIO, offsets: BinaryIO, blocks: list, remaps: list,
                    progress) -> None:
    """Map the tokens of each block (counter, n_tokens, n_docs) through
    remaps[counter], keep those >= 0, packed to the front of the file, and
    rewrite the block's document ends to count the kept tokens only.

    A block's ends e lie in [read, read + n] (they were counted while its
    tokens were), and the new end is write + (the tokens kept among the
    block's first e - read).
    """
    read = write = 0
    doc = 1                              # offsets[0] is 0 and stays
    for counter, n, n_docs in blocks:
        tokens.seek(4 * read)
        ids = remaps[counter][_read_array(tokens, np.int32, n)]
        keep = ids >= 0
        tokens.seek(4 * write)
        tokens.write(memoryview(np.ascontiguousarray(ids[keep])).cast("B"))
        if n_docs:
            offsets.seek(8 * doc)
            ends = _read_array(offsets, np.int64, n_docs)
            kept_before = np.zeros(n + 1, dtype=np.int64)
            np.cumsum(keep, out=kept_before[1:])
            offsets.seek(8 * doc)
            offsets.write((write + kept_before[ends - read]).tobytes())
        read += n
        write += int(np.count_nonzero(keep))
        doc += n_docs
        if progress is not None:
            progress(read)
    tokens.truncate(4 * write)
    if progress is not None:
        progress(read)


class DiskCorpus:
    """An encoded corpus on disk, read back by ranges of whole documents.

    `out_dir` holds tokens.i32 (int32 word ids, native byte order) and
    offsets.i64 (int64, n_docs + 1 cumulative document ends, starting at 0).
    Attributes: n_docs, n_tokens (in-vocabulary tokens), out_dir, tokens_path
    and offsets_path.
    """

    def __init__(self, out_dir):
        self.out_dir = os.fspath(out_dir)
        self.tokens_path = os.path.join(self.out_dir, TOKENS_FILE)
        self.offsets_path = os.path.join(self.out_dir, OFFSETS_FILE)
        tokens_size = os.path.getsize(self.tokens_path)
        offsets_size = os.path.getsize(self.offsets_path)
        if offsets_size == 0 or offsets_size % 8 or tokens_size % 4:
            raise ValueError(f"{self.out_dir}: encoded corpus files have impossible sizes "
                             f"({offsets_size} and {tokens_size} bytes)")
        self.n_docs = offsets_size // 8 - 1
        self._offsets = None
        self._tokens = None   # memory map of the tokens file, opened by gather
        self.n_tokens = tokens_size // 4
        with open(self.offsets_path, "rb") as f:
            first = _read_array(f, np.int64, 1)[0]
            f.seek(-8, os.SEEK_END)
            last = _read_array(f, np.int64, 1)[0]
        if first != 0 or last != self.n_tokens:
            raise ValueError(f"{self.out_dir}: offsets run from {first} to {last}, "
                             f"expected 0 to the {self.n_tokens} tokens")

    @property
    def offsets(self) -> np.ndarray:
        """All n_docs + 1 document boundaries (8 bytes a document), read once."""
        if self._offsets is None:
            self._offsets = np.fromfile(self.offsets_path, dtype=np.int64)
            if np.any(np.diff(self._offsets) < 0):
                raise ValueError(f"{self.offsets_path}: document offsets decrease")
        return self._offsets

    def read_range(self, start: int, end: int):
        """Documents start..end-1 as a `jose.corpus.Batch` (own rows as tags)."""
        from .corpus import Batch, own_rows

        offsets = self.offsets
        base = int(offsets[start])
        with open(self.tokens_path, "rb") as f:
            f.seek(base * 4)
            tokens = _read_array(f, np.int32, int(offsets[end]) - base)
        doc_ids = np.arange(start, end, dtype=np.int64)
        return Batch(doc_ids, tokens, offsets[start:end + 1] - base, *own_rows(doc_ids))

    def gather(self, doc_ids):
        """Documents doc_ids (any order) as a `jose.corpus.Batch`, in that order.

        The tokens file is memory-mapped and the documents' tokens taken with
        one fancy index, so only the pages they sit on are read.
        """
        from .corpus import Batch, gather_segments, own_rows

        doc_ids = np.asarray(doc_ids, dtype=np.int64)
        tokens, offsets = gather_segments(self._token_map(), self.offsets, doc_ids)
        return Batch(doc_ids, tokens, offsets, *own_rows(doc_ids))

    def _token_map(self) -> np.ndarray:
        if self.n_tokens == 0:   # mmap cannot map an empty file
            return np.zeros(0, dtype=np.int32)
        if self._tokens is None:
            self._tokens = np.memmap(self.tokens_path, dtype=np.int32, mode="r")
        return self._tokens

def _read_array(f, dtype, count: int) -> np.ndarray:
    """Read exactly `count` items of `dtype` from binary file `f` into a new array."""
    array = np.empty(count, dtype=dtype)
    n = f.readinto(memoryview(array).cast("B"))
    if n != array.nbytes:
        raise ValueError(f"{f.name}: truncated, expected {array.nbytes} bytes, got {n}")
    return array


class TextCorpus:
    """The documents of a corpus file as token lists, one per line, re-readable.

    The same format and tokenisation as JoSE(corpus_file=...) and jose-train:
    every line is a document (empty ones and an unterminated last one too);
    tokens are split on ASCII whitespace and decoded as UTF-8 with
    errors='replace', or with tokenize=True lower-cased and split on
    non-alphanumerics. Plain, .gz, .bz2 or .xz. Each iteration reads the file
    again from the start, streaming, so it works for JoSE(corpus) (which
    reads it once) and for several passes alike; `limit` stops after that
    many lines. Also exported as `jose.LineSentence`, gensim's name -- but
    long lines are not cut into pieces as gensim's are.
    """

    def __init__(self, source, tokenize: bool = False, limit: Optional[int] = None,
                 chunk_size: int = CHUNK_SIZE):
        if isinstance(source, bytes):
            source = os.fsdecode(source)
        if not isinstance(source, (str, os.PathLike)):
            raise TypeError(f"source must be a path (str or os.PathLike), got "
                            f"{type(source).__name__}")
        if not isinstance(tokenize, (bool, np.bool_)):
            raise ValueError(f"tokenize must be True or False, got {tokenize!r}")
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, (int, np.integer))
                                  or limit < 0):
            raise ValueError(f"limit must be a non-negative integer or None, got {limit!r}")
        self.source = os.fspath(source)
        self.tokenize = bool(tokenize)
        self.limit = None if limit is None else int(limit)
        self.chunk_size = chunk_size
        _check_file(self.source)

    def __iter__(self) -> Iterator[list]:
        if self.limit == 0:
            return
        _check_file(self.source)
        n = 0
        for line in self._lines():
            yield [token.decode("utf-8", "replace") for token in line.split()]
            n += 1
            if n == self.limit:
                return

    def _lines(self) -> Iterator[bytes]:
        """Every line's bytes without its '\\n' (ASCII whitespace is what
        bytes.split() splits on, as the compiled scanner does)."""
        chunks = _read_chunks(self.source, self.chunk_size, None)
        if self.tokenize:
            chunks = _tokenized_chunks(chunks)
        pieces = []    # of the line the previous chunk(s) ended in
        for chunk in chunks:
            chunk = bytes(chunk)
            first = chunk.find(b"\n")
            if first < 0:
                pieces.append(chunk)
                continue
            pieces.append(chunk[:first])
            yield b"".join(pieces)
            lines = chunk[first + 1:].split(b"\n")
            pieces = [lines.pop()]
            yield from lines
        rest = b"".join(pieces)
        if rest:
            yield rest

    def __repr__(self):
        options = ", tokenize=True" if self.tokenize else ""
        options += f", limit={self.limit}" if self.limit is not None else ""
        return f"TextCorpus({self.source!r}{options})"
