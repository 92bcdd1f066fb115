"""JoSE: the model -- parameters, validation, initialisation, schedule, epochs.

Python decides, Cython computes: this module checks what the user gave,
owns the three tables of unit vectors and the order of documents, and hands
batches of encoded documents to a `jose._core.Trainer`, the kernel object
that holds the hyper-parameters, the learning-rate schedule and the threads.
"""
from __future__ import annotations

import itertools
import math
import os
import warnings
from typing import NamedTuple, Optional

import numpy as np

from . import _core
from .corpus import CHUNK_TOKENS, CHUNKS_PER_BATCH, ScannedCorpus, training_batches
from .keyedvectors import KeyedVectors, normalize_rows
from .parallel import ordered_map
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
DEFAULT_OBJECTIVE = "joint"

#: Defaults chosen by measurement on corpora of several shapes (README, "Why
#: these defaults"; benchmarks/results/defaults.md and defaults_round3.md).
DEFAULT_WINDOW = 5
DEFAULT_MARGIN = "auto"
DEFAULT_EPOCHS = "auto"
DEFAULT_SAMPLE = "auto"

#: sample="auto": word2vec's subsampling threshold s, ten times stricter than
#: its usual 1e-3 -- document vectors then meet fewer function words (20
#: Newsgroups NMI 0.611 -> 0.616, 20-token documents 0.130 -> 0.148 at 20
#: epochs) for ~0.01 WS-353 -- but never below MIN_SAMPLE_COUNT / T for a
#: corpus of T tokens: a word is thinned only once it is seen more than
#: ~MIN_SAMPLE_COUNT times. s T of 4-9 wrecked small corpora (NMI 0.13 -> 0.04
#: on 20-token documents), 37-90 served them best.
AUTO_SAMPLE = 1e-4
MIN_SAMPLE_COUNT = 40

#: margin="auto" follows the mean length L of a document in in-vocabulary
#: tokens: SHORT_MARGIN up to SHORT_DOCUMENT_TOKENS, LONG_MARGIN from
#: LONG_DOCUMENT_TOKENS on, and in between log-linear from one to the other.
#: A short document's vector meets few words; a wide margin keeps its hinges
#: active for longer (20-token documents: NMI 0.147 at 0.7, 0.156 at 1.0),
#: while on long documents 0.3 is best for documents and for word vectors.
SHORT_MARGIN = 1.0
LONG_MARGIN = 0.3
SHORT_DOCUMENT_TOKENS = 50
LONG_DOCUMENT_TOKENS = 200

#: epochs="auto": a corpus of AUTO_EPOCHS_TOKENS in-vocabulary tokens or more
#: gets MIN_AUTO_EPOCHS passes; a smaller one more, as 1/sqrt(its size), up to
#: MAX_AUTO_EPOCHS (2.5 M tokens and below). Small corpora are undertrained at
#: 10 (50-token documents, 0.9 M tokens: NMI 0.412 at 10 epochs, 0.435 at 20;
#: 20 Newsgroups, 5.4 M tokens: 0.618 at 10, 0.627 at 15).
AUTO_EPOCHS_TOKENS = 10_000_000
MIN_AUTO_EPOCHS = 10
MAX_AUTO_EPOCHS = 20


def auto_margin(n_tokens: int, n_docs: int) -> float:
    """The margin "auto" stands for, for a corpus of n_docs documents holding
    n_tokens in-vocabulary tokens (see SHORT_MARGIN)."""
    mean = n_tokens / max(n_docs, 1)
    if mean <= SHORT_DOCUMENT_TOKENS:
        return SHORT_MARGIN
    if mean >= LONG_DOCUMENT_TOKENS:
        return LONG_MARGIN
    t = math.log(mean / SHORT_DOCUMENT_TOKENS) / math.log(LONG_DOCUMENT_TOKENS /
                                                          SHORT_DOCUMENT_TOKENS)
    return round(SHORT_MARGIN + t * (LONG_MARGIN - SHORT_MARGIN), 3)


def auto_sample(n_tokens: int) -> float:
    """The subsampling threshold "auto" stands for, for a vocabulary whose
    words are seen n_tokens times in all (see AUTO_SAMPLE)."""
    return max(AUTO_SAMPLE, MIN_SAMPLE_COUNT / max(n_tokens, 1))


def auto_epochs(n_tokens: int) -> int:
    """The epochs "auto" stands for, for a corpus of n_tokens in-vocabulary
    tokens (see AUTO_EPOCHS_TOKENS)."""
    if n_tokens <= 0:
        return MAX_AUTO_EPOCHS
    epochs = round(MIN_AUTO_EPOCHS * math.sqrt(AUTO_EPOCHS_TOKENS / n_tokens))
    return int(min(max(epochs, MIN_AUTO_EPOCHS), MAX_AUTO_EPOCHS))


#: infer_vectors with several workers encodes this many documents while the
#: kernel fits the previous ones (20 Newsgroups' test set x 4 at 2 workers:
#: encoding is 1.0 s of 5.8 s, serial without the overlap).
INFER_CHUNK_DOCS = 1024

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

    Or give `corpus_file`, a text file with one document per line (plain,
    .gz, .bz2 or .xz), streamed as `jose-train` streams it: documents are
    tagged by 0-based line number and memory does not grow with the file's
    length (see build_vocab_from_file; `tokenize` and `cache_dir` are its
    options)::

        model = JoSE(corpus_file="corpus.txt.gz", vector_size=100).train()

    Parameters (defaults chosen by measurement, see README):
        vector_size  dimension of every vector (100)
        window       largest distance between a word and its context (5)
        negative     negative words drawn per positive pair (2)
        margin       hinge margin m, in (0, 2], or "auto" (the default): 1.0
                     when the corpus's documents average at most 50
                     in-vocabulary tokens, 0.3 from 200 on, log-linear in
                     between (see auto_margin); the chosen value is
                     `model.margin` once the corpus is read
        alpha        starting learning rate (0.04)
        min_alpha    final learning rate (alpha * 1e-4); decay is linear in
                     the words processed over the whole run
        sample       frequent-word subsampling threshold s (word2vec's rule),
                     0 = off, or "auto" (the default): 1e-4, raised for a
                     corpus under 400 K tokens so that s x tokens >= 40 (see
                     auto_sample); the chosen value is `model.sample` once
                     the vocabulary is built
        min_count    words seen fewer times are dropped (5)
        max_vocab_size  bound on the words held while counting (None): past
                     it, the rarest are pruned as gensim does (counts become
                     lower bounds)
        max_final_vocab keep at most this many of the most frequent words (None)
        epochs       passes over the corpus, or "auto" (the default): 10 for a
                     corpus of 10 M in-vocabulary tokens or more, up to 20 for
                     smaller ones (see auto_epochs); the chosen value is
                     `model.epochs` once the corpus is read
        workers      threads (the machine's cores); with workers=1 and a seed,
                     training is bit-for-bit repeatable
        seed         seed of every random choice (1)
        update_rule  "paper" or "reference" (see UPDATE_RULES)
        objective    "joint" (the paper's one hinge) or "separate" (jose.c's
                     two hinges), see OBJECTIVES
        shuffle      train documents in a new random order every epoch (True);
                     False keeps the corpus order, as jose.c and gensim do --
                     which lets a corpus sorted by topic steer SGD (on 20
                     Newsgroups, sorted by group, it costs 0.05 NMI at 20 epochs)
    """

    def __init__(self, corpus=None, *, corpus_file=None, tokenize: bool = False,
                 cache_dir=None, vector_size: int = 100, window: int = DEFAULT_WINDOW,
                 negative: int = 2, margin=DEFAULT_MARGIN, alpha: float = 0.04,
                 min_alpha: Optional[float] = None, sample=DEFAULT_SAMPLE,
                 min_count: int = 5, epochs=DEFAULT_EPOCHS, workers: Optional[int] = None,
                 seed: int = 1, update_rule: str = DEFAULT_UPDATE_RULE,
                 shuffle: bool = True, objective: str = DEFAULT_OBJECTIVE,
                 max_vocab_size: Optional[int] = None, max_final_vocab: Optional[int] = None):
        self.vector_size = _positive_int("vector_size", vector_size)
        self.window = _positive_int("window", window)
        self.negative = _positive_int("negative", negative)
        # "auto": chosen from the corpus by build_vocab / train
        if isinstance(epochs, str) and epochs == "auto":
            self.epochs = None
        elif isinstance(epochs, str):
            raise ValueError(f"epochs must be 'auto' or a positive integer, got {epochs!r}")
        else:
            self.epochs = _positive_int("epochs", epochs)
        self.min_count = _positive_int("min_count", min_count)
        self.workers = available_cores() if workers is None else _positive_int("workers", workers)
        self.alpha = _positive_float("alpha", alpha)
        self.min_alpha = (self.alpha * MIN_ALPHA_FRACTION if min_alpha is None
                          else _positive_float("min_alpha", min_alpha))
        if self.min_alpha > self.alpha:
            raise ValueError(f"min_alpha must not exceed alpha ({min_alpha} > {alpha})")
        if isinstance(margin, str) and margin == "auto":
            margin = None                # chosen from the corpus by build_vocab / train
        else:
            margin = _float("margin", margin)
            if not 0.0 < margin <= 2.0:
                raise ValueError(f"margin must be 'auto' or in (0, 2] (cosines differ by at "
                                 f"most 2), got {margin}")
        self.margin = margin
        if isinstance(sample, str) and sample == "auto":
            sample = None                # chosen from the vocabulary's size
        else:
            sample = _float("sample", sample)
            if not sample >= 0.0:
                raise ValueError(f"sample must be 'auto' or >= 0, got {sample}")
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
        from ._text import check_max_vocab_size
        from .vocab import check_max_final_vocab
        self.max_vocab_size = (None if max_vocab_size is None
                               else check_max_vocab_size(max_vocab_size))
        self.max_final_vocab = (None if max_final_vocab is None
                                else check_max_final_vocab(max_final_vocab))
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
        # most frequent words' rows of U (and of V), folded in every sync_pairs steps
        self.hot_row_bytes = _core.HOT_ROW_BYTES
        self.sync_pairs = _core.SYNC_PAIRS
        self._corpus = None                      # what build_vocab read
        self._encoded = None                     # ... encoded for training
        self._samplers = None
        self._infer_shift = None                 # (wv.vectors, its negative mean)
        self._scratch = None                     # a corpus_file's temporary encoding
        self.corpus_count = 0                    # documents read by build_vocab (gensim's name)
        self.corpus_total_words = 0              # their tokens, before the min_count cut
        if corpus is not None or corpus_file is not None:
            self.build_vocab(corpus, corpus_file=corpus_file, tokenize=tokenize,
                             cache_dir=cache_dir)
        elif tokenize or cache_dir is not None:
            raise ValueError("tokenize and cache_dir apply to corpus_file, and none was given")

    # -- vocabulary and initialisation -----------------------------------------

    def build_vocab(self, corpus=None, corpus_file=None, *, tokenize: bool = False,
                    cache_dir=None, progress=False) -> "JoSE":
        """Count words, keep those seen min_count times, encode the corpus.

        Give `corpus` (an iterable of documents, held in memory once encoded)
        or `corpus_file` (a path; see `build_vocab_from_file`, which takes
        the other arguments).
        """
        if corpus is not None and corpus_file is not None:
            raise ValueError("give either corpus or corpus_file, not both")
        if corpus_file is not None:
            return self.build_vocab_from_file(corpus_file, tokenize=tokenize,
                                              cache_dir=cache_dir, progress=progress)
        if corpus is None:
            raise ValueError("build_vocab needs a corpus or a corpus_file")
        if tokenize or cache_dir is not None:
            raise ValueError("tokenize and cache_dir apply to corpus_file only; a corpus of "
                             "documents is already tokenised and held in memory")
        if isinstance(corpus, (str, bytes, os.PathLike)):
            raise TypeError("corpus must be an iterable of documents; to train on a "
                            "file pass corpus_file=path (or wrap it in jose.TextCorpus)")
        scanned = ScannedCorpus(corpus, max_vocab_size=self.max_vocab_size)
        if scanned.n_docs == 0:
            raise ValueError("the corpus is empty: it has no documents")
        vocab = Vocabulary.from_counts(scanned.words, scanned.counts(), self.min_count,
                                       self.max_final_vocab)
        if len(vocab) == 0:
            raise ValueError(f"the vocabulary is empty: no word occurs min_count="
                             f"{self.min_count} times in the corpus's "
                             f"{len(scanned.ids)} tokens")
        tags = scanned.tags
        self._set_vocab(vocab, tags)
        self.release_corpus()
        self._encoded = scanned.encode(vocab.key_to_index, self.dv.key_to_index)
        self._corpus = corpus
        self.corpus_count, self.corpus_total_words = scanned.n_docs, len(scanned.ids)
        self._choose_auto(self._encoded)
        return self

    def _choose_auto(self, data) -> None:
        """Resolve margin="auto" and epochs="auto" from the corpus (see
        auto_margin, auto_epochs); once chosen, they stay (they are saved with
        the model)."""
        if self.margin is None:
            self.margin = auto_margin(int(data.n_tokens), int(data.n_docs))
        if self.epochs is None:
            self.epochs = auto_epochs(int(data.n_tokens))
        self._choose_sample()

    def _choose_sample(self) -> None:
        """Resolve sample="auto" from the vocabulary's size (auto_sample)."""
        if self.sample is None and self.vocab is not None:
            self.sample = auto_sample(self.vocab.total_words)
            self._samplers = None

    def build_vocab_from_file(self, corpus_file, *, tokenize: bool = False, cache_dir=None,
                              word_counts=None, progress=False) -> "JoSE":
        """Count and encode a corpus file, streaming, as `jose-train` does.

        One document per line (every line, empty ones and an unterminated
        last one included), tagged by its 0-based line number; tokens split
        on ASCII whitespace, or with tokenize=True lower-cased and split on
        non-alphanumerics. Plain, .gz, .bz2 or .xz. The file is read once,
        counting the words and writing provisional word ids to disk, which
        are mapped to the vocabulary's in place once it is cut (with
        max_vocab_size or word_counts it is read twice: counted, then
        encoded). Training reads the encoded corpus back in blocks, so memory
        grows with the vocabulary and the number of documents, not with the
        file's length. The reading runs on the model's `workers` threads
        (with the same result).

        cache_dir    where the encoded corpus (tokens.i32, offsets.i64) goes
                     and stays; default a temporary directory owned by the
                     model, removed by release_corpus() or with the model
        word_counts  {word: count} to use instead of counting the file (then
                     corpus_total_words is None: the file's tokens are not counted)
        progress     True for tqdm bars over the file's bytes, or a callable
                     f(phase, n_bytes) told of "counting" and "encoding"
                     (n_bytes = 0 as each starts, then the bytes read since;
                     in one pass, "encoding" maps the ids and reports the
                     file's bytes in proportion to the tokens done)
        """
        from concurrent import futures

        from .filecorpus import prepare_file
        from .parallel import in_background
        tables = None

        def draw_tables(vocab, n_docs):
            # with several workers the random starting vectors are drawn in a
            # thread of their own while the file is encoded (the same draws)
            nonlocal tables
            tables = in_background(self._random_tables, len(vocab), n_docs)
        try:
            prepared = prepare_file(corpus_file, self.min_count, tokenize=tokenize,
                                    cache_dir=cache_dir, word_counts=word_counts,
                                    progress=progress, max_vocab_size=self.max_vocab_size,
                                    max_final_vocab=self.max_final_vocab, workers=self.workers,
                                    on_vocab=draw_tables if self.workers > 1 else None)
        except BaseException:
            if tables is not None:
                futures.wait([tables])    # no thread outlives the call
            raise
        drawn = tables.result() if tables is not None else None
        self.release_corpus()
        if drawn is not None and len(drawn[2]) != prepared.corpus.n_docs:
            drawn = None          # the file changed between the passes: draw again
        self._set_vocab(prepared.vocab, range(prepared.corpus.n_docs), drawn)
        self._encoded, self._scratch = prepared.corpus, prepared.scratch
        self.corpus_count = prepared.corpus.n_docs
        self.corpus_total_words = prepared.n_raw_tokens
        self._choose_auto(prepared.corpus)
        return self

    @property
    def encoded_corpus(self):
        """What train() reads by default (n_docs, n_tokens of in-vocabulary
        words, offsets, read_range), or None before build_vocab and after
        release_corpus."""
        return self._encoded

    def release_corpus(self) -> None:
        """Forget the corpus kept for train(); a corpus_file's temporary
        encoding is deleted now rather than when the model is collected.
        Vectors stay; training again then needs a corpus."""
        self._corpus = self._encoded = None
        if self._scratch is not None:
            self._scratch.cleanup()
            self._scratch = None

    def build_vocab_from_counts(self, words, counts, doc_tags) -> "JoSE":
        """Set the vocabulary from counts made elsewhere (the streaming CLI).

        Training data then comes through `train(encoded=...)`.
        """
        vocab = Vocabulary.from_counts(list(words), counts, self.min_count,
                                       self.max_final_vocab)
        if len(vocab) == 0:
            raise ValueError(f"the vocabulary is empty: no word occurs min_count="
                             f"{self.min_count} times")
        if len(doc_tags) == 0:
            raise ValueError("the corpus is empty: it has no documents")
        self._set_vocab(vocab, list(doc_tags))
        self.release_corpus()
        self.corpus_count, self.corpus_total_words = len(doc_tags), None
        return self

    def _set_vocab(self, vocab: Vocabulary, tags: list, tables=None):
        """Take the vocabulary and document tags, with random unit starting
        vectors (`tables`: what _random_tables(len(vocab), len(tags)) gives,
        when drawn already)."""
        self.vocab = vocab
        u, v, d = tables if tables is not None else self._random_tables(len(vocab), len(tags))
        self.wv = KeyedVectors(vocab.words, u)
        self.cv = KeyedVectors(vocab.words, v)
        self.dv = KeyedVectors(tags, d)
        self._samplers = None
        self._infer_shift = None
        self.training_loss = []
        self.epochs_trained = 0

    def _random_tables(self, n_words: int, n_docs: int):
        """The starting U, V and D: uniform directions, each table from its
        own child of the model's seed (see seeded_unit_vectors), drawn by
        the model's workers."""
        u, v, d = np.random.SeedSequence(self.seed).spawn(3)
        dim, workers = self.vector_size, self.workers
        return (seeded_unit_vectors(u, n_words, dim, workers),
                seeded_unit_vectors(v, n_words, dim, workers),
                seeded_unit_vectors(d, n_docs, dim, workers))

    def load_pretrained(self, word_path, context_path=None, binary=None) -> int:
        """Start from pretrained word (and context) vectors in word2vec format.

        Vectors are put on the sphere (the JoSE program forgets to); words the
        file does not know keep their random start. Returns the number of
        vocabulary words found in the word file.
        """
        self._require_vocab("load_pretrained")
        from .w2v_format import read_word2vec
        self._infer_shift = None                 # U changes in place below
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

    @property
    def inference_epochs(self) -> int:
        """Inference's default passes: the model's epochs (MIN_AUTO_EPOCHS
        while epochs is "auto" and no corpus has chosen it)."""
        return MIN_AUTO_EPOCHS if self.epochs is None else self.epochs

    def _get_infer_shift(self):
        """The mean of a negative's word vector (float64, vector_size): the
        centre inference's start vector is taken from (_core.negative_mean).
        Cached per table of word vectors; train and load_pretrained drop the
        cache (they change U in place)."""
        U = self.wv.vectors
        cached = self._infer_shift
        if cached is None or cached[0] is not U:
            keep, thresh, alias = self._get_samplers()
            cached = self._infer_shift = (U, _core.negative_mean(U, thresh, alias))
        return cached[1]

    def _get_samplers(self):
        """Subsampling thresholds and the negative-sampling alias table."""
        self._choose_sample()
        if self._samplers is None:
            thresh, alias = self.vocab.negative_table()
            self._samplers = (self.vocab.keep_thresholds(self.sample), thresh, alias)
        return self._samplers

    # -- training ------------------------------------------------------------

    def train(self, corpus=None, total_examples=None, total_words=None, epochs=None,
              *, encoded=None, callbacks=(), progress=False, checkpoint=None,
              checkpoint_every=None, resume=False) -> "JoSE":
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
        checkpoint      a directory: the model and the schedule's position are
                        saved there atomically after every epoch (a model
                        directory JoSE.load reads; see jose.checkpoint)
        checkpoint_every  also save after the first batch that ends this many
                        minutes after the last save (None: epochs only)
        resume          continue from the checkpoint in `checkpoint` if there
                        is one (refused, saying what differs, if it is of
                        other data or parameters); with workers=1 the result
                        is bit-identical to an uninterrupted run
        """
        self._require_vocab("train")
        epochs = None if epochs is None else _positive_int("epochs", epochs)
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
        self._choose_auto(data)
        epochs = self.epochs if epochs is None else epochs
        saver, start = None, None
        if checkpoint is not None:
            from .checkpoint import Checkpointer
            saver = Checkpointer(self, checkpoint, checkpoint_every, data, epochs)
            start = saver.resume() if resume else None
        elif resume or checkpoint_every is not None:
            raise ValueError("resume and checkpoint_every need checkpoint=DIR")
        first_epoch = 0 if start is None else start["epochs_done"]
        self._infer_shift = None                 # training moves U in place
        trainer = self._trainer(data.n_tokens, epochs,
                                call_start=None if saver is None else saver.call_start)
        words_total = data.n_tokens * epochs
        report, close = _progress_reporter(progress, words_total)
        _call(callbacks, "on_train_begin", self)
        try:
            for epoch in range(first_epoch, epochs):
                _call(callbacks, "on_epoch_begin", self)
                trainer.reset_stats()
                order = np.random.default_rng([trainer.seed, epoch])
                done = skip = 0
                carried = None
                if start is not None and epoch == first_epoch:
                    skip, carried = start["batches_done"], start["stats"]
                chunk = max(1, self.batch_tokens // CHUNKS_PER_BATCH)
                for number, batch in enumerate(training_batches(data, self.shuffle, order,
                                                                chunk_tokens=chunk)):
                    if number < skip:     # trained before the checkpoint: same order
                        done += len(batch.tokens)
                        continue
                    trainer.train(batch, epoch, done)
                    done += len(batch.tokens)
                    if report is not None:
                        report(self._progress(trainer, epoch, done, words_total))
                    if saver is not None and saver.due() and done < data.n_tokens:
                        self._check_finite(trainer)
                        saver.save(epoch, number + 1, done, _add_stats(trainer.stats, carried))
                self._check_finite(trainer)
                self.training_loss.append(
                    self._epoch_summary(_add_stats(trainer.stats, carried), data))
                self.epochs_trained += 1
                if saver is not None:
                    saver.save(epoch + 1)
                _call(callbacks, "on_epoch_end", self)
        finally:
            close()
        _call(callbacks, "on_train_end", self)
        return self

    def _trainer(self, corpus_tokens: int, epochs: int, call_start: Optional[int] = None,
                 **switches) -> "_core.Trainer":
        """The kernel object for one call of train(): tables, samplers,
        hyper-parameters, schedule and threads. `call_start` is epochs_trained
        when the call began (a resumed call began before its checkpoint)."""
        keep, thresh, alias = self._get_samplers()
        # a fresh stream for every call of train(), so a second call differs
        start = self.epochs_trained if call_start is None else call_start
        seed = int(np.random.SeedSequence([self.seed, start]).generate_state(
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
        """The last epoch's loss (see epoch_loss; 0.0 before training)."""
        return self.epoch_loss(-1) if self.training_loss else 0.0

    def epoch_loss(self, epoch: int) -> float:
        """An epoch's mean loss, as its objective defines it: the word-context
        plus the word-document hinge (separate), or the joint hinge (joint,
        plus the word-document hinge of one-word documents)."""
        e = self.training_loss[epoch]
        return e.get("joint_loss", 0.0) + e["word_loss"] + e["doc_loss"]

    # -- inference -------------------------------------------------------------

    def infer_vector(self, doc_words, epochs: Optional[int] = None,
                     alpha: Optional[float] = None, seed: Optional[int] = None) -> np.ndarray:
        """A unit vector for an unseen document, fitted with the word-document
        hinge against the frozen word vectors.

        The result is exactly row 0 of ``infer_vectors([doc_words])`` (and the
        document's row in any batch): its random draws come from the seed and
        the document's in-vocabulary words. Unknown words are ignored; a
        document with no known word raises ValueError (``infer_vectors`` gives
        it a zero row and a mask instead).
        """
        if isinstance(doc_words, (str, bytes)):
            raise TypeError("doc_words must be a list of tokens (for example text.split())")
        vectors, known = self.infer_vectors([doc_words], epochs=epochs, alpha=alpha,
                                            workers=1, seed=seed, return_mask=True)
        if not known[0]:
            raise ValueError("cannot infer a vector: none of the document's words is "
                             "in the vocabulary")
        return vectors[0]

    def infer_vectors(self, docs, epochs: Optional[int] = None, alpha: Optional[float] = None,
                      workers: Optional[int] = None, seed: Optional[int] = None,
                      return_mask: bool = False):
        """Unit vectors for a batch of unseen documents, in one parallel kernel call.

        docs        an iterable of token lists (or TaggedDocument-likes: their
                    `words` are used)
        epochs      passes over each document (default: the model's epochs)
        alpha       starting learning rate (default: the model's alpha); it
                    decays linearly within each document to alpha*min_alpha/alpha
        workers     threads (default: the model's workers)
        seed        default: the model's seed
        return_mask also return a bool array, True where the document had at
                    least one vocabulary word

        Returns a float32 array (n_docs x vector_size): row i is document i's
        unit vector, or all zeros when none of its words is in the vocabulary
        (those rows are False in the mask). A row depends only on the model,
        the document's words and the seed, not on the other documents, their
        order or the number of workers; ``infer_vector(doc)`` equals it bit for bit.
        """
        self._require_vocab("infer_vectors")
        epochs = self.inference_epochs if epochs is None else _positive_int("epochs", epochs)
        alpha = self.alpha if alpha is None else _positive_float("alpha", alpha)
        workers = self.workers if workers is None else _positive_int("workers", workers)
        if seed is None:
            seed = self.seed
        elif isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        if isinstance(docs, (str, bytes)):
            raise TypeError("docs must be an iterable of token lists, not a string")
        key_to_index = self.vocab.key_to_index
        if workers == 1:
            tokens, offsets = encode_documents(docs, key_to_index)
            return self._infer_encoded(tokens, offsets, epochs, alpha, 1, int(seed),
                                       return_mask)
        # With several workers, encoding (Python, one thread) would leave the
        # kernel's threads idle: the caller encodes the next INFER_CHUNK_DOCS
        # documents while the kernel (GIL released) fits the current ones.
        # Rows depend on each document alone, so chunking changes no value.
        from concurrent.futures import ThreadPoolExecutor
        parts, pending, start = [], None, 0
        chunks = iter(lambda it=iter(docs): list(itertools.islice(it, INFER_CHUNK_DOCS)), [])
        with ThreadPoolExecutor(max_workers=1) as kernel:
            for chunk in chunks:
                tokens, offsets = encode_documents(chunk, key_to_index, first=start)
                start += len(chunk)
                if pending is not None:
                    parts.append(pending.result())
                pending = kernel.submit(self._infer_encoded, tokens, offsets, epochs, alpha,
                                        workers, int(seed), True)
            if pending is not None:
                parts.append(pending.result())
        if not parts:                             # no documents: an empty batch
            parts.append(self._infer_encoded(*encode_documents([], key_to_index), epochs,
                                             alpha, workers, int(seed), True))
        out = parts[0][0] if len(parts) == 1 else np.concatenate([p[0] for p in parts])
        if return_mask:
            return out, np.concatenate([p[1] for p in parts])
        return out

    def _infer_encoded(self, tokens, offsets, epochs, alpha, workers, seed, return_mask):
        """The kernel call behind infer_vectors, for already encoded documents."""
        keep, thresh, alias = self._get_samplers()
        n_threads = workers if _core.openmp_enabled() else 1
        out = np.empty((len(offsets) - 1, self.vector_size), dtype=np.float32)
        # both objectives: the word-document hinge (see "Inference" in _core.pyx)
        _core.infer_documents(self.wv.vectors, out, tokens, offsets, keep, thresh, alias,
                              self.negative, self.margin, self.update_rule, alpha,
                              min(self.min_alpha / self.alpha, 1.0), epochs,
                              seed & 0xFFFFFFFFFFFFFFFF, n_threads,
                              shift=self._get_infer_shift())
        if return_mask:
            return out, np.diff(offsets) > 0
        return out

    def add_documents(self, docs, tags=None, epochs: Optional[int] = None,
                      alpha: Optional[float] = None, workers: Optional[int] = None):
        """Add vectors for new documents, fitted against the frozen word vectors.

        It is `infer_vectors` (the same kernel: only the word-document hinge,
        moving only the new rows of D) with the results appended to `dv`
        under their tags, so `save` keeps them. Word and context vectors do
        not change.

        docs    token lists or TaggedDocument(words, [tag]) (one tag each)
        tags    one tag (int or str) per document; default: the documents'
                own tags, or for plain token lists len(dv), len(dv) + 1, ...
        Tags must be new: one already in `dv` (or given twice) is a
        ValueError naming it, raised before anything changes. A document
        with no vocabulary word gets a random unit vector, as in training
        (a line with no known word keeps its random start).

        Returns the boolean mask of documents that had a vocabulary word.
        """
        self._require_vocab("add_documents")
        docs = list(docs)
        new_tags = _new_document_tags(docs, tags, self.dv)
        vectors, known = self.infer_vectors(docs, epochs=epochs, alpha=alpha,
                                            workers=workers, return_mask=True)
        if not known.all():
            rng = np.random.default_rng([self.seed, len(self.dv), len(docs)])
            vectors[~known] = random_unit_vectors(rng, int((~known).sum()), self.vector_size)
        self.dv = KeyedVectors(self.dv.index_to_key + new_tags,
                               np.concatenate([self.dv.vectors, vectors]))
        return known

    # -- persistence -----------------------------------------------------------

    def params(self) -> dict:
        """The constructor's parameters, as saved (margin, epochs and sample
        "auto" until the corpus has chosen them; sample is chosen as soon as
        there is a vocabulary)."""
        self._choose_sample()
        params = {k: getattr(self, k) for k in (
            "vector_size", "window", "negative", "margin", "alpha", "min_alpha",
            "sample", "min_count", "epochs", "workers", "seed", "update_rule", "shuffle",
            "objective", "max_vocab_size", "max_final_vocab")}
        for key in ("margin", "epochs", "sample"):
            if params[key] is None:
                params[key] = "auto"
        return params

    def save(self, path) -> None:
        """Save to directory `path` (.npy arrays, doc_tags.json, model.json),
        atomically."""
        from .persistence import save_model
        save_model(self, path)

    @classmethod
    def load(cls, path, mmap: Optional[str] = None, verify: bool = True,
             inference_only: bool = False) -> "JoSE":
        """Load a saved model; mmap="r" maps the arrays read-only. Every file
        is checked against the sizes and checksums in model.json; a damaged
        one raises ValueError naming it. verify=False skips the checksums (for
        arrays changed in place through mmap="r+").

        inference_only=True reads only what inference needs -- the parameters,
        the words, their counts and the word vectors (and the context vectors
        for the joint objective) -- not the document tags (doc_tags.json is
        not opened) nor the document vectors: `dv` (and `cv` under the
        separate objective) then raise a RuntimeError when used, and so do
        train, save and add_documents.
        """
        from .persistence import load_model
        return load_model(cls, path, mmap=mmap, verify=verify, inference_only=inference_only)

    def __repr__(self):
        shape = "untrained" if self.vocab is None else (
            f"{len(self.wv)} words, {len(self.dv)} documents"
            if isinstance(self.dv, KeyedVectors) else f"{len(self.wv)} words, inference only")
        def auto(value):     # a setting still "auto" until a corpus chooses it
            return "'auto'" if value is None else f"{value:g}"
        return (f"JoSE({shape}, vector_size={self.vector_size}, window={self.window}, "
                f"negative={self.negative}, margin={auto(self.margin)}, "
                f"epochs={auto(self.epochs)}, sample={auto(self.sample)}, "
                f"objective={self.objective!r}, update_rule={self.update_rule!r})")


def random_unit_vectors(rng: np.random.Generator, n: int, dim: int,
                        chunk: int = 1 << 14) -> np.ndarray:
    """n directions, uniform on the sphere (normalised Gaussians), float32.

    Made `chunk` rows at a time, so a table of millions of documents needs no
    full-size temporaries.
    """
    out = np.empty((n, dim), dtype=np.float32)
    for start in range(0, n, chunk):
        _fill_unit_rows(rng, out[start:start + chunk])
    return out


def _fill_unit_rows(rng: np.random.Generator, x: np.ndarray) -> None:
    """Fill the rows of x (float32, C-contiguous) with uniform directions."""
    rng.standard_normal(x.shape, dtype=np.float32, out=x)
    x /= np.linalg.norm(x, axis=1, keepdims=True)


def seeded_unit_vectors(seed: np.random.SeedSequence, n: int, dim: int, workers: int = 1,
                        chunk: int = 1 << 14) -> np.ndarray:
    """n directions, uniform on the sphere (normalised Gaussians), float32.

    Block k of `chunk` rows is drawn from the k-th child of `seed` (what
    seed.spawn would give first, without changing `seed`), its own stream:
    `workers` threads draw blocks side by side (numpy's generators release
    the GIL) and the result is the same for any number.
    """
    out = np.empty((n, dim), dtype=np.float32)

    def fill(k):
        child = np.random.SeedSequence(seed.entropy, spawn_key=(*seed.spawn_key, k),
                                       pool_size=seed.pool_size)
        _fill_unit_rows(np.random.default_rng(child), out[k * chunk:(k + 1) * chunk])
    for _ in ordered_map(fill, range(-(-n // chunk)), workers):
        pass
    return out


def _mean(stats, hinge) -> float:
    """Mean loss of one hinge ("word", "doc" or "joint") over its steps."""
    count = stats[f"{hinge}_pairs" if hinge != "joint" else "joint_tuples"]
    return float(stats[f"{hinge}_loss"] / max(count, 1))


def encode_documents(docs, key_to_index: dict, first: int = 0):
    """(tokens int32, offsets int64) of a batch of documents, unknown words dropped.

    docs is an iterable of token lists (or objects with a `words` list). A
    string instead of a token list, or a token that is not a string, is a
    TypeError naming the document (counting from `first`).
    """
    if isinstance(docs, (str, bytes)):
        raise TypeError("docs must be an iterable of token lists, not a string")
    lists = []
    for i, doc in enumerate(docs, start=first):
        words = doc.words if hasattr(doc, "words") and hasattr(doc, "tags") else doc
        if isinstance(words, (str, bytes)):
            raise TypeError(f"document {i} is a string; pass a list of tokens "
                            f"(for example text.split())")
        if not isinstance(words, list):
            try:
                words = list(words)
            except TypeError:
                raise TypeError(f"document {i} is not a list of tokens: "
                                f"{type(words).__name__}") from None
        lists.append(words)
    lengths = np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))
    flat = list(itertools.chain.from_iterable(lists))
    try:
        ids = np.fromiter(map(key_to_index.get, flat, itertools.repeat(-1)), dtype=np.int64,
                          count=len(flat))
    except TypeError:                 # an unhashable token
        ids = None
    unknown = np.flatnonzero(ids < 0) if ids is not None else range(len(flat))
    for t in unknown:
        if not isinstance(flat[t], str):
            doc = first + int(np.searchsorted(np.cumsum(lengths), t, side="right"))
            raise TypeError(f"document {doc}: tokens must be strings, found {flat[t]!r} "
                            f"({type(flat[t]).__name__})")
    kept = ids >= 0
    cum = np.concatenate([[0], np.cumsum(kept, dtype=np.int64)])
    offsets = cum[np.concatenate([[0], np.cumsum(lengths)])]
    return np.ascontiguousarray(ids[kept], dtype=np.int32), np.ascontiguousarray(offsets)


def _new_document_tags(docs, tags, dv) -> list:
    """The tags add_documents gives `docs`, checked to be new and distinct."""
    from .corpus import _tag_key
    if tags is not None:
        if isinstance(tags, (str, bytes)):
            raise ValueError("tags must be a list with one tag per document, not a string")
        tags = list(tags)
        if len(tags) != len(docs):
            raise ValueError(f"tags has {len(tags)} entries for {len(docs)} documents")
    else:
        tags = []
        for i, doc in enumerate(docs):
            if hasattr(doc, "words") and hasattr(doc, "tags"):
                own = doc.tags
                if isinstance(own, (str, int, np.integer)) and not isinstance(own, bool):
                    own = [own]
                if own is None or len(own) != 1:
                    raise ValueError(f"document {i} has tags {own!r}: add_documents needs "
                                     f"exactly one tag per document")
                tags.append(own[0])
            else:
                tags.append(len(dv) + i)
    out, seen = [], set()
    for tag in tags:
        try:
            key = _tag_key(tag)
        except TypeError as e:
            raise ValueError(f"tags: {e}") from None
        if key in dv.key_to_index:
            raise ValueError(f"document tag {key!r} is already in the model; "
                             f"add_documents takes new tags only")
        if key in seen:
            raise ValueError(f"document tag {key!r} is given twice")
        seen.add(key)
        out.append(key)
    return out


def _add_stats(stats: dict, carried: Optional[dict]) -> dict:
    """Loss sums of this part of an epoch plus those saved before a resume."""
    if not carried:
        return stats
    return {k: v + type(v)(carried.get(k, 0)) for k, v in stats.items()}


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
