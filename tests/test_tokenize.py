"""The compiled --tokenize against a Python reference of its rule, and against
the Python tokeniser it replaced where the two rules agree."""
import collections
import importlib.util
import os
import re
import unicodedata

import pytest

from jose import _text
from jose.textcorpus import count_corpus, encode_corpus

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import assume, example, given, strategies as st  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# --- the rule, in Python ------------------------------------------------------

def is_word(ch: str) -> bool:
    return ch != "_" and (ch.isalnum() or unicodedata.category(ch) in ("Mn", "Mc", "Me"))


def lower(ch: str) -> str:
    return ch.lower()[0]


def reference_docs(data: bytes):
    """Documents as lists of tokens under the documented --tokenize rule."""
    text = data.decode("utf-8", "replace")
    if not text:
        return []
    lines = text.split("\n")
    if text.endswith("\n"):
        lines.pop()
    docs = []
    for line in lines:
        tokens, current = [], []
        for ch in line:
            if is_word(ch):
                current.append(lower(ch))
            elif current:
                tokens.append("".join(current))
                current = []
        if current:
            tokens.append("".join(current))
        docs.append(tokens)
    return docs


def old_python_docs(data: bytes):
    """The tokeniser jose-train had before (textcorpus._simple_tokenize)."""
    text = unicodedata.normalize("NFC", data.decode("utf-8", "replace").lower())
    text = re.sub(r"[^\w\n]+", " ", text.replace("_", " "))
    lines = text.split("\n")
    if text.endswith("\n"):
        lines.pop()
    return [line.split() for line in lines] if text else []


def compiled_docs(data: bytes, chunk_sizes=(1 << 20,)):
    """Documents from the compiled scanner (an Encoder keyed by the reference's words)."""
    words = sorted({t for doc in reference_docs(data) for t in doc})
    index = {w: i for i, w in enumerate(words)}
    results = []
    for size in chunk_sizes:
        counter = _text.Counter(tokenize=True)
        encoder = _text.Encoder(index, tokenize=True)
        ids, ends = [], []
        for start in range(0, len(data), size):
            counter.feed(data[start:start + size])
            encoder.feed(data[start:start + size])
        counter.finish()
        encoder.finish()
        raw_ids, raw_ends = encoder.take()
        import numpy as np
        ids = np.frombuffer(raw_ids, dtype=np.int32).tolist()
        ends = [0] + np.frombuffer(raw_ends, dtype=np.int64).tolist()
        docs = [[words[i] for i in ids[a:b]] for a, b in zip(ends, ends[1:])]
        found, counts, valid = counter.export()
        results.append((docs, dict(zip(found, counts.tolist())), bool(valid.all()),
                        counter.n_docs, counter.n_tokens))
    return results


def check_against_reference(data: bytes, chunk_sizes=(1, 2, 3, 5, 1 << 20)):
    docs = reference_docs(data)
    counts = collections.Counter(t for doc in docs for t in doc)
    for got_docs, got_counts, all_valid, n_docs, n_tokens in compiled_docs(data, chunk_sizes):
        assert got_docs == docs
        assert got_counts == dict(counts)
        assert all_valid
        assert (n_docs, n_tokens) == (len(docs), sum(counts.values()))


# --- examples -------------------------------------------------------------------

EXAMPLES = [
    "Café-au-lait, CAFE\u0301!\n\nHELLO_world: it's 42\tx²\r\nend",
    "Straße ÜBER Öl; ΑΘΗΝΑ Σοφία ΟΔΟΣ",
    "Москва МОСКВА москва. Київ",
    "東京都 北京市、漢字かなカナ。한국어 텍스트",
    "हिन्दी भाषा", "İstanbul ǅemal Ⅻ ①②",
    "emoji 😀 stays out; a\u00a0b\u2028c\u0085d\u3000e",
    "tab\there\x00nul\x1fus",
]


@pytest.mark.parametrize("text", EXAMPLES)
def test_examples_match_reference(text):
    check_against_reference(text.encode("utf-8"))


def test_documented_rule_on_examples():
    docs = reference_docs("Straße ÜBER Öl; Σοφία\nİstanbul हिन्दी x_y 😀z".encode())
    assert docs == [["straße", "über", "öl", "σοφία"],
                    ["istanbul", "हिन्दी", "x", "y", "z"]]
    # combining marks stay in the word, and text is not normalised:
    assert reference_docs("cafe\u0301 café".encode()) == [["cafe\u0301", "café"]]


def test_invalid_bytes_separate_and_never_merge():
    data = b"Ab\xffCD ab\xc3\nx\xe2\x82y\xed\xa0\x80z\xf0\x9f\x98"
    check_against_reference(data)
    assert reference_docs(data) == [["ab", "cd", "ab"], ["x", "y", "z"]]


def test_sequence_cut_by_every_chunk_boundary():
    data = "é€😀ß" * 3 + "\n" + "Ω" * 5
    check_against_reference(data.encode(), chunk_sizes=range(1, 9))


def test_count_and_encode_files(tmp_path):
    path = tmp_path / "c.txt"
    path.write_bytes("Der Straße STRASSE\nstraße, Öl!".encode())
    c = count_corpus(path, tokenize=True, chunk_size=3)
    assert dict(zip(c.words, c.counts.tolist())) == {"der": 1, "straße": 2, "strasse": 1,
                                                     "öl": 1}
    assert (c.n_docs, c.n_tokens, c.n_invalid_utf8) == (2, 5, 0)
    corpus = encode_corpus(path, {"straße": 0, "öl": 1}, tmp_path, tokenize=True, chunk_size=2)
    assert corpus.read_range(0, 2).tokens.tolist() == [0, 0, 1]


def test_tables_match_this_pythons_unicode():
    if unicodedata.unidata_version != _text.UNICODE_VERSION:
        pytest.skip(f"tables are for Unicode {_text.UNICODE_VERSION}, this Python has "
                    f"{unicodedata.unidata_version}")
    spec = importlib.util.spec_from_file_location(
        "make_unicode_tables", os.path.join(ROOT, "tools", "make_unicode_tables.py"))
    if spec is None or not os.path.exists(spec.origin):
        pytest.skip("tools/make_unicode_tables.py is not in this tree")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    header = open(os.path.join(ROOT, "jose", "_unicode_tables.h"), encoding="ascii").read()
    ranges, runs = gen.word_ranges(), gen.lower_runs()
    for a, b in ranges:
        assert f"{{0x{a:X}, 0x{b:X}}}," in header
    for a, b, step, delta in runs:
        assert f"{{0x{a:X}, 0x{b:X}, {step}, {delta}}}," in header
    assert f"JOSE_N_WORD_RANGES {len(ranges)}" in header
    assert f"JOSE_N_LOWER_RUNS {len(runs)}" in header


def test_every_code_point_classified_as_the_reference():
    """One token per code point, each on its own line: the whole table at once."""
    chars = [chr(c) for c in range(0x80, 0x110000) if not 0xD800 <= c < 0xE000]
    # each character between two ASCII letters: a word character joins them
    data = "\n".join("a" + ch + "b" for ch in chars).encode("utf-8")
    counter = _text.Counter(tokenize=True)
    counter.feed(data)
    counter.finish()
    words, counts, _ = counter.export()
    got = dict(zip(words, counts.tolist()))
    expected = collections.Counter("a" + lower(ch) + "b" for ch in chars if is_word(ch))
    n_separators = sum(not is_word(ch) for ch in chars)
    expected.update({"a": n_separators, "b": n_separators})
    assert counter.n_docs == len(chars)
    bad = sorted(set(got.items()) ^ set(expected.items()))
    assert not bad[:10]


# --- properties -------------------------------------------------------------------

ALPHABET = st.characters(codec="utf-8")
TEXT = st.text(alphabet=st.one_of(ALPHABET, st.sampled_from(list(" \t\r\n_-.,'"))),
               max_size=60)


@given(st.binary(max_size=200))
@example(b"\xe2\x82")
@example(b"a\r\n\x00\n")
def test_arbitrary_bytes_match_reference(data):
    check_against_reference(data)


@given(TEXT)
def test_arbitrary_text_matches_reference(text):
    check_against_reference(text.encode("utf-8"))


@given(TEXT)
def test_agrees_with_the_old_python_tokeniser_where_the_rules_agree(text):
    # The rules differ on: combining marks (kept here, separators before),
    # unnormalised text (the old one applied NFC), final sigma and U+0130
    # (str.lower's context and multi-character mappings).
    assume(unicodedata.is_normalized("NFC", text))
    assume(not any(unicodedata.category(ch).startswith("M") for ch in text))
    lowered = text.lower()
    assume(len(lowered) == len(text) and unicodedata.is_normalized("NFC", lowered))
    assume("Σ" not in text)
    data = text.encode("utf-8")
    assert reference_docs(data) == old_python_docs(data)
    assert compiled_docs(data)[0][0] == old_python_docs(data)


@given(st.binary(max_size=120))
def test_text_corpus_tokenizes_like_the_scanner(tmp_path_factory, data):
    from jose import TextCorpus
    assume(data)
    path = tmp_path_factory.mktemp("t") / "c.txt"
    path.write_bytes(data)
    assert list(TextCorpus(path, tokenize=True, chunk_size=7)) == reference_docs(data)
