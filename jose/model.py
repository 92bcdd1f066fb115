"""JoSE: the model -- parameters, validation, initialisation, schedule, epochs.

Python decides, Cython computes: this module checks what the user gave,
owns the three tables of unit vectors and the order of documents, and hands
batches of encoded documents to a `jose._core.Trainer`, the kernel object
that holds the hyper-parameters, the learning-rate schedule and the threads.
"""
from __future__ import annotations

import os
import warnings
from typing import NamedTuple, Optional

import numpy as np

from . import _core
from .corpus import CHUNK_TOKENS, CHUNKS_PER_BATCH, ScannedCorpus, training_batches
from .keyedvectors import KeyedVectors, normalize_rows
from .vocab import Vocabulary

#: Update rules: "paper" scales every step by 1 + x.g/|g| (Meng et al. 2019);
#: "reference" reproduces the JoSE C program (2h for the negative word,
#: 1 - (f - h) unnormalised for the context and document vector).
UPDATE_RULES = ("paper", "reference")
DEFAULT_UPDATE_RULE = "paper"

#: Objectives: "separate" trains the word-context and the word-document hinge
#: one after the other (the JoSE C program); "joint" trains the paper's one
#: hinge max(0, m - cos(u,v) - cos(u,d) + cos(u',v) + cos(u',d)) (Eq. 4).
OBJECTIVES = ("separate", "joint")
DEFAULT_OBJECTIVE = "separate"

#: alpha decays linearly to alpha * MIN_ALPHA_FRACTION unless min_alpha is given.
MIN_ALPHA_FRACTION = 1e-4


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class TrainingProgress(NamedTuple):
    """What a progress hook receives after every block of documents."""
    epoch: int            # 0-based, within this call of train()
    epochs: int
    words_done: int       # corpus words processed in this call, all epochs
    words_total: int
    alpha: float          # the current learning rate
    word_loss: float      # mean word-context hinge so far this epoch
    doc_loss: float       # mean word-document hinge so far this epoch
    kept_words: int = 0   # words kept by subsampling so far this epoch
    joint_loss: float = 0.0   # mean joint hinge so far this epoch (objective="joint")


class JoSE:
    """Spherical text embedding: word, context and document vectors on the sphere.

    Use it like gensim's Doc2Vec::

        model = JoSE(corpus, vector_size=100, epochs=20).train()
        model.wv.most_similar("space"); model.dv.most_similar(0)

    `corpus` is an iterable of TaggedDocument(words, tags) or of token lists
    (then a document's tag is its position). It is read once: the words are
    counted and the documents encoded to integer ids in the same pass, so a
    generator works too.

    Parameters (defaults are the JoSE program's):
        vector_size  dimension of every vector (100)
        window       largest distance between a word and its context (5)
        negative     negative words drawn per positive pair (2)
        margin       hinge margin m, in (0, 2] (0.15)
        alpha        starting learning rate (0.04)
        min_alpha    final learning rate (alpha * 1e-4); decay is linear in
                     the words processed over the whole run
        sample       frequent-word subsampling threshold, 0 = off (1e-3)
        min_count    words seen fewer times are dropped (5)
        epochs       passes over the corpus (10)
        workers      threads (the machine's cores); with workers=1 and a seed,
                     training is bit-for-bit repeatable
        seed         seed of every random choice (1)
        update_rule  "paper" or "reference" (see UPDATE_RULES)
        objective    "separate" or "joint" (see OBJECTIVES)
        shuffle      train documents in a new random order every epoch (True);
                     False keeps the corpus order, as jose.c and gensim do --
                     which lets a corpus sorted by topic steer SGD (on 20
                     Newsgroups, sorted by group, it costs 0.05 NMI at 20 epochs)
    """

    def __init__(self, corpus=None, *, vector_size: int = 100, window: int = 5,
                 negative: int = 2, margin: float = 0.15, alpha: float = 0.04,
                 min_alpha: Optional[float] = None, sample: float = 1e-3,
                 min_count: int = 5, epochs: int = 10, workers: Optional[int] = None,
                 seed: int = 1, update_rule: str = DEFAULT_UPDATE_RULE,
                 shuffle: bool = True, objective: str = DEFAULT_OBJECTIVE):
        self.vector_size = _positive_int("vector_size", vector_size)
        self.window = _positive_int("window", window)
        self.negative = _positive_int("negative", negative)
        self.epochs = _positive_int("epochs", epochs)
        self.min_count = _positive_int("min_count", min_count)
        self.workers = available_cores() if workers is None else _positive_int("workers", workers)
        self.alpha = _positive_float("alpha", alpha)
        self.min_alpha = (self.alpha * MIN_ALPHA_FRACTION if min_alpha is None
                          else _positive_float("min_alpha", min_alpha))
        if self.min_alpha > self.alpha:
            raise ValueError(f"min_alpha must not exceed alpha ({min_alpha} > {alpha})")
        margin = _float("margin", margin)
        if not 0.0 < margin <= 2.0:
            raise ValueError(f"margin must be in (0, 2] (cosines differ by at most 2), got {margin}")
        self.margin = margin
        sample = _float("sample", sample)
        if not sample >= 0.0:
            raise ValueError(f"sample must be >= 0, got {sample}")
        self.sample = sample
        if update_rule not in UPDATE_RULES:
            raise ValueError(f"update_rule must be one of {UPDATE_RULES}, got {update_rule!r}")
        self.update_rule = update_rule
        if objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {OBJECTIVES}, got {objective!r}")
        self.objective = objective
        if not isinstance(shuffle, (bool, np.bool_)):
            raise ValueError(f"shuffle must be True or False, got {shuffle!r}")
        self.shuffle = bool(shuffle)
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        self.seed = int(seed)
        if self.workers > 1 and not _core.openmp_enabled():
            warnings.warn("jose was built without OpenMP: training runs on one thread")

        self.vocab: Optional[Vocabulary] = None
        self.wv: Optional[KeyedVectors] = None   # center-word vectors u
        self.cv: Optional[KeyedVectors] = None   # context-word vectors v
        self.dv: Optional[KeyedVectors] = None   # document vectors d
        self.training_loss: list = []            # one dict per trained epoch
        self.epochs_trained = 0
        self.batch_tokens = CHUNK_TOKENS * CHUNKS_PER_BATCH   # tokens per kernel call
        # threading settings (see "Hot rows" in jose/_core.pyx): with several
        # workers each thread steps a private copy of this many bytes of the
        # most frequent words' rows of U, folded in every sync_pairs steps
        self.hot_row_bytes = _core.HOT_ROW_BYTES
        self.sync_pairs = _core.SYNC_PAIRS
        self._corpus = None                      # what build_vocab read
        self._encoded = None                     # ... encoded for training
        self._samplers = None
        if corpus is not None:
            self.build_vocab(corpus)

    # -- vocabulary and initialisation -----------------------------------------

    def build_vocab(self, corpus) -> "JoSE":
        """Count words, keep those seen min_count times, encode the corpus."""
        if isinstance(corpus, (str, bytes, os.PathLike)):
            raise TypeError("corpus must be an iterable of documents; to train on a "
                            "file use jose.textcorpus or the jose-train command")
        scanned = ScannedCorpus(corpus)
        if scanned.n_docs == 0:
            raise ValueError("the corpus is empty: it has no documents")
        vocab = Vocabulary.from_counts(scanned.words, scanned.counts(), self.min_count)
        if len(vocab) == 0:
            raise ValueError(f"the vocabulary is empty: no word occurs min_count="
                             f"{self.min_count} times in the corpus's "
                             f"{len(scanned.ids)} tokens")
        tags = scanned.tags
        self._set_vocab(vocab, tags)
        self._encoded = scanned.encode(vocab.key_to_index, self.dv.key_to_index)
        self._corpus = corpus
        return self

    def build_vocab_from_counts(self, words, counts, doc_tags) -> "JoSE":
        """Set the vocabulary from counts made elsewhere (the streaming CLI).

        Training data then comes through `train(encoded=...)`.
        """
        vocab = Vocabulary.from_counts(list(words), counts, self.min_count)
        if len(vocab) == 0:
            raise ValueError(f"the vocabulary is empty: no word occurs min_count="
                             f"{self.min_count} times")
        if len(doc_tags) == 0:
            raise ValueError("the corpus is empty: it has no documents")
        self._set_vocab(vocab, list(doc_tags))
        return self

    def _set_vocab(self, vocab: Vocabulary, tags: list):
        self.vocab = vocab
        rng = np.random.default_rng(self.seed)
        dim = self.vector_size
        self.wv = KeyedVectors(vocab.words, random_unit_vectors(rng, len(vocab), dim))
        self.cv = KeyedVectors(vocab.words, random_unit_vectors(rng, len(vocab), dim))
        self.dv = KeyedVectors(tags, random_unit_vectors(rng, len(tags), dim))
        self._samplers = None
        self.training_loss = []
        self.epochs_trained = 0

    def load_pretrained(self, word_path, context_path=None, binary=None) -> int:
        """Start from pretrained word (and context) vectors in word2vec format.

        Vectors are put on the sphere (the JoSE program forgets to); words the
        file does not know keep their random start. Returns the number of
        vocabulary words found in the word file.
        """
        self._require_vocab("load_pretrained")
        from .w2v_format import read_word2vec
        found = 0
        for path, table in ((word_path, self.wv), (context_path, self.cv)):
            if path is None:
                continue
            keys, vectors = read_word2vec(path, binary=binary)
            if vectors.shape[1] != self.vector_size:
                raise ValueError(f"{path}: vectors have {vectors.shape[1]} dimensions, "
                                 f"the model has vector_size={self.vector_size}")
            rows = [(table.key_to_index[k], i) for i, k in enumerate(keys)
                    if k in table.key_to_index]
            if rows:
                dst, src = (np.array(x) for x in zip(*rows))
                table.vectors[dst] = normalize_rows(vectors[src])
            if table is self.wv:
                found = len(rows)
        return found

    def _require_vocab(self, what):
        if self.vocab is None:
            raise RuntimeError(f"{what} needs a vocabulary: pass a corpus to JoSE(...) "
                               f"or call build_vocab(corpus) first")

    def _get_samplers(self):
        """Subsampling thresholds and the negative-sampling alias table."""
        if self._samplers is None:
            thresh, alias = self.vocab.negative_table()
            self._samplers = (self.vocab.keep_thresholds(self.sample), thresh, alias)
        return self._samplers

    # -- training ------------------------------------------------------------

    def train(self, corpus=None, total_examples=None, total_words=None, epochs=None,
              *, encoded=None, callbacks=(), progress=False) -> "JoSE":
        """Train and return the model, so `JoSE(corpus).train()` chains.

        corpus          None: the corpus given to build_vocab; another corpus
                        is encoded against the existing vocabulary and tags
        total_examples  accepted for gensim compatibility; must match the
                        number of documents if given
        total_words     accepted for gensim compatibility; ignored
        epochs          passes (default: the model's `epochs`); alpha decays
                        from alpha to min_alpha over this call
        encoded         an encoded corpus (MemoryCorpus, textcorpus.DiskCorpus)
        callbacks       objects with optional on_train_begin/on_epoch_begin/
                        on_epoch_end/on_train_end(model) methods (gensim style)
        progress        True for a tqdm bar, or a callable receiving
                        TrainingProgress after every block
        """
        self._require_vocab("train")
        epochs = self.epochs if epochs is None else _positive_int("epochs", epochs)
        data = self._training_data(corpus, encoded)
        if total_examples is not None and total_examples != data.n_docs:
            raise ValueError(f"total_examples={total_examples} but the corpus has "
                             f"{data.n_docs} documents")
        if data.n_docs != len(self.dv) and encoded is not None:
            raise ValueError(f"the encoded corpus has {data.n_docs} documents, the "
                             f"model has {len(self.dv)} document vectors")
        if not all(t.vectors.flags.writeable for t in (self.wv, self.cv, self.dv)):
            raise ValueError("this model's vectors are read-only (loaded with mmap='r'); "
                             "load it with mmap=None or mmap='c' to train it further")
        trainer = self._trainer(data.n_tokens, epochs)
        words_total = data.n_tokens * epochs
        report, close = _progress_reporter(progress, words_total)
        _call(callbacks, "on_train_begin", self)
        try:
            for epoch in range(epochs):
                _call(callbacks, "on_epoch_begin", self)
                trainer.reset_stats()
                order = np.random.default_rng([trainer.seed, epoch])
                done = 0
                chunk = max(1, self.batch_tokens // CHUNKS_PER_BATCH)
                for batch in training_batches(data, self.shuffle, order, chunk_tokens=chunk):
                    trainer.train(batch, epoch, done)
                    done += len(batch.tokens)
                    if report is not None:
                        report(self._progress(trainer, epoch, done, words_total))
                self._check_finite(trainer)
                self.training_loss.append(self._epoch_summary(trainer.stats, data))
                self.epochs_trained += 1
                _call(callbacks, "on_epoch_end", self)
        finally:
            close()
        _call(callbacks, "on_train_end", self)
        return self

    def _trainer(self, corpus_tokens: int, epochs: int, **switches) -> "_core.Trainer":
        """The kernel object for one call of train(): tables, samplers,
        hyper-parameters, schedule and threads."""
        keep, thresh, alias = self._get_samplers()
        # a fresh stream for every call of train(), so a second call differs
        seed = int(np.random.SeedSequence([self.seed, self.epochs_trained]).generate_state(
            1, np.uint64)[0])
        return _core.Trainer(
            self.wv.vectors, self.cv.vectors, self.dv.vectors, keep, thresh, alias,
            window=self.window, negative=self.negative, margin=self.margin,
            alpha=self.alpha, min_alpha=self.min_alpha, corpus_tokens=max(corpus_tokens, 1),
            epochs=epochs, update_rule=self.update_rule, objective=self.objective, seed=seed,
            n_threads=self.workers, hot_row_bytes=self.hot_row_bytes,
            sync_pairs=self.sync_pairs, **switches)

    def _check_finite(self, trainer):
        """Stop with the table and row when training produced NaN or inf (as
        scikit-learn's SGD does), instead of carrying it on silently."""
        bad = trainer.first_non_finite()
        if bad is None:
            return
        table, row = bad
        kv, what = {"U": (self.wv, "wv (word vectors)"), "V": (self.cv, "cv (context vectors)"),
                    "D": (self.dv, "dv (document vectors)")}[table]
        raise FloatingPointError(
            f"training diverged in epoch {self.epochs_trained + 1}: row {row} of {what}, "
            f"key {kv.index_to_key[row]!r}, is not finite; try a smaller alpha "
            f"(now {self.alpha})")

    def _training_data(self, corpus, encoded):
        if encoded is not None:
            return encoded
        if corpus is None or corpus is self._corpus:
            if self._encoded is None:
                raise RuntimeError("no corpus to train on: pass one to train(corpus)")
            return self._encoded
        return ScannedCorpus(corpus).encode(self.vocab.key_to_index, self.dv.key_to_index)

    def _progress(self, trainer, epoch, done, words_total):
        s = trainer.stats
        return TrainingProgress(
            epoch, trainer.epochs, epoch * trainer.corpus_tokens + done, words_total,
            trainer.learning_rate(epoch, done), _mean(s, "word"), _mean(s, "doc"),
            s["kept_words"], _mean(s, "joint"))

    def _epoch_summary(self, s, data):
        summary = {"epoch": self.epochs_trained + 1,
                   "word_loss": _mean(s, "word"), "doc_loss": _mean(s, "doc"),
                   "word_pairs": s["word_pairs"], "doc_pairs": s["doc_pairs"],
                   "words": int(data.n_tokens), "kept_words": s["kept_words"]}
        if self.objective == "joint":
            summary.update(joint_loss=_mean(s, "joint"), joint_tuples=s["joint_tuples"])
        return summary

    def get_latest_training_loss(self) -> float:
        """Mean of both hinges over the last epoch (0.0 before training)."""
        if not self.training_loss:
            return 0.0
        last = self.training_loss[-1]
        return last["word_loss"] + last["doc_loss"]

    # -- inference -------------------------------------------------------------

    def infer_vector(self, doc_words, epochs: Optional[int] = None,
                     alpha: Optional[float] = None, seed: Optional[int] = None) -> np.ndarray:
        """A unit vector for an unseen document, fitted with the word-document
        hinge against the frozen word vectors. Deterministic for a seed.
        """
        self._require_vocab("infer_vector")
        if isinstance(doc_words, (str, bytes)):
            raise TypeError("doc_words must be a list of tokens (for example text.split())")
        epochs = self.epochs if epochs is None else _positive_int("epochs", epochs)
        alpha = self.alpha if alpha is None else _positive_float("alpha", alpha)
        seed = self.seed if seed is None else int(seed)
        index = self.vocab.key_to_index
        ids = np.array([index[w] for w in doc_words if w in index], dtype=np.int32)
        if len(ids) == 0:
            raise ValueError("cannot infer a vector: none of the document's words is "
                             "in the vocabulary")
        keep, thresh, alias = self._get_samplers()
        rng = np.random.default_rng([seed, len(ids)])
        d = random_unit_vectors(rng, 1, self.vector_size)[0]
        _core.infer_document(self.wv.vectors, d, ids, keep, thresh, alias, self.negative,
                             self.margin, self.update_rule, alpha,
                             min(self.min_alpha / self.alpha, 1.0), epochs, seed)
        return d

    # -- persistence -----------------------------------------------------------

    def params(self) -> dict:
        """The constructor's parameters, as saved."""
        return {k: getattr(self, k) for k in (
            "vector_size", "window", "negative", "margin", "alpha", "min_alpha",
            "sample", "min_count", "epochs", "workers", "seed", "update_rule", "shuffle",
            "objective")}

    def save(self, path) -> None:
        """Save to directory `path` (.npy arrays + model.json), atomically."""
        from .persistence import save_model
        save_model(self, path)

    @classmethod
    def load(cls, path, mmap: Optional[str] = None) -> "JoSE":
        """Load a saved model; mmap="r" maps the arrays read-only."""
        from .persistence import load_model
        return load_model(cls, path, mmap=mmap)

    def __repr__(self):
        shape = "untrained" if self.vocab is None else (
            f"{len(self.wv)} words, {len(self.dv)} documents")
        return (f"JoSE({shape}, vector_size={self.vector_size}, window={self.window}, "
                f"negative={self.negative}, margin={self.margin}, "
                f"update_rule={self.update_rule!r})")


def random_unit_vectors(rng: np.random.Generator, n: int, dim: int,
                        chunk: int = 1 << 14) -> np.ndarray:
    """n directions, uniform on the sphere (normalised Gaussians), float32.

    Made `chunk` rows at a time, so a table of millions of documents needs no
    full-size temporaries.
    """
    out = np.empty((n, dim), dtype=np.float32)
    for start in range(0, n, chunk):
        x = rng.standard_normal((min(chunk, n - start), dim), dtype=np.float32)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        out[start:start + len(x)] = x
    return out


def _mean(stats, hinge) -> float:
    """Mean loss of one hinge ("word", "doc" or "joint") over its steps."""
    count = stats[f"{hinge}_pairs" if hinge != "joint" else "joint_tuples"]
    return float(stats[f"{hinge}_loss"] / max(count, 1))


def _call(callbacks, method, model):
    for cb in callbacks:
        fn = getattr(cb, method, None)
        if fn is not None:
            fn(model)


def _progress_reporter(progress, total):
    """(report(TrainingProgress) or None, close()) for the `progress` argument."""
    if not progress:
        return None, lambda: None
    if callable(progress):
        return progress, lambda: None
    from tqdm.auto import tqdm
    bar = tqdm(total=total, unit="word", unit_scale=True, desc="training")

    def report(p: TrainingProgress):
        bar.set_postfix(epoch=p.epoch + 1, alpha=f"{p.alpha:.5f}",
                        loss=f"{p.word_loss + p.doc_loss:.4f}", refresh=False)
        bar.update(p.words_done - bar.n)
    return report, bar.close


def _positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value}")
    return int(value)


def _float(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    return value


def _positive_float(name, value):
    value = _float(name, value)
    if value <= 0:
        raise ValueError(f"{name} must be > 0, got {value}")
    return value
