"""Inference beyond one process: tokenising text and `JoSEInferencer`.

`JoSEInferencer(model_path)` is a picklable callable for Dask, Spark, Ray or
multiprocessing: it pickles as its path and options only, loads the model
(inference only, memory-mapped) once per process on first use, and maps a
batch of texts to vectors with the batch kernel (`JoSE.infer_vectors`), so
its rows equal the single-machine ones bit for bit.

Texts are split the way `jose-train` splits a corpus line: on ASCII
whitespace by default, or with ``tokenize=True`` by `tokenize_text` (the
``--tokenize`` rule: NFC-normalised, lower-cased, runs of Unicode letters and
digits). A callable tokenizer may be given instead.
"""
from __future__ import annotations

import os
import re
import threading
import unicodedata
from typing import Callable, Union

import numpy as np

#: Runs of letters and digits (any script); '_' separates, as in --tokenize.
_WORD = re.compile(r"[^\W_]+")
#: Runs of anything but ASCII whitespace: how jose-train splits a line.
_FIELD = re.compile(r"[^ \t\n\r\x0b\x0c]+")


def tokenize_text(text: str) -> list:
    """Lower-case, NFC-normalise and split on non-alphanumerics; Unicode
    letters and digits are kept ("Ça coûte 5€" -> ["ça", "coûte", "5"]).
    The same rule as ``jose-train --tokenize``."""
    return _WORD.findall(unicodedata.normalize("NFC", text.lower()))


def split_whitespace(text: str) -> list:
    """Split on ASCII whitespace only, as jose-train reads a line."""
    return _FIELD.findall(text)


Tokenizer = Union[bool, Callable[[str], list], None]


def resolve_tokenizer(tokenize: Tokenizer, name: str = "tokenize") -> Callable[[str], list]:
    """True -> tokenize_text, False/None -> split_whitespace, or a callable."""
    if tokenize is True:
        return tokenize_text
    if tokenize is False or tokenize is None:
        return split_whitespace
    if callable(tokenize):
        return tokenize
    raise ValueError(f"{name} must be True, False or a callable taking a string, "
                     f"got {tokenize!r}")


def as_documents(X, tokenizer: Callable[[str], list], what: str = "X") -> list:
    """Token lists for a batch of texts or token lists.

    X: a list/tuple/1-d array of strings or token lists, a pandas Series, a
    one-column DataFrame, or a pyarrow (Chunked)Array of strings or lists of
    strings. Missing values (None, NaN) are a ValueError naming the position.
    """
    if isinstance(X, (str, bytes)):
        raise TypeError(f"{what} must be a sequence of documents, not a single string")
    X = _to_python_list(X, what)
    docs = []
    for i, x in enumerate(X):
        if isinstance(x, str):
            tokens = tokenizer(x)
            if not isinstance(tokens, list):
                tokens = list(tokens)
            docs.append(tokens)
        elif isinstance(x, (list, tuple)) or (isinstance(x, np.ndarray) and x.ndim == 1):
            docs.append(list(x))
        elif x is None or (isinstance(x, float) and x != x):
            raise ValueError(f"{what}[{i}] is missing (None or NaN): every document "
                             f"needs a text or a token list")
        else:
            raise TypeError(f"{what}[{i}] is a {type(x).__name__}: expected a string or a "
                            f"list of tokens")
    return docs


def _to_python_list(X, what):
    mod = type(X).__module__
    if mod.startswith("scipy.sparse"):
        raise TypeError(f"{what} is a sparse matrix: sparse input is not supported; pass "
                        f"texts or token lists, one per document")
    if mod.startswith("pandas"):
        if hasattr(X, "columns"):             # DataFrame
            if X.shape[1] != 1:
                raise ValueError(f"{what} is a DataFrame with {X.shape[1]} columns: pass "
                                 f"the text column (df['text'])")
            X = X.iloc[:, 0]
        return X.tolist()
    if mod.startswith("pyarrow"):
        return X.to_pylist()
    if isinstance(X, np.ndarray):
        if X.ndim != 1:
            raise ValueError(f"{what} must be one-dimensional (one document per entry), "
                             f"got shape {X.shape}")
        return X.tolist()
    try:
        return list(X)
    except TypeError:
        raise TypeError(f"{what} must be a sequence of documents, not "
                        f"{type(X).__name__}") from None


# -- the picklable inferencer ------------------------------------------------------

_MODELS: dict = {}          # (path, pid) -> inference-only model, per process
_MODELS_LOCK = threading.Lock()


def load_for_inference(path):
    """The inference-only, memory-mapped model at `path`, loaded once per process."""
    key = (os.path.abspath(os.fspath(path)), os.getpid())
    model = _MODELS.get(key)
    if model is None:
        with _MODELS_LOCK:
            model = _MODELS.get(key)
            if model is None:
                from .model import JoSE
                model = JoSE.load(path, mmap="r", inference_only=True)
                _MODELS[key] = model
    return model


class JoSEInferencer:
    """A picklable callable mapping batches of texts to JoSE document vectors.

        infer = JoSEInferencer("news.jose", workers=2, tokenize=True)
        X = infer(["first text", "second text"])         # float32, n x vector_size

    model_path   a directory written by JoSE.save / jose-train --model-output,
                 readable from every process that calls it (shared filesystem)
    epochs       inference epochs (default: the model's)
    workers      threads per call (default 1). Pass it explicitly on Dask
                 workers, which set OMP_NUM_THREADS=1
    tokenize     False: split strings on ASCII whitespace (jose-train's
                 default); True: `tokenize_text` (jose-train --tokenize); or a
                 callable str -> tokens. Token lists are used as they are.
    text_column  the column read from a pandas DataFrame batch ("text")
    output_column the column added to a DataFrame batch ("vector")

    Calling it on
      - a list / tuple / numpy array / pandas Series / pyarrow array of
        texts or token lists returns a float32 array, one row per document
        (zero rows for documents with no vocabulary word);
      - a pandas DataFrame returns a copy with `output_column` added (one
        float32 array per row) -- what Ray's map_batches(batch_format="pandas")
        and Spark's mapInPandas (see `map_pandas`) want;
      - a dict of columns (Ray's numpy batches) returns the dict with
        `output_column` added as a 2-d array.
    Pickling keeps the path and options only; the model is loaded lazily,
    once per process, with mmap="r" and inference_only=True.
    """

    def __init__(self, model_path, epochs=None, workers: int = 1, tokenize: Tokenizer = False,
                 text_column: str = "text", output_column: str = "vector"):
        from .model import _positive_int
        self.model_path = os.fspath(model_path)
        self.epochs = None if epochs is None else _positive_int("epochs", epochs)
        self.workers = _positive_int("workers", workers)
        resolve_tokenizer(tokenize)
        self.tokenize = tokenize
        self.text_column = text_column
        self.output_column = output_column

    @property
    def model(self):
        return load_for_inference(self.model_path)

    @property
    def vector_size(self) -> int:
        return self.model.vector_size

    def __getstate__(self):
        return {k: getattr(self, k) for k in ("model_path", "epochs", "workers", "tokenize",
                                              "text_column", "output_column")}

    def __setstate__(self, state):
        self.__dict__.update(state)

    def __repr__(self):
        return (f"JoSEInferencer({self.model_path!r}, epochs={self.epochs}, "
                f"workers={self.workers}, tokenize={self.tokenize!r})")

    def infer(self, texts, return_mask: bool = False):
        """Vectors (and optionally the known-word mask) for a batch of documents."""
        docs = as_documents(texts, resolve_tokenizer(self.tokenize), "texts")
        return self.model.infer_vectors(docs, epochs=self.epochs, workers=self.workers,
                                        return_mask=return_mask)

    def __call__(self, batch):
        if type(batch).__module__.startswith("pandas") and hasattr(batch, "columns"):
            if self.text_column not in batch.columns:
                raise ValueError(f"the DataFrame has no column {self.text_column!r} "
                                 f"(text_column); its columns: {list(batch.columns)}")
            vectors = self.infer(batch[self.text_column])
            out = batch.copy()
            out[self.output_column] = list(vectors)
            return out
        if isinstance(batch, dict):
            if self.text_column not in batch:
                raise ValueError(f"the batch has no column {self.text_column!r} "
                                 f"(text_column); its columns: {list(batch)}")
            out = dict(batch)
            out[self.output_column] = self.infer(batch[self.text_column])
            return out
        return self.infer(batch)

    def map_pandas(self, frames):
        """For Spark's mapInPandas: each DataFrame of the iterator, with the vectors."""
        for frame in frames:
            yield self(frame)
