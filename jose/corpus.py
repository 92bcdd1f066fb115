"""Corpora as the kernel sees them: word ids, document offsets, tag rows.

A corpus is encoded once into integer arrays and reused every epoch. Both the
in-memory corpus here and the on-disk one (jose.textcorpus.DiskCorpus) have
`offsets` (n_docs + 1 document boundaries) and `read_range(start, end)`, from
which `training_batches` builds each epoch's batches of documents, shuffled
or in order.
"""
from __future__ import annotations

from typing import Iterable, NamedTuple, Optional

import numpy as np


class TaggedDocument(NamedTuple):
    """A document: its tokens and one or more tags (ints or strings)."""
    words: list
    tags: list


class Batch(NamedTuple):
    """Documents to train together, in training order."""
    doc_ids: np.ndarray   # int64: each document's index in the corpus
    tokens: np.ndarray    # int32: their word ids, concatenated in this order
    offsets: np.ndarray   # int64, len(doc_ids) + 1, into tokens
    tag_ptr: np.ndarray   # int64, len(doc_ids) + 1, into tag_rows
    tag_rows: np.ndarray  # int32: rows of the document table


#: Batches are cut at the first document boundary at or past every
#: CHUNK_TOKENS-th token, CHUNKS_PER_BATCH such chunks a batch.
CHUNK_TOKENS = 1 << 14
CHUNKS_PER_BATCH = 16


def training_batches(corpus, shuffle: bool, rng: np.random.Generator,
                     chunk_tokens: int = CHUNK_TOKENS, chunks_per_batch: int = CHUNKS_PER_BATCH):
    """One epoch of `Batch`es covering every document of `corpus` once.

    Without shuffling, documents come in corpus order. With it, the epoch is
    one permutation of all documents, drawn from `rng`: every batch holds
    documents from anywhere in the corpus, so how the file was sorted does
    not reach SGD. Either way the sequence of documents is cut into batches
    of about chunk_tokens * chunks_per_batch tokens (a document longer than
    that comes whole, in a batch of its own at most chunks_per_batch chunks
    long), and memory stays at one batch.
    """
    offsets = corpus.offsets
    if not shuffle:
        bounds = _batch_bounds(offsets, chunk_tokens, chunks_per_batch)
        for start, end in zip(bounds[:-1], bounds[1:]):
            yield corpus.read_range(int(start), int(end))
        return
    order = rng.permutation(len(offsets) - 1)
    ends = np.concatenate([[0], np.cumsum(np.diff(offsets)[order])])
    bounds = _batch_bounds(ends, chunk_tokens, chunks_per_batch)
    for start, end in zip(bounds[:-1], bounds[1:]):
        yield corpus.gather(order[start:end])


def _batch_bounds(ends, chunk_tokens, chunks_per_batch):
    """Indices into a sequence of documents ending at token counts `ends`
    (len n + 1, from 0) that cut it into batches: a chunk ends at the first
    document boundary at or past each multiple of chunk_tokens, and a batch
    is chunks_per_batch consecutive chunks."""
    n = len(ends) - 1
    targets = np.arange(chunk_tokens, ends[-1], chunk_tokens)
    chunks = np.unique(np.concatenate([[0], np.searchsorted(ends, targets), [n]]))
    return np.unique(np.concatenate([chunks[::chunks_per_batch], [n]]))


def gather_segments(values, ptr, order):
    """The segments values[ptr[i]:ptr[i+1]] for i in order, concatenated, and
    their new boundaries (int64, len(order) + 1). One fancy index, no loop:
    output position p of segment k reads ptr[order[k]] + (p - new_ptr[k])."""
    lengths = np.diff(ptr)[order]
    new_ptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    index = np.repeat(ptr[:-1][order] - new_ptr[:-1], lengths) + np.arange(new_ptr[-1])
    return values[index], new_ptr


def own_rows(doc_ids) -> tuple:
    """tag_ptr and tag_rows when each document's vector is its own row."""
    doc_ids = np.asarray(doc_ids, dtype=np.int64)
    return np.arange(len(doc_ids) + 1, dtype=np.int64), doc_ids.astype(np.int32)


def split_document(doc, position):
    """(words, tags) of one corpus item: a TaggedDocument-like or a token list.

    A plain token list is tagged with its position in the corpus.
    """
    if hasattr(doc, "words") and hasattr(doc, "tags"):
        words, tags = doc.words, doc.tags
        if isinstance(tags, (str, int, np.integer)):
            tags = [tags]
        elif tags is None:
            raise TypeError(f"document {position} has tags=None; give it a list of tags "
                            f"(ints or strings)")
    else:
        words, tags = doc, [position]
    if isinstance(words, (str, bytes)):
        raise TypeError(f"document {position} is a string; pass a list of tokens "
                        f"(for example text.split())")
    return words, tags


class ScannedCorpus:
    """One pass over a corpus: word counts, tags and a provisional encoding.

    Words get provisional ids in order of first appearance; `encode` maps them
    to a final vocabulary, so a corpus (even a one-shot generator) is read once.

    With `max_vocab_size`, whenever the table of words grows past it after a
    document, every word counted `min_reduce` times or fewer is dropped and
    min_reduce goes up by one (gensim's rule, starting at 1), so the table
    stays bounded on a stream of ever new words. A dropped word that comes back
    gets a new id and is counted from zero: counts are lower bounds, and its
    occurrences before the drop are not trained either.
    """

    def __init__(self, corpus: Iterable, max_vocab_size: Optional[int] = None):
        from ._text import check_max_vocab_size
        if max_vocab_size is not None:
            max_vocab_size = check_max_vocab_size(max_vocab_size)
        self.max_vocab_size = max_vocab_size
        self.word_ids: dict = {}
        self.tag_ids: dict = {}
        self.min_reduce = 1
        self.pruned_words = 0
        self._counts = np.zeros(0, np.int64)   # per provisional id, up to the last prune
        self._n_ids = 0
        ids, offsets, tag_rows, tag_ptr = [], [0], [], [0]
        n_tokens = 0
        word_ids, tag_ids = self.word_ids, self.tag_ids
        counted = 0       # documents of `ids` already in _counts
        for position, doc in enumerate(corpus):
            words, tags = split_document(doc, position)
            if max_vocab_size is None:
                doc_ids = [word_ids.setdefault(w, len(word_ids)) for w in words]
            else:
                doc_ids = []
                for w in words:
                    i = word_ids.get(w)
                    if i is None:
                        i = word_ids[w] = self._n_ids
                        self._n_ids += 1
                    doc_ids.append(i)
            ids.append(np.asarray(doc_ids, dtype=np.int64))
            n_tokens += len(doc_ids)
            offsets.append(n_tokens)
            for tag in tags:
                tag_rows.append(tag_ids.setdefault(_tag_key(tag), len(tag_ids)))
            tag_ptr.append(len(tag_rows))
            if max_vocab_size is not None and len(word_ids) > max_vocab_size:
                self._add_counts(ids[counted:])
                counted = len(ids)
                self._prune()
        for word in word_ids:
            if not isinstance(word, str):
                raise TypeError(f"tokens must be strings, found {word!r} "
                                f"({type(word).__name__})")
        self.n_docs = len(offsets) - 1
        self.ids = np.concatenate(ids) if ids else np.zeros(0, np.int64)
        self.offsets = np.asarray(offsets, dtype=np.int64)
        self.tag_rows = np.asarray(tag_rows, dtype=np.int32)
        self.tag_ptr = np.asarray(tag_ptr, dtype=np.int64)
        if max_vocab_size is not None:
            self._add_counts(ids[counted:])

    def _add_counts(self, id_arrays) -> None:
        n = self._n_ids
        if n > len(self._counts):     # grow geometrically: prunes may be frequent
            counts = np.zeros(max(n, 2 * len(self._counts)), np.int64)
            counts[:len(self._counts)] = self._counts
            self._counts = counts
        if id_arrays:
            self._counts[:n] += np.bincount(np.concatenate(id_arrays), minlength=n)

    def _prune(self) -> None:
        threshold = self.min_reduce
        dropped = [w for w, i in self.word_ids.items() if self._counts[i] <= threshold]
        for w in dropped:
            self._counts[self.word_ids.pop(w)] = 0    # its id is never used again
        self.pruned_words += len(dropped)
        self.min_reduce += 1

    @property
    def words(self):
        return list(self.word_ids)

    @property
    def tags(self):
        return list(self.tag_ids)

    def counts(self):
        """Counts of `words`, in the same order."""
        if self.max_vocab_size is None:
            return np.bincount(self.ids, minlength=len(self.word_ids)).astype(np.int64)
        return self._counts[np.fromiter(self.word_ids.values(), np.int64,
                                        len(self.word_ids))]

    def encode(self, key_to_index: dict, tag_to_row: dict) -> "MemoryCorpus":
        """The corpus in final word ids (unknown words dropped) and D rows."""
        remap = np.full(max(self._n_ids, len(self.word_ids)), -1, dtype=np.int32)
        for w, i in self.word_ids.items():     # ids of dropped words stay -1
            remap[i] = key_to_index.get(w, -1)
        mapped = remap[self.ids] if len(self.ids) else np.zeros(0, np.int32)
        kept = mapped >= 0
        # offsets count only the kept words: cumulative kept count at each boundary
        cum = np.concatenate([[0], np.cumsum(kept, dtype=np.int64)])
        offsets = cum[self.offsets]
        missing = [t for t in self.tag_ids if t not in tag_to_row]
        if missing:
            raise ValueError(f"unknown document tag {missing[0]!r}: tags must be seen "
                             f"by build_vocab before training")
        tag_map = np.array([tag_to_row[t] for t in self.tag_ids], dtype=np.int32)
        rows = tag_map[self.tag_rows] if len(self.tag_rows) else self.tag_rows
        return MemoryCorpus(mapped[kept], offsets, self.tag_ptr, rows)


def _tag_key(tag):
    """Tags are ints or strings; numpy integers count as ints."""
    if isinstance(tag, (bool, np.bool_)):
        raise TypeError(f"document tags must be ints or strings, not {tag!r}")
    if isinstance(tag, np.integer):
        return int(tag)
    if isinstance(tag, (int, str)):
        return tag
    raise TypeError(f"document tags must be ints or strings, not {type(tag).__name__}")


class MemoryCorpus:
    """An encoded corpus held in memory."""

    def __init__(self, tokens, offsets, tag_ptr=None, tag_rows=None):
        self.tokens = np.ascontiguousarray(tokens, dtype=np.int32)
        self.offsets = np.ascontiguousarray(offsets, dtype=np.int64)
        self.tag_ptr = None if tag_ptr is None else np.ascontiguousarray(tag_ptr, np.int64)
        self.tag_rows = None if tag_rows is None else np.ascontiguousarray(tag_rows, np.int32)
        self.n_docs = len(self.offsets) - 1
        self.n_tokens = int(self.offsets[-1])

    def read_range(self, start: int, end: int) -> Batch:
        """Documents start..end-1, in order."""
        base = self.offsets[start]
        offsets = self.offsets[start:end + 1] - base
        tokens = self.tokens[base:self.offsets[end]]
        doc_ids = np.arange(start, end, dtype=np.int64)
        if self.tag_ptr is None:
            tag_ptr, tag_rows = own_rows(doc_ids)
        else:
            lo = self.tag_ptr[start]
            tag_ptr = self.tag_ptr[start:end + 1] - lo
            tag_rows = self.tag_rows[lo:self.tag_ptr[end]]
        return Batch(doc_ids, tokens, offsets, tag_ptr, tag_rows)

    def gather(self, doc_ids) -> Batch:
        """Documents doc_ids (any order, each at most once), in that order."""
        doc_ids = np.asarray(doc_ids, dtype=np.int64)
        tokens, offsets = gather_segments(self.tokens, self.offsets, doc_ids)
        if self.tag_ptr is None:
            tag_ptr, tag_rows = own_rows(doc_ids)
        else:
            tag_rows, tag_ptr = gather_segments(self.tag_rows, self.tag_ptr, doc_ids)
        return Batch(doc_ids, tokens, offsets, tag_ptr, tag_rows)
