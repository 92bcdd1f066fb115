import gzip
import os
import re

from jose.datasets import DemoCorpus, load_demo_corpus

TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z0-9]+)?")

EXPECTED_CLASSES = [
    "comp.graphics",
    "rec.sport.hockey",
    "sci.med",
    "sci.space",
    "talk.politics.mideast",
]


def test_demo_corpus_loads():
    c = load_demo_corpus()
    assert isinstance(c, DemoCorpus)
    assert len(c.documents) == len(c.labels) == 500
    assert c.label_names == EXPECTED_CLASSES
    assert sorted(set(c.labels)) == c.label_names
    for name in c.label_names:
        assert c.labels.count(name) == 100


def test_demo_corpus_documents_and_tokens():
    c = load_demo_corpus()
    total = 0
    for doc in c.documents:
        assert 50 <= len(doc) <= 400
        for tok in doc:
            assert TOKEN.fullmatch(tok), tok
        total += len(doc)
    assert total <= 120_000


def test_demo_corpus_path_matches_files():
    c = load_demo_corpus()
    assert os.path.isfile(c.path) and c.path.endswith("news5.txt.gz")
    with gzip.open(c.path, "rt", encoding="utf-8") as f:
        lines = f.read().splitlines()
    assert [line.split(" ") for line in lines] == c.documents
    labels_file = os.path.join(os.path.dirname(c.path), "news5.labels.txt")
    with open(labels_file, encoding="utf-8") as f:
        assert f.read().splitlines() == c.labels
