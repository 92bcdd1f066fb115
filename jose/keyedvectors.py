"""Unit vectors with keys: similarity queries in the style of gensim's KeyedVectors.

Every row is a unit vector, so cosine similarity is a dot product.
"""
from __future__ import annotations

from typing import Iterable

import numpy as np


def normalize_rows(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (float32, C-contiguous); zero rows raise."""
    vectors = np.asarray(vectors)
    if vectors.ndim != 2:
        raise ValueError(f"expected a 2-d array of vectors, got shape {vectors.shape}")
    # in float64: float32 squares of tiny or huge values under- or overflow
    vectors = vectors.astype(np.float64)
    finite = np.isfinite(vectors).all(axis=1)
    scale = np.abs(vectors).max(axis=1, initial=0.0)
    bad = ~finite | (scale == 0)
    if np.any(bad):
        row = int(np.flatnonzero(bad)[0])
        raise ValueError(f"row {row} is zero or not finite and has no direction")
    vectors /= scale[:, None]
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.ascontiguousarray(vectors, dtype=np.float32)


class KeyedVectors:
    """Keys (words or document tags) and their unit vectors.

    `vectors` is shared, not copied, so a model's tables stay live. Document
    tags may be ints or strings; an int that is not a tag is a row position,
    as in gensim.
    """

    def __init__(self, keys: list, vectors: np.ndarray):
        if len(keys) != len(vectors):
            raise ValueError(f"{len(keys)} keys but {len(vectors)} vectors")
        self.index_to_key = list(keys)
        self.key_to_index = {k: i for i, k in enumerate(self.index_to_key)}
        if len(self.key_to_index) != len(self.index_to_key):
            seen = set()
            repeated = next(k for k in self.index_to_key if k in seen or seen.add(k))
            raise ValueError(f"key {repeated!r} appears more than once")
        self.vectors = vectors

    # -- lookups -------------------------------------------------------------

    def __len__(self):
        return len(self.index_to_key)

    def __contains__(self, key):
        return key in self.key_to_index

    def __iter__(self):
        return iter(self.index_to_key)

    @property
    def vector_size(self) -> int:
        return self.vectors.shape[1]

    def get_index(self, key) -> int:
        index = self.key_to_index.get(key)
        if index is not None:
            return index
        if isinstance(key, (int, np.integer)) and 0 <= key < len(self):
            return int(key)
        raise KeyError(f"{key!r} is not in the vocabulary")

    def get_vector(self, key) -> np.ndarray:
        return self.vectors[self.get_index(key)]

    def __getitem__(self, keys):
        if isinstance(keys, (list, tuple)):
            return np.stack([self.get_vector(k) for k in keys])
        return self.get_vector(keys)

    # -- similarity ----------------------------------------------------------

    def similarity(self, key1, key2) -> float:
        """Cosine similarity of two keys."""
        return float(self.get_vector(key1) @ self.get_vector(key2))

    def distance(self, key1, key2) -> float:
        """Cosine distance, 1 - similarity."""
        return 1.0 - self.similarity(key1, key2)

    def cosine_similarities(self, vector: np.ndarray, others: np.ndarray) -> np.ndarray:
        vector = np.asarray(vector, dtype=np.float32)
        return np.asarray(others, dtype=np.float32) @ (vector / np.linalg.norm(vector))

    def _as_vector(self, item) -> np.ndarray:
        if isinstance(item, np.ndarray):
            return np.asarray(item, dtype=np.float32)
        return self.get_vector(item)

    def most_similar(self, positive=None, negative=None, topn: int = 10,
                     restrict_vocab: int | None = None):
        """The `topn` keys nearest to mean(positive) - mean(negative).

        Items are keys or raw vectors; keys given are left out of the answer.
        A single key or vector may be passed on its own.
        """
        positive = _as_list(positive)
        negative = _as_list(negative)
        if not positive and not negative:
            raise ValueError("most_similar needs at least one positive or negative item")
        query = np.zeros(self.vector_size, dtype=np.float64)
        exclude = set()
        for sign, items in ((1.0, positive), (-1.0, negative)):
            for item in items:
                vec = self._as_vector(item)
                query += sign * vec / np.linalg.norm(vec)
                if not isinstance(item, np.ndarray):
                    exclude.add(self.get_index(item))
        norm = np.linalg.norm(query)
        if norm == 0:
            raise ValueError("the query vector is zero (positive and negative cancel out)")
        return self._nearest(query / norm, topn, exclude, restrict_vocab)

    def similar_by_vector(self, vector, topn: int = 10, restrict_vocab=None):
        vector = np.asarray(vector, dtype=np.float64)
        return self._nearest(vector / np.linalg.norm(vector), topn, set(), restrict_vocab)

    def similar_by_key(self, key, topn: int = 10, restrict_vocab=None):
        return self.most_similar([key], topn=topn, restrict_vocab=restrict_vocab)

    similar_by_word = similar_by_key

    def _nearest(self, query, topn, exclude, restrict_vocab):
        vectors = self.vectors if restrict_vocab is None else self.vectors[:restrict_vocab]
        sims = vectors @ query.astype(np.float32)
        if topn is None:
            return sims
        count = min(len(sims), topn + len(exclude))
        if count <= 0:
            return []
        best = np.argpartition(-sims, count - 1)[:count]
        best = best[np.argsort(-sims[best], kind="stable")]
        return [(self.index_to_key[i], float(sims[i])) for i in best
                if i not in exclude][:topn]

    def doesnt_match(self, keys: Iterable):
        """The key least similar to the mean direction of all the keys (as gensim)."""
        keys = [k for k in keys if k in self.key_to_index]
        if not keys:
            raise ValueError("none of the keys is in the vocabulary")
        vectors = self[keys]
        mean = vectors.mean(axis=0)
        sims = vectors @ (mean / np.linalg.norm(mean))
        return keys[int(np.argmin(sims))]

    def n_similarity(self, keys1, keys2) -> float:
        """Cosine similarity of the means of two sets of keys."""
        a, b = self[list(keys1)].mean(axis=0), self[list(keys2)].mean(axis=0)
        return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))

    # -- files ---------------------------------------------------------------

    def save_word2vec_format(self, path, binary: bool = False, workers: int = 1):
        """Write word2vec text (or binary) format, atomically; `workers`
        threads format the rows (the file is the same for any number)."""
        from .w2v_format import write_word2vec
        write_word2vec(path, [str(k) for k in self.index_to_key], self.vectors, binary=binary,
                       workers=workers)

    @classmethod
    def load_word2vec_format(cls, path, binary=None, limit=None, normalize=True):
        """Read word2vec text or binary format; rows are put on the sphere."""
        from .w2v_format import read_word2vec
        keys, vectors = read_word2vec(path, binary=binary, limit=limit)
        return cls(keys, normalize_rows(vectors) if normalize else vectors)

    # -- gensim ----------------------------------------------------------------

    def to_gensim(self):
        """A `gensim.models.KeyedVectors` with these keys, in this order, and a
        copy of these vectors, for gensim's own tools (most_similar,
        evaluate_word_pairs, ...). Needs gensim:
        pip install "jose-embeddings[gensim]".
        """
        gensim_kv = _gensim_keyed_vectors("KeyedVectors.to_gensim")
        kv = gensim_kv(self.vector_size, dtype=np.float32)
        kv.add_vectors(self.index_to_key, np.asarray(self.vectors, dtype=np.float32))
        return kv

    @classmethod
    def from_gensim(cls, kv) -> "KeyedVectors":
        """These keys and vectors from a `gensim.models.KeyedVectors` (a
        model's .wv or .dv), keys in gensim's order. gensim's vectors need not
        be unit length, and these must be: every row is normalised onto the
        sphere (so similarities agree with gensim's cosine ones). A zero row
        raises ValueError naming its key.
        """
        if not (hasattr(kv, "index_to_key") and hasattr(kv, "vectors")):
            hint = " (pass model.wv or model.dv)" if hasattr(kv, "wv") else ""
            raise TypeError(f"from_gensim takes a gensim KeyedVectors{hint}, got "
                            f"{type(kv).__name__}")
        keys = list(kv.index_to_key)
        vectors = np.asarray(kv.vectors)
        if vectors.ndim != 2 or len(vectors) != len(keys):
            raise ValueError(f"from_gensim: {len(keys)} keys but vectors of shape "
                             f"{vectors.shape}")
        norms = np.linalg.norm(vectors.astype(np.float64), axis=1)
        bad = np.flatnonzero(~np.isfinite(norms) | (norms == 0))
        if len(bad):
            raise ValueError(f"from_gensim: the vector of {keys[bad[0]]!r} is zero or not "
                             f"finite and has no direction")
        return cls(keys, normalize_rows(vectors))


def _gensim_keyed_vectors(what: str):
    """gensim's KeyedVectors class, imported when first needed."""
    try:
        from gensim.models import KeyedVectors as gensim_kv
    except ImportError as e:
        raise ImportError(f'{what} needs gensim, an optional dependency: '
                          f'pip install "jose-embeddings[gensim]"') from e
    return gensim_kv


def _as_list(items):
    if items is None:
        return []
    if isinstance(items, (str, int, np.integer, np.ndarray)):
        return [items]
    return list(items)
