"""JoSE on Dask: inference over bags and dataframes, vocabulary counting.

Needs the `[dask]` extra (``pip install "jose-embeddings[dask]"``); Dask is
imported only when a function here is called.

    from distributed import Client
    import dask.dataframe as dd
    from jose.dask import infer_dataframe

    client = Client("tcp://scheduler:8786")          # or LocalCluster()
    ddf = dd.read_parquet("s3://bucket/docs/")
    vecs = infer_dataframe("/shared/models/news.jose", ddf, "text", workers=2)
    vecs.to_parquet("s3://bucket/vectors/")

Every worker loads the model itself (memory-mapped, inference only, once per
process) from `model_path`, which must therefore be readable on every worker
(a shared filesystem, or a copy at the same path). The rows equal those of
`JoSE.infer_vectors` on one machine bit for bit. Pass `workers` (threads per
task) explicitly: Dask sets OMP_NUM_THREADS=1 in its workers.
"""
from __future__ import annotations

import os
from collections import Counter

import numpy as np

from .inference import JoSEInferencer, as_documents, resolve_tokenizer

__all__ = ["infer_bag", "infer_dataframe", "count_vocabulary"]


def _require(*modules):
    import importlib
    try:
        return [importlib.import_module(m) for m in modules]
    except ImportError as e:
        raise ImportError(f"jose.dask needs Dask ({e}); install it with "
                          f"pip install \"jose-embeddings[dask]\"") from e


def _check_bag(bag, db):
    if not isinstance(bag, db.Bag):
        raise TypeError(f"bag must be a dask.bag.Bag, got {type(bag).__name__}")


def infer_bag(model_path, bag, epochs=None, workers: int = 1, tokenize=False):
    """A Bag of float32 vectors, one per element of `bag` (texts or token lists),
    in the same order; a document with no vocabulary word gets a zero vector."""
    (db,) = _require("dask.bag")
    _check_bag(bag, db)
    infer = JoSEInferencer(_checked_model_path(model_path), epochs=epochs, workers=workers,
                           tokenize=tokenize)
    return bag.map_partitions(_infer_partition, infer)


def _infer_partition(partition, infer):
    docs = list(partition)
    if not docs:
        return []
    return list(infer.infer(docs))


def infer_dataframe(model_path, ddf, text_column: str, epochs=None, workers: int = 1,
                    tokenize=False, prefix: str = "v"):
    """A Dask DataFrame of vectors for the texts (or token lists) in
    `ddf[text_column]`: float32 columns prefix0 .. prefix{dim-1}, with ddf's
    index and partitions."""
    (dd, pd) = _require("dask.dataframe", "pandas")
    if not isinstance(ddf, dd.DataFrame):
        raise TypeError(f"ddf must be a dask.dataframe.DataFrame, got {type(ddf).__name__}")
    if text_column not in ddf.columns:
        raise ValueError(f"ddf has no column {text_column!r} (text_column); its columns: "
                         f"{list(ddf.columns)}")
    path = _checked_model_path(model_path)
    infer = JoSEInferencer(path, epochs=epochs, workers=workers, tokenize=tokenize)
    names = [f"{prefix}{i}" for i in range(_vector_size(path))]
    meta = pd.DataFrame({n: pd.Series(dtype=np.float32) for n in names})
    return ddf.map_partitions(_infer_frame, infer, text_column, names, meta=meta)


def _infer_frame(frame, infer, column, names):
    import pandas as pd
    X = infer.infer(frame[column]) if len(frame) else np.zeros((0, len(names)), np.float32)
    return pd.DataFrame(X, index=frame.index, columns=names)


def count_vocabulary(bag, min_count: int = 5, tokenize=False, split_every=None):
    """The `jose.vocab.Vocabulary` of the texts (or token lists) in `bag`:
    counted per partition on the workers, merged, then cut at min_count --
    the same words, counts and order as counting the corpus on one machine
    (`jose.textcorpus.count_corpus` + `Vocabulary.from_counts`, as jose-train
    does). Strings are split as jose-train splits lines (ASCII whitespace, or
    tokenize=True for --tokenize). Write it with `jose.cli.write_vocab` and
    train with ``jose-train --read-vocab``, or pass its words and counts to
    `JoSE.build_vocab_from_counts`.
    """
    (db,) = _require("dask.bag")
    _check_bag(bag, db)
    from .model import _positive_int
    from .vocab import Vocabulary
    min_count = _positive_int("min_count", min_count)
    resolve_tokenizer(tokenize)
    counts = bag.reduction(_CountPartition(tokenize), _merge_counts,
                           split_every=split_every).compute()
    words = list(counts)
    return Vocabulary.from_counts(words, np.fromiter((counts[w] for w in words), np.int64,
                                                     count=len(words)), min_count)


class _CountPartition:
    """Token counts of one partition (a class, not a closure: plain pickling)."""

    def __init__(self, tokenize):
        self.tokenize = tokenize

    def __call__(self, partition):
        counts = Counter()
        for doc in as_documents(list(partition), resolve_tokenizer(self.tokenize), "bag"):
            for w in doc:
                if not isinstance(w, str):
                    raise TypeError(f"tokens must be strings, found {w!r}")
            counts.update(doc)
        return counts


def _merge_counts(parts):
    total = Counter()
    for part in parts:
        total.update(part)
    return total


def _checked_model_path(model_path) -> str:
    """The path, checked on the client (the workers read it again)."""
    path = os.fspath(model_path)
    if not os.path.isdir(path):
        raise FileNotFoundError(f"no saved model at {path}")
    return path


def _vector_size(path) -> int:
    from .persistence import read_params
    return int(read_params(path)["vector_size"])
