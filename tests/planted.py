"""A planted-topic corpus for model tests (test helper, not shipped).

`n_topics` topics with disjoint vocabularies; every document draws all of its
tokens uniformly from one topic's words, so a good embedding separates the
topics perfectly.
"""
import numpy as np


def topic_words(n_topics=4, words_per_topic=30):
    return [[f"t{t}w{i}" for i in range(words_per_topic)] for t in range(n_topics)]


def planted_corpus(seed=0, n_topics=4, words_per_topic=30, docs_per_topic=40, doc_len=40):
    """(documents as token lists, topic label per document, words per topic)."""
    rng = np.random.default_rng(seed)
    vocab = topic_words(n_topics, words_per_topic)
    docs, labels = [], []
    for t in range(n_topics):
        for _ in range(docs_per_topic):
            docs.append([str(w) for w in rng.choice(vocab[t], size=doc_len)])
            labels.append(t)
    order = rng.permutation(len(docs))
    return [docs[i] for i in order], np.array(labels)[order], vocab


def fresh_document(rng, vocab, topic, length=40):
    return [str(w) for w in rng.choice(vocab[topic], size=length)]


def saved_planted_model(directory):
    """A small model trained on the planted corpus, saved to directory/model;
    returns that path (for tests of tools that read saved models)."""
    from jose import JoSE
    docs, _, _ = planted_corpus(seed=0)
    model = JoSE(docs, vector_size=16, min_count=1, epochs=5, workers=1, sample=0.0,
                 seed=3, margin=0.5).train()
    path = directory / "model"
    model.save(path)
    return path
