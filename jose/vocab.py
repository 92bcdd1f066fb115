"""The vocabulary: word counts, the min_count cut, subsampling and negatives."""
from __future__ import annotations

import numpy as np

from . import _core

#: Negative words are drawn from the unigram distribution to this power.
NEGATIVE_POWER = 0.75


def check_max_final_vocab(value):
    """`value` as a positive int, or ValueError naming max_final_vocab."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) \
            or value < 1:
        raise ValueError(f"max_final_vocab must be a positive integer or None, got {value!r}")
    return int(value)


class Vocabulary:
    """Words sorted by descending count (ties by word), with their counts.

    Word ids are positions in `words`; `key_to_index` maps back.
    """

    def __init__(self, words, counts):
        counts = np.asarray(counts, dtype=np.int64)
        if len(words) != len(counts):
            raise ValueError("words and counts must have the same length")
        self.words = list(words)
        self.counts = counts
        self.key_to_index = {w: i for i, w in enumerate(self.words)}
        if len(self.key_to_index) != len(self.words):
            raise ValueError("the vocabulary has a repeated word")

    @classmethod
    def from_counts(cls, words, counts, min_count=1, max_final_vocab=None):
        """Keep words seen at least `min_count` times, most frequent first,
        and at most the `max_final_vocab` most frequent of them (equal counts
        in code-point order of the words, so the cut is deterministic)."""
        counts = np.asarray(counts, dtype=np.int64)
        keep = np.flatnonzero(counts >= min_count)
        # stable sort by word first (list.sort: code-point order, faster than
        # numpy's object sort), then by descending count: ties stay alphabetical
        kept = [words[i] for i in keep.tolist()]
        keep = keep[np.asarray(sorted(range(len(kept)), key=kept.__getitem__), dtype=np.intp)]
        keep = keep[np.argsort(-counts[keep], kind="stable")]
        if max_final_vocab is not None:
            keep = keep[:check_max_final_vocab(max_final_vocab)]
        return cls([words[i] for i in keep.tolist()], counts[keep])

    def __len__(self):
        return len(self.words)

    @property
    def total_words(self) -> int:
        return int(self.counts.sum())

    def keep_thresholds(self, sample: float) -> np.ndarray:
        """Subsampling as 32-bit thresholds: keep word w when rand32 < t[w].

        word2vec's rule: with T the corpus size and c_w a word's count, keep
        probability p_w = (sqrt(c_w / (s T)) + 1) * s T / c_w, capped at 1.
        sample = 0 keeps every word.
        """
        full = np.uint64(1 << 32)
        if sample <= 0 or len(self) == 0:
            return np.full(len(self), full, dtype=np.uint64)
        st = sample * self.total_words
        c = self.counts.astype(np.float64)
        p = np.minimum(1.0, (np.sqrt(c / st) + 1.0) * st / c)
        return np.minimum(np.floor(p * 2.0 ** 32), 2.0 ** 32).astype(np.uint64)

    def negative_table(self):
        """Alias table of the unigram^0.75 distribution: (thresholds, aliases)."""
        probs = self.counts.astype(np.float64) ** NEGATIVE_POWER
        return _core.build_alias_table(probs)
