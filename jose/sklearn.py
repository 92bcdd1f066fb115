"""scikit-learn integration: `JoSEVectorizer`, texts -> JoSE document vectors.

    from sklearn.pipeline import make_pipeline
    from sklearn.linear_model import LogisticRegression
    from jose.sklearn import JoSEVectorizer

    clf = make_pipeline(JoSEVectorizer(vector_size=100, epochs=10), LogisticRegression())
    clf.fit(train_texts, train_labels).score(test_texts, test_labels)

`fit` trains a JoSE model on the documents, `fit_transform` returns their
trained vectors, `transform` infers vectors for (new) documents with the
batch inference kernel. Works in Pipeline, GridSearchCV and clone.
"""
from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .inference import as_documents, tokenize_text

_MODEL_PARAMS = ("vector_size", "window", "negative", "margin", "alpha", "min_alpha",
                 "sample", "min_count", "epochs", "workers", "seed", "update_rule", "shuffle",
                 "objective")


class JoSEVectorizer(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Texts (or token lists) to JoSE document vectors (unit rows, float32).

    Parameters are JoSE's (see jose.JoSE), with sklearn-friendly defaults
    (min_count=1 and workers=1, so a seed repeats results bit for bit), plus:

    infer_epochs  epochs of inference in `transform` (None: `epochs`)
    tokenizer     a callable str -> list of tokens applied to string inputs;
                  None (default) is `jose.inference.tokenize_text`: lower-case,
                  split on non-alphanumerics, Unicode letters and digits kept.
                  Token lists are used as they are.

    fit(X)            trains the model on X; `model_` is the fitted jose.JoSE
    fit_transform(X)  the trained document vectors of X (one row per document,
                      in order; a document with no vocabulary word keeps its
                      random unit vector, as in training)
    transform(X)      vectors inferred for X against the frozen word vectors
                      (`JoSE.infer_vectors`); a document with no vocabulary
                      word gets a zero row
    """

    def __init__(self, vector_size=100, window=5, negative=2, margin="auto", alpha=0.04,
                 min_alpha=None, sample="auto", min_count=1, epochs="auto", workers=1, seed=1,
                 update_rule="paper", shuffle=True, objective="joint", infer_epochs=None,
                 tokenizer=None):
        self.vector_size = vector_size
        self.window = window
        self.negative = negative
        self.margin = margin
        self.alpha = alpha
        self.min_alpha = min_alpha
        self.sample = sample
        self.min_count = min_count
        self.epochs = epochs
        self.workers = workers
        self.seed = seed
        self.update_rule = update_rule
        self.shuffle = shuffle
        self.objective = objective
        self.infer_epochs = infer_epochs
        self.tokenizer = tokenizer

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        tags.requires_fit = True
        return tags

    def _documents(self, X):
        tokenizer = self.tokenizer if self.tokenizer is not None else tokenize_text
        if not callable(tokenizer):
            raise ValueError(f"tokenizer must be a callable taking a string, got {tokenizer!r}")
        return as_documents(X, tokenizer, "X")

    def _fit(self, X):
        from .model import JoSE
        docs = self._documents(X)
        if not docs:
            raise ValueError("X is empty: fit needs at least one document")
        model = JoSE(**{k: getattr(self, k) for k in _MODEL_PARAMS})
        model.build_vocab(docs).train()
        model._corpus = model._encoded = None     # keep the fitted estimator small
        self.model_ = model
        self._n_features_out = model.vector_size
        return model

    def fit(self, X, y=None):
        """Train a JoSE model on the documents X; y is ignored."""
        self._fit(X)
        return self

    def fit_transform(self, X, y=None):
        """Train on X and return its trained document vectors (n_docs x vector_size)."""
        model = self._fit(X)
        return np.array(model.dv.vectors, dtype=np.float32)

    def transform(self, X):
        """Vectors inferred for the documents X (n_docs x vector_size, float32)."""
        check_is_fitted(self, "model_")
        if self.infer_epochs is not None:
            from .model import _positive_int
            _positive_int("infer_epochs", self.infer_epochs)
        return self.model_.infer_vectors(self._documents(X), epochs=self.infer_epochs,
                                         workers=self.workers)
