"""Training from a corpus file: count, cut the vocabulary, encode to disk.

`JoSE(corpus_file=...)`, `JoSE.build_vocab_from_file` and `jose-train` all
come here, so the library and the command stream a file the same way: one
pass that counts the words (memory grows with the vocabulary) and writes
provisional word ids to a scratch directory, the vocabulary's cut, the ids
mapped to the vocabulary's in place, and a `DiskCorpus` that training reads
back in blocks. With word_counts (nothing to count) or max_vocab_size
(pruning renumbers words while counting) the file is read twice instead:
counted, then encoded.
"""
from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import warnings
from collections.abc import Mapping
from typing import NamedTuple, Optional

import numpy as np

from .textcorpus import DiskCorpus, count_and_encode, count_corpus, encode_corpus
from .vocab import Vocabulary

class PreparedFile(NamedTuple):
    vocab: Vocabulary
    corpus: DiskCorpus                      # the encoded corpus, in-vocabulary words only
    scratch: Optional[tempfile.TemporaryDirectory]   # None when it went to cache_dir
    n_raw_tokens: Optional[int]             # tokens in the file; None if not counted


def prepare_file(corpus_file, min_count: int, *, tokenize=False, cache_dir=None,
                 word_counts=None, progress=False, max_vocab_size=None,
                 max_final_vocab=None, workers: int = 1, on_vocab=None) -> PreparedFile:
    """The vocabulary and encoded corpus of a corpus file, counted and
    encoded by `workers` threads (the same result for any number).
    `on_vocab(vocab, n_docs)`, if given, is called once the file is counted,
    before its encoding is finished (not when word_counts replace the
    counting).

    The encoded corpus goes to `cache_dir` (kept) or to a new temporary
    directory, returned so that its owner decides when it goes; it is removed
    here if anything fails. Errors name the file or the parameter.
    """
    path = _corpus_path(corpus_file)
    if not isinstance(tokenize, (bool, np.bool_)):
        raise ValueError(f"tokenize must be True or False, got {tokenize!r}")
    _check_progress(progress)
    one_pass = word_counts is None and max_vocab_size is None
    scratch, pending = None, None
    try:
        if one_pass:
            # count and encode with provisional ids, remapped once the vocabulary is cut
            out_dir, scratch = _out_dir(cache_dir)
            with _phase(progress, path, "counting") as update:
                counts, pending = count_and_encode(path, out_dir, tokenize=bool(tokenize),
                                                   progress=update, workers=workers)
        elif word_counts is None:
            with _phase(progress, path, "counting") as update:
                counts = count_corpus(path, tokenize=bool(tokenize), progress=update,
                                      max_vocab_size=max_vocab_size, workers=workers)
        if word_counts is None:
            if counts.n_invalid_utf8:
                warnings.warn(f"{path}: {counts.n_invalid_utf8:,} tokens had invalid UTF-8 "
                              f"bytes, replaced by U+FFFD", UnicodeWarning, stacklevel=4)
            words, freqs, source = counts.words, counts.counts, f"{path}: "
            n_raw = counts.n_tokens
        else:
            words, freqs = _word_counts(word_counts)
            source, n_raw = "word_counts: ", None
        vocab = Vocabulary.from_counts(words, freqs, min_count, max_final_vocab)
        if len(vocab) == 0:
            raise ValueError(f"{source}the vocabulary is empty: none of its {len(words):,} "
                             f"distinct words occurs min_count={min_count} times")
        if on_vocab is not None and word_counts is None:
            on_vocab(vocab, counts.n_docs)
        with _phase(progress, path, "encoding") as update:
            if one_pass:
                data = pending.finish(vocab.key_to_index, progress=update)
            else:
                out_dir, scratch = _out_dir(cache_dir)
                data = encode_corpus(path, vocab.key_to_index, out_dir,
                                     tokenize=bool(tokenize), progress=update, workers=workers)
    except BaseException:
        if pending is not None:
            pending.discard()
        if scratch is not None:
            scratch.cleanup()
        raise
    return PreparedFile(vocab, data, scratch, n_raw)


def _out_dir(cache_dir):
    """(directory, TemporaryDirectory or None): cache_dir, or a new scratch directory."""
    if cache_dir is None:
        scratch = tempfile.TemporaryDirectory(prefix="jose-corpus-")
        return scratch.name, scratch
    return _cache_dir(cache_dir), None


def _corpus_path(corpus_file) -> str:
    if isinstance(corpus_file, bytes):
        corpus_file = os.fsdecode(corpus_file)
    if not isinstance(corpus_file, (str, os.PathLike)):
        raise TypeError(f"corpus_file must be a path (str or os.PathLike), got "
                        f"{type(corpus_file).__name__}; pass documents as corpus=...")
    return os.fspath(corpus_file)


def _word_counts(word_counts):
    if not isinstance(word_counts, Mapping):
        raise TypeError(f"word_counts must map words to counts (a dict), got "
                        f"{type(word_counts).__name__}")
    words = list(word_counts)
    bad = next((w for w in words if not isinstance(w, str)), None)
    if bad is not None:
        raise TypeError(f"word_counts: words must be strings, found {bad!r}")
    try:
        freqs = np.array([int(c) for c in word_counts.values()], dtype=np.int64)
    except (TypeError, ValueError, OverflowError):
        raise ValueError("word_counts: counts must be integers") from None
    if np.any(freqs < 0):
        raise ValueError("word_counts: counts must be >= 0")
    return words, freqs


def _cache_dir(cache_dir) -> str:
    out_dir = os.fspath(cache_dir)
    try:
        os.makedirs(out_dir, exist_ok=True)
    except FileExistsError:
        raise ValueError(f"cache_dir {out_dir}: exists and is not a directory") from None
    except OSError as e:
        raise ValueError(f"cache_dir {out_dir}: cannot create it ({e.strerror})") from None
    if not os.access(out_dir, os.W_OK | os.X_OK):
        raise ValueError(f"cache_dir {out_dir}: is not writable")
    return out_dir


def _check_progress(progress):
    if not (isinstance(progress, bool) or callable(progress)):
        raise ValueError(f"progress must be True, False or a callable, got {progress!r}")


@contextlib.contextmanager
def _phase(progress, path: str, phase: str):
    """The per-chunk progress callable for one pass (None when not wanted)."""
    if not progress:
        yield None
    elif progress is True:
        from tqdm.auto import tqdm
        total = os.path.getsize(path) if os.path.isfile(path) else None
        with tqdm(total=total, unit="B", unit_scale=True, desc=phase, leave=False,
                  file=sys.stderr) as bar:
            yield bar.update
    else:
        progress(phase, 0)
        yield lambda n: progress(phase, n)
