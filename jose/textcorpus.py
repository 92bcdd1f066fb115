"""Corpus files of any size, streamed: counting, encoding to disk, reading back.

The input format is the JoSE C program's: one document per line (every line,
empty ones and an unterminated last one included), tokens separated by ASCII
whitespace. Files may be plain or compressed (.gz, .bz2, .xz).

Two streaming passes keep peak memory independent of corpus length:
`count_corpus` counts words (memory grows with the vocabulary only), and
`encode_corpus` writes the in-vocabulary word ids and document offsets to
binary files that `DiskCorpus` reads back block by block.
"""
from __future__ import annotations

import bz2
import contextlib
import gzip
import lzma
import os
import re
import unicodedata
import zlib
from typing import BinaryIO, Callable, Iterator, NamedTuple, Optional

import numpy as np

from . import _text

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
    counts: np.ndarray     # int64 occurrences of each word
    n_docs: int            # lines
    n_tokens: int          # token occurrences
    n_invalid_utf8: int    # token occurrences whose bytes were not valid UTF-8


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


# Runs of characters that are neither letters, digits nor '_', except '\n',
# which must survive because it ends a document. ('_' is replaced beforehand:
# naming it here as an alternative makes the regex much slower.)
_SEPARATORS = re.compile(r"[^\w\n]+")


def _simple_tokenize(data: bytes) -> bytes:
    """Lower-case, NFC-normalise and split `data` on non-alphanumerics.

    Undecodable bytes become U+FFFD and so act as separators. The result is
    space-separated UTF-8 with the same line breaks as `data`.
    """
    text = unicodedata.normalize("NFC", data.decode("utf-8", "replace").lower())
    return _SEPARATORS.sub(" ", text.replace("_", " ")).encode("utf-8")


def _tokenized_chunks(chunks: Iterator[memoryview]) -> Iterator[bytes]:
    """Apply _simple_tokenize to a chunk stream.

    Each chunk is cut after its last ASCII whitespace byte and the rest carried
    to the next chunk: such a byte never occurs inside a multi-byte UTF-8
    character nor inside a token, so every piece decodes and splits exactly as
    the whole text would. The carry holds one run of non-whitespace bytes.
    """
    carry = []    # pieces of the run cut by the end of the previous chunk(s)
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


def _feed(scanner, path: str, tokenize: bool, progress: Progress,
          chunk_size: int) -> Iterator[None]:
    """Feed a checked corpus file to a _text scanner (Counter or Encoder),
    yielding after each chunk so that the caller can take the output, and
    finishing the scanner after the last."""
    chunks = _read_chunks(path, chunk_size, progress)
    if tokenize:
        chunks = _tokenized_chunks(chunks)
    for chunk in chunks:
        scanner.feed(chunk)
        yield
    scanner.finish()


def count_corpus(path, tokenize: bool = False, progress: Progress = None,
                 chunk_size: int = CHUNK_SIZE) -> CorpusCounts:
    """Count words, documents and tokens of a corpus file in one streaming pass.

    Words are keyed by their raw bytes and decoded as UTF-8 with
    errors='replace'; raw words that decode to the same str are merged.
    With tokenize=True the text is lower-cased and split on non-alphanumerics
    first (undecodable bytes then act as separators, so n_invalid_utf8 is 0).
    Memory grows with the vocabulary, not with the corpus.
    """
    path = os.fspath(path)
    _check_file(path)
    counter = _text.Counter()
    for _ in _feed(counter, path, tokenize, progress, chunk_size):
        pass
    words, counts, valid = counter.export()
    n_invalid = int(counts[~valid].sum())
    if n_invalid:
        words, counts = _merge_equal_words(words, counts)
    return CorpusCounts(words, counts, counter.n_docs, counter.n_tokens, n_invalid)


def _merge_equal_words(words: list, counts: np.ndarray):
    """Sum the counts of equal words (distinct raw bytes that decoded alike)."""
    totals: dict = {}
    for word, count in zip(words, counts.tolist()):
        totals[word] = totals.get(word, 0) + count
    return list(totals), np.fromiter(totals.values(), dtype=np.int64, count=len(totals))


def encode_corpus(path, key_to_index: dict, out_dir, tokenize: bool = False,
                  progress: Progress = None, chunk_size: int = CHUNK_SIZE) -> "DiskCorpus":
    """Encode a corpus file into `out_dir`/tokens.i32 and offsets.i64.

    Every token is mapped through `key_to_index` (str -> id; absent or
    negative: dropped), a token with undecodable bytes by its errors='replace'
    decoding, as count_corpus reports it; pass the same `tokenize`. Output is
    written per chunk to temporary files that replace the final ones only when
    the pass completes, so an interrupted pass leaves no partial files behind.
    """
    path, out_dir = os.fspath(path), os.fspath(out_dir)
    _check_file(path)
    encoder = _text.Encoder(key_to_index)
    final = [os.path.join(out_dir, TOKENS_FILE), os.path.join(out_dir, OFFSETS_FILE)]
    partial = [name + ".part" for name in final]
    try:
        with open(partial[0], "wb") as tokens_out, open(partial[1], "wb") as offsets_out:
            offsets_out.write(np.zeros(1, dtype=np.int64).tobytes())
            for _ in _feed(encoder, path, tokenize, progress, chunk_size):
                _drain(encoder, tokens_out, offsets_out)
            _drain(encoder, tokens_out, offsets_out)
        for src, dst in zip(partial, final):
            os.replace(src, dst)
    finally:
        for name in partial:
            with contextlib.suppress(FileNotFoundError):
                os.remove(name)
    return DiskCorpus(out_dir)


def _drain(encoder, tokens_out, offsets_out) -> None:
    ids, ends = encoder.take()
    tokens_out.write(ids)
    offsets_out.write(ends)


class DiskCorpus:
    """An encoded corpus on disk, read back in blocks of whole documents.

    `out_dir` holds tokens.i32 (int32 word ids, native byte order) and
    offsets.i64 (int64, n_docs + 1 cumulative document ends, starting at 0).
    Attributes: n_docs, n_tokens (in-vocabulary tokens), out_dir, tokens_path
    and offsets_path.
    """

    # Offsets read from disk at a time while looking for a block's end.
    OFFSETS_READ = 1 << 16

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

    def iter_blocks(self, block_tokens: int = 1 << 20) -> Iterator:
        """Yield `jose.corpus.Block`s of whole documents, in order, each about
        `block_tokens` tokens (a longer document gets a block of its own).

        Every document appears exactly once, empty ones as zero-length
        entries. Memory is proportional to one block.
        """
        from .corpus import Block

        with open(self.offsets_path, "rb") as offsets_in, open(self.tokens_path, "rb") as tokens_in:
            ends = _OffsetReader(offsets_in, self.n_docs + 1, self.OFFSETS_READ)
            first_doc = 0
            while first_doc < self.n_docs:
                bounds = ends.next_block(block_tokens)
                if np.any(bounds[1:] < bounds[:-1]):
                    raise ValueError(f"{self.offsets_path}: offsets decrease near document "
                                     f"{first_doc}")
                first_token = int(bounds[0])
                tokens = _read_array(tokens_in, np.int32, int(bounds[-1]) - first_token)
                yield Block(first_doc, first_token, tokens, bounds - first_token)
                first_doc += len(bounds) - 1


class _OffsetReader:
    """Reads an offsets file forward, handing out one block's offsets at a time."""

    def __init__(self, f, n_entries: int, read_size: int):
        self.f = f
        self.unread = n_entries
        self.read_size = read_size
        self.pending = np.empty(0, dtype=np.int64)   # starts at the next block's first offset

    def _read_more(self) -> None:
        # Growing geometrically keeps re-concatenation linear for blocks of
        # very many (short or empty) documents.
        n = min(max(self.read_size, len(self.pending)), self.unread)
        self.pending = np.concatenate([self.pending, _read_array(self.f, np.int64, n)])
        self.unread -= n

    def next_block(self, block_tokens: int) -> np.ndarray:
        """Offsets (global, inclusive of both ends) of the next documents
        spanning at most `block_tokens` tokens, or of one longer document."""
        # While all pending documents fit, the block may go on into unread ones.
        while self.unread and (len(self.pending) < 2
                               or self.pending[-1] - self.pending[0] <= block_tokens):
            self._read_more()
        limit = self.pending[0] + block_tokens
        end = max(1, int(np.searchsorted(self.pending, limit, side="right")) - 1)
        block, self.pending = self.pending[:end + 1], self.pending[end:]
        return block


def _read_array(f, dtype, count: int) -> np.ndarray:
    """Read exactly `count` items of `dtype` from binary file `f` into a new array."""
    array = np.empty(count, dtype=dtype)
    n = f.readinto(memoryview(array).cast("B"))
    if n != array.nbytes:
        raise ValueError(f"{f.name}: truncated, expected {array.nbytes} bytes, got {n}")
    return array
