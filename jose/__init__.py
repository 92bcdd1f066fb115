"""jose: JoSE spherical text embeddings (Meng et al., NeurIPS 2019).

Word, context and document vectors on the unit sphere, trained by Riemannian
SGD in a multi-threaded Cython core, behind a gensim-style API::

    from jose import JoSE, TaggedDocument
    model = JoSE(corpus, vector_size=100, epochs=20).train()
    model.wv.most_similar("space")
"""
try:
    from . import _core  # noqa: F401
except ImportError as e:  # pragma: no cover - depends on the build
    raise ImportError(
        "jose's compiled core (jose._core) is missing or broken: install the package "
        "with `pip install .` (or build in place with `python setup.py build_ext "
        f"--inplace`) before importing it. Original error: {e}") from e

from .corpus import TaggedDocument
from .keyedvectors import KeyedVectors
from .model import JoSE, TrainingProgress
from .textcorpus import TextCorpus

#: gensim's name for a file read as one token list per line.
LineSentence = TextCorpus

__version__ = "0.2.0"
__all__ = ["JoSE", "TaggedDocument", "KeyedVectors", "TrainingProgress", "TextCorpus",
           "LineSentence", "__version__"]
