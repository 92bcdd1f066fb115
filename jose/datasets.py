"""Small real corpora bundled with the package.

``load_demo_corpus()`` returns *news5*: 500 documents (100 each) from five
well-separated newsgroups of the 20 Newsgroups "bydate" collection --
comp.graphics, rec.sport.hockey, sci.med, sci.space, talk.politics.mideast --
86,101 tokens in all, small enough to train on in seconds.

Source: 20news-bydate (Ken Lang's 20 Newsgroups collection, bydate split by
Jason Rennie), as kept in the public GitHub repository YunomiXavia/20news-bydate
(commit 2298b3e1); headers removed like scikit-learn's
``fetch_20newsgroups(remove=('headers',))``, lower-cased, tokens ``[a-z0-9]+``
with an optional inner apostrophe part.

License status: the collection is distributed without an explicit license; it
is widely redistributed for research.  Cite Ken Lang (1995), "NewsWeeder:
Learning to filter netnews", Proc. 12th ICML.  See ``jose/data/README.md`` for
the exact selection rule; ``benchmarks/make_demo_corpus.py`` regenerates it.
"""
from __future__ import annotations

import gzip
import pathlib
from importlib.resources import as_file, files
from typing import List, NamedTuple

__all__ = ["DemoCorpus", "load_demo_corpus", "demo_corpus_path", "DEMO_TEXT", "DEMO_LABELS"]

DEMO_TEXT = "news5.txt.gz"
DEMO_LABELS = "news5.labels.txt"


class DemoCorpus(NamedTuple):
    """The bundled demo corpus.

    documents: one token list per document (order as in the file).
    labels: the newsgroup name of each document, aligned with ``documents``.
    label_names: the sorted unique newsgroup names.
    path: filesystem path of the ``.txt.gz`` corpus file (one document per
        line, tokens separated by single spaces), e.g. to pass to the CLI.
    """

    documents: List[List[str]]
    labels: List[str]
    label_names: List[str]
    path: str


def _resource(name: str):
    # chained single-argument joinpath: multi-argument joinpath needs Python 3.11+
    return files("jose").joinpath("data").joinpath(name)


def demo_corpus_path() -> str:
    """Filesystem path of ``news5.txt.gz``.

    For a normal (directory) install this is the file inside the package; if the
    package is imported from a zip, ``as_file`` extracts a temporary copy that
    lives for the rest of the process.
    """
    res = _resource(DEMO_TEXT)
    if isinstance(res, pathlib.Path) and res.is_file():  # regular installs / source tree
        return str(res)
    ctx = as_file(res)
    path = ctx.__enter__()  # keep the extracted copy alive (zip imports only)
    _KEEP.append(ctx)
    return str(path)


_KEEP: list = []


def load_demo_corpus() -> DemoCorpus:
    """Load *news5*, 500 documents from 5 newsgroups of 20 Newsgroups (bydate).

    Source: Ken Lang's 20 Newsgroups collection (bydate split by Jason Rennie),
    via the GitHub repository YunomiXavia/20news-bydate (commit 2298b3e1),
    headers removed, lower-cased and tokenised. Distributed without an explicit
    license (widely redistributed for research); cite Lang (1995),
    "NewsWeeder: Learning to filter netnews".
    """
    with _resource(DEMO_TEXT).open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as f:
        lines = f.read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    documents = [line.split(" ") if line else [] for line in lines]
    labels = _resource(DEMO_LABELS).read_text(encoding="utf-8").splitlines()
    if len(labels) != len(documents):
        raise ValueError(
            f"corrupt demo corpus: {len(documents)} documents but {len(labels)} labels"
        )
    return DemoCorpus(documents, labels, sorted(set(labels)), demo_corpus_path())
