"""Pictures: the training curve of a model and a 2-D map of document vectors.

Needs matplotlib (pip install "jose-embeddings[plot]"), imported when a
function is first called. Each function draws on `ax` when given one and
otherwise on a new figure, and returns the Axes (its `.figure` saves with
`savefig`). Without an `ax`, a figure is made through pyplot only when the
caller already uses pyplot (a notebook, a script that imported it);
otherwise it is a bare matplotlib Figure, which needs no display and leaves
matplotlib's backend alone, so headless processes are safe.
"""
from __future__ import annotations

import sys

import numpy as np

PROJECTIONS = ("pca", "tsne")
#: Up to this many distinct labels get a colour each and a legend entry.
MAX_LEGEND = 20


def training_curve(model, ax=None):
    """Both hinges per epoch, from `model.training_loss` (or that list itself)."""
    history = getattr(model, "training_loss", model)
    if not isinstance(history, (list, tuple)):
        raise TypeError(f"training_curve takes a JoSE model or its training_loss list, got "
                        f"{type(model).__name__}")
    if not history:
        raise ValueError("nothing to plot: the model has not been trained "
                         "(training_loss is empty)")
    ax = _axes(ax, figsize=(5, 3.2))
    epochs = [entry["epoch"] for entry in history]
    ax.plot(epochs, [entry["word_loss"] for entry in history], marker="o", ms=3,
            label="word-context hinge")
    ax.plot(epochs, [entry["doc_loss"] for entry in history], marker="s", ms=3,
            label="word-document hinge")
    from matplotlib.ticker import MaxNLocator
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("mean hinge loss")
    ax.set_title("training loss")
    ax.legend(fontsize=8)
    ax.figure.tight_layout()
    return ax


def document_map(dv_or_array, labels=None, ax=None, method: str = "pca",
                 title: str | None = None, random_state: int = 0):
    """Document vectors projected to 2-D, one dot each, coloured by label.

    dv_or_array   a KeyedVectors (model.dv, or gensim's) or an (n, dim) array
                  (with dim <= 2: coordinates already projected, see `project`)
    labels        n labels (ints or strings), or None for one colour
    method        "pca" (scikit-learn's PCA) or "tsne" (its TSNE; slower)
    """
    vectors = np.asarray(getattr(dv_or_array, "vectors", dv_or_array), dtype=np.float64)
    if vectors.ndim != 2:
        raise ValueError(f"document_map needs an (n, dim) array of vectors, got shape "
                         f"{vectors.shape}")
    if len(vectors) < 2:
        raise ValueError(f"document_map needs at least 2 vectors, got {len(vectors)}")
    if labels is not None:
        labels = np.asarray(labels)
        if labels.shape != (len(vectors),):
            raise ValueError(f"{labels.size} labels for {len(vectors)} vectors")
    if method not in PROJECTIONS:
        raise ValueError(f"method must be one of {PROJECTIONS}, got {method!r}")
    ax = _axes(ax, figsize=(5.5, 4.5))
    points = project(vectors, method, random_state)
    size = float(np.clip(3000 / len(points), 3, 30))      # smaller dots for more documents
    if labels is None:
        ax.scatter(points[:, 0], points[:, 1], s=size, alpha=0.7, linewidths=0)
    else:
        _scatter_by_label(ax, points, labels, size)
    ax.set_title(title or f"documents ({method.upper() if method == 'pca' else 't-SNE'})")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.figure.tight_layout()
    return ax


def project(vectors, method: str = "pca", random_state: int = 0) -> np.ndarray:
    """(n, 2) coordinates of the rows of `vectors`; rows of at most two
    dimensions are returned as they are (padded), so a projection made once
    can be drawn several times."""
    vectors = np.asarray(vectors, dtype=np.float64)
    if vectors.shape[1] <= 2:
        return np.pad(vectors, ((0, 0), (0, 2 - vectors.shape[1])))
    if method == "pca":
        from sklearn.decomposition import PCA
        return PCA(n_components=2, random_state=random_state).fit_transform(vectors)
    from sklearn.manifold import TSNE
    perplexity = min(30.0, (len(vectors) - 1) / 3)
    return TSNE(n_components=2, perplexity=perplexity, init="pca",
                random_state=random_state).fit_transform(vectors)


def _scatter_by_label(ax, points, labels, size):
    classes = np.unique(labels)
    if len(classes) > MAX_LEGEND:
        codes = np.searchsorted(classes, labels)
        ax.scatter(points[:, 0], points[:, 1], c=codes, cmap="viridis", s=size, alpha=0.7,
                   linewidths=0)
        return
    colours = require_matplotlib().colormaps["tab20" if len(classes) > 10 else "tab10"]
    for i, label in enumerate(classes):
        mine = labels == label
        ax.scatter(points[mine, 0], points[mine, 1], s=size, alpha=0.7, linewidths=0,
                   color=colours(i), label=str(label))
    ax.legend(fontsize=6, markerscale=max(1.0, 12 / size), loc="best",
              ncol=2 if len(classes) > 10 else 1)


def _axes(ax, figsize):
    if ax is not None:
        return ax
    require_matplotlib()
    if "matplotlib.pyplot" in sys.modules:
        return sys.modules["matplotlib.pyplot"].subplots(figsize=figsize)[1]
    from matplotlib.figure import Figure
    return Figure(figsize=figsize).subplots()


def require_matplotlib():
    try:
        import matplotlib
    except ImportError as e:
        raise ImportError('jose.plot needs matplotlib, an optional dependency: '
                          'pip install "jose-embeddings[plot]"') from e
    return matplotlib
